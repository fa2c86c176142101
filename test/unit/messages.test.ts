/** Error messages say what the user gave, in the user's terms: types by name, durations in ms, causes first. */
import { nanos } from "@nats-io/nats-core";
import { describe, expect, it } from "vitest";
import { checkServerUrl } from "../../src/client/connect-options.js";
import { showValue, typeName, validateHandler, validateLimits, validatePayload } from "../../src/config/index.js";
import { lastLines, startFailure } from "../../src/devserver/server-log.js";
import { InvalidArgumentError } from "../../src/errors/index.js";
import { incompatibilities, type StreamSettings, streamConfig } from "../../src/jetstream/stream-config.js";

describe("values in messages", () => {
  it("name a value's type, never [object ...]", () => {
    expect(typeName("x")).toBe("a string");
    expect(typeName(new String("x"))).toBe("a String");
    expect(typeName({})).toBe("an object");
    expect(typeName(Object.create(null))).toBe("an object");
    expect(typeName([])).toBe("an array");
    expect(typeName(null)).toBe("null");
    expect(typeName(undefined)).toBe("undefined");
    expect(typeName(1)).toBe("a number");
    expect(typeName(Promise.resolve())).toBe("a Promise");
    expect(typeName(new ArrayBuffer(1))).toBe("an ArrayBuffer");
    expect(typeName(new Uint8Array(1))).toBe("a Uint8Array");
    expect(typeName(() => {})).toBe("a function");
    expect(showValue("short")).toBe('"short"');
    expect(showValue(0.5)).toBe("0.5");
    expect(showValue(3n)).toBe("3n");
    expect(showValue({ a: 1 })).toBe("an object");
    expect(showValue(new Map())).toBe("a Map");
  });

  it("are what validation failures show", () => {
    expect(() => validatePayload("payload", { length: 3 })).toThrow("payload must be a Uint8Array, got an object");
    expect(() => validatePayload("payload", new String("hi"))).toThrow("got a String");
    expect(() => validateHandler("handler", null, [])).toThrow("got null");
    expect(() => validateHandler("handler", { handleRequest: [] }, ["handleRequest"])).toThrow(
      "handler.handleRequest must be a function, got an array",
    );
    expect(() => validateLimits("limits", { requestThreads: "4" }, { requestThreads: 1 })).toThrow('got "4"');
  });
});

describe("a stream that exists with other settings", () => {
  const settings = (given: Partial<StreamSettings>): StreamSettings => ({
    stream: "S",
    storage: "file",
    replicas: 1,
    maxAge: 86_400_000,
    maxBytes: 64 * 1024 * 1024,
    discard: "old",
    duplicateWindow: 120_000,
    ...given,
    given: new Set(Object.keys(given)),
  });
  const existing = (t: StreamSettings) => ({ ...streamConfig(t, "ns.topic.>") }) as never;

  it("is told in milliseconds and bytes, as the options are given, beside the stream's field", () => {
    const made = existing(settings({ maxAge: 3_600_000, duplicateWindow: 90_500, maxBytes: 0, storage: "memory" }));
    const wanted = settings({ maxAge: 60_000, duplicateWindow: 120_000, maxBytes: 1_048_576, storage: "file" });
    expect(incompatibilities(wanted, "ns.topic.>", made, "topics")).toEqual([
      'topics.storage asks for "file", the stream\'s storage is "memory"',
      "topics.maxAge asks for 60000 ms (1 min), the stream's max_age is 3600000 ms (1 h)",
      "topics.maxBytes asks for 1048576 bytes (1 MiB), the stream's max_bytes is 0 (unlimited)",
      "topics.duplicateWindow asks for 120000 ms (2 min), the stream's duplicate_window is 90500 ms",
    ]);
    expect(JSON.stringify(incompatibilities(wanted, "ns.topic.>", made, "topics"))).not.toContain(
      String(nanos(3_600_000)),
    );
  });

  it("is no difference when the settings match, or were not given", () => {
    const t = settings({ maxAge: 0, maxBytes: 0 });
    expect(incompatibilities(t, "ns.topic.>", existing(t), "tunnels")).toEqual([]);
    const other = existing(settings({ maxAge: 5_000 }));
    expect(incompatibilities(settings({}), "ns.topic.>", other, "tunnels")).toEqual([]);
    expect(incompatibilities(settings({ maxAge: 0 }), "ns.topic.>", other, "tunnels")).toEqual([
      "tunnels.maxAge asks for 0 (forever), the stream's max_age is 5000 ms (5 s)",
    ]);
  });
});

describe("a nats-server that does not start", () => {
  const BANNER = [
    "[1] 2026/01/01 00:00:00.000000 [INF] Starting nats-server",
    "[1] 2026/01/01 00:00:00.000000 [INF]   Version:  2.9.10",
    "[1] 2026/01/01 00:00:00.000000 [INF] ---------------- JETSTREAM ----------------",
  ].join("\n");

  it("is explained by its fatal line, a port in use in a few words", () => {
    const busy = `${BANNER}\n[1] 2026/01/01 00:00:00.000000 [FTL] Error listening on port: 127.0.0.1:4222, "listen tcp 127.0.0.1:4222: bind: address already in use"\n`;
    expect(startFailure(busy)).toBe("port 4222 is already in use");
    const bad = `${BANNER}\n[1] 2026/01/01 00:00:00.000000 [FTL] Could not create storage directory - permission denied\n`;
    expect(startFailure(bad)).toBe("Could not create storage directory - permission denied");
    expect(startFailure(BANNER)).toBeUndefined();
    expect(lastLines(`${BANNER}\n\n`, 2)).toBe(BANNER.split("\n").slice(-2).join("\n"));
  });
});

describe("server URLs", () => {
  const rejected = (url: string): string => {
    try {
      checkServerUrl(url);
    } catch (err) {
      expect(err).toBeInstanceOf(InvalidArgumentError);
      return (err as Error).message;
    }
    throw new Error(`${url} was accepted`);
  };

  it("take nats:// and tls://, or none, with a host and an optional port", () => {
    for (const url of [
      "nats://127.0.0.1:4222",
      "NATS://Example.com:4222",
      "tls://nats.example.com:4443",
      "nats://alice:s3cret@127.0.0.1:4222",
      "nats://127.0.0.1:4222/",
      "127.0.0.1",
      "127.0.0.1:4222",
      "localhost",
      "nats_1:4222",
      "[::1]:4222",
      "nats://[::1]:4222",
      "::1",
      " nats://127.0.0.1:4222 ",
    ]) {
      expect(() => checkServerUrl(url), url).not.toThrow();
    }
  });

  it("refuse anything else, naming the URL and what is wrong, without its credentials", () => {
    expect(rejected("nats:/127.0.0.1:4222")).toBe(
      'options.servers: "nats:/127.0.0.1:4222" is not a server URL: write it nats://host:port (a scheme is followed by two slashes), or host:port',
    );
    expect(rejected("nats:127.0.0.1:4222")).toContain("write it nats://host:port");
    expect(rejected("http://127.0.0.1:4222")).toContain("the scheme must be nats:// or tls://, not http://");
    expect(rejected("ws://127.0.0.1:8080")).toContain("does not speak WebSocket");
    expect(rejected("wss://127.0.0.1:8443")).toContain("fromNats()");
    expect(rejected("nats://:4222")).toContain("it names no host");
    expect(rejected("nats://127.0.0.1:0")).toContain('the port must be 1 to 65535, got "0"');
    expect(rejected("nats://127.0.0.1:65536")).toContain('got "65536"');
    expect(rejected("nats://127.0.0.1:")).toContain('got ""');
    expect(rejected("nats://a b:4222")).toContain('"a b" is not a host name or IP address');
    expect(rejected("nats://h:4222/path")).toContain("no path");
    expect(rejected("nats://a:4222,nats://b:4222")).toContain("a list of URLs");
    const secret = rejected("nats://alice:s3cret@127.0.0.1:99999");
    expect(secret).toContain('"nats://127.0.0.1:99999"');
    expect(secret).not.toContain("s3cret");
  });
});
