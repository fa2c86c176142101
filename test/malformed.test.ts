import { headers } from "@nats-io/nats-core";
import { connect as natsConnect } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import type { Logger } from "../src/index.js";
import { dec, enc, uniqueNamespace, useNats, waitFor } from "./helpers.js";

const nats = useNats();

function recordingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  const noop = () => {};
  return { warnings, debug: noop, info: noop, warn: (_o, msg) => void warnings.push(msg ?? ""), error: noop };
}

describe("malformed messages from the wire", () => {
  it("are logged and answered with an error where possible, and the service keeps running", async () => {
    const ns = uniqueNamespace();
    const logger = recordingLogger();
    const member = await nats.open(ns, { logger });
    const broadcasts: number[][] = [];
    const svc = await member.register("victim", {
      handleRequest: (r) => r,
      handleBroadcast: (msg) => void broadcasts.push([...msg]),
    });
    const raw = await natsConnect({ servers: nats.server().url });
    try {
      // no reply subject: cannot be answered, is logged
      raw.publish(`${ns}.req.victim`, enc("garbage"));
      // a bad deadline header: answered with a BAD_REQUEST error
      const h = headers();
      h.set("Jetmesh-Timeout", "soon");
      const bad = await raw.request(`${ns}.req.victim`, enc("x"), { headers: h, timeout: 2000 });
      expect(bad.headers?.get("Nats-Service-Error")).toMatch(/malformed request/);
      expect(bad.headers?.get("Jetmesh-Error")).toBe("BAD_REQUEST");
      expect(bad.headers?.get("Nats-Service-Error-Code")).toBe("400");
      expect(bad.headers?.get("Jetmesh-Error-Code")).toBe("BAD_REQUEST");
      // garbage on the broadcast subject is just bytes to the handler
      raw.publish(`${ns}.bcast.victim`, new Uint8Array([0xff, 0x00, 0xfe]));
      await raw.flush();
      await waitFor("logged", () => logger.warnings.length >= 2);
      await waitFor("garbage broadcast handled", () => broadcasts.length === 1);
      expect(broadcasts[0]).toEqual([0xff, 0x00, 0xfe]);
      expect(logger.warnings.join("\n")).toMatch(/without a reply subject/);
      expect(svc.stats().malformed).toBe(2);
      // a plain request from a raw NATS client (no jetmesh headers) is served
      const plain = await raw.request(`${ns}.req.victim`, enc("raw"), { timeout: 2000 });
      expect(dec(plain.data)).toBe("raw");
      // and jetmesh callers still get answers
      const client = await nats.open(ns);
      expect(dec(await client.request("victim", enc("still here")))).toBe("still here");
    } finally {
      await raw.close();
    }
  });

  it("errors from a non-jetmesh micro service are RemoteErrors", async () => {
    const ns = uniqueNamespace();
    const raw = await natsConnect({ servers: nats.server().url });
    try {
      raw.subscribe(`${ns}.req.foreign`, {
        callback: (_err, msg) => {
          const h = headers();
          h.set("Nats-Service-Error", "foreign failure");
          h.set("Nats-Service-Error-Code", "418");
          msg.respond(new Uint8Array(0), { headers: h });
        },
      });
      await raw.flush();
      const client = await nats.open(ns);
      await expect(client.request("foreign", enc("x"))).rejects.toMatchObject({
        code: "REMOTE",
        remoteCode: "418",
        message: "foreign failure",
      });
    } finally {
      await raw.close();
    }
  });

  it("answers every Jetmesh-Timeout that is not a whole number of ms from 1 to 2^31-1 with BAD_REQUEST", async () => {
    const ns = uniqueNamespace();
    const member = await nats.open(ns);
    let handled = 0;
    const svc = await member.register("strict", {
      handleRequest: (r) => {
        handled++;
        return r;
      },
    });
    const raw = await natsConnect({ servers: nats.server().url });
    try {
      const bad = [
        "0",
        "-0",
        "-5",
        "1e12",
        String(2 ** 31 + 10),
        "1.5",
        "NaN",
        "Infinity",
        "0x10",
        "+5",
        "9".repeat(300),
      ];
      for (const value of bad) {
        const h = headers();
        h.set("Jetmesh-Timeout", value);
        const answer = await raw.request(`${ns}.req.strict`, enc("x"), { headers: h, timeout: 2_000 });
        expect(answer.headers?.get("Jetmesh-Error"), value).toBe("BAD_REQUEST");
        expect(answer.headers?.get("Nats-Service-Error"), value).toMatch(/Jetmesh-Timeout/);
      }
      expect(handled).toBe(0);
      expect(svc.stats().malformed).toBe(bad.length);
      // the largest valid value is taken
      const h = headers();
      h.set("Jetmesh-Timeout", String(2 ** 31 - 1));
      expect(dec((await raw.request(`${ns}.req.strict`, enc("ok"), { headers: h, timeout: 2_000 })).data)).toBe("ok");
    } finally {
      await raw.close();
    }
  });

  it("never let a throwing logger, handler or dead-letter hook deafen the connection", async () => {
    const ns = uniqueNamespace();
    let thrown = 0;
    const hostile = () => {
      thrown++;
      throw new Error("logger down");
    };
    const logger: Logger = { debug: hostile, info: hostile, warn: hostile, error: hostile };
    const member = await nats.open(ns, { logger });
    let release!: () => void;
    const blocked = new Promise<void>((r) => {
      release = r;
    });
    let echoes = 0;
    const svc = await member.register(
      "deaf",
      {
        handleRequest: (r) => {
          if (dec(r) === "throw") throw new Error("handler failure");
          echoes++;
          return r;
        },
        handleBroadcast: () => blocked,
      },
      { broadcastThreads: 1, broadcastMemory: 1 },
    );
    let deadLetters = 0;
    await member.subscribe(
      "poison",
      () => {
        throw new Error("always");
      },
      {
        durable: "p",
        maxDeliver: 1,
        onDeadLetter: () => {
          deadLetters++;
          throw new Error("hook failure");
        },
      },
    );
    const client = await nats.open(ns);
    // drops (warned), a throwing handler (warned), a dead letter (warned, hook throws), a malformed request
    for (let i = 0; i < 20; i++) await client.broadcast("deaf", enc("b"));
    await expect(client.request("deaf", enc("throw"))).rejects.toMatchObject({ code: "REMOTE" });
    await client.publish("poison", enc("e"));
    const raw = await natsConnect({ servers: nats.server().url });
    raw.publish(`${ns}.req.deaf`, enc("no reply subject"));
    await raw.flush();
    await raw.close();
    await waitFor("drops counted", () => svc.stats().dropped > 0);
    await waitFor("dead letter", () => deadLetters === 1);
    await waitFor("malformed counted", () => svc.stats().malformed === 1);
    expect(thrown).toBeGreaterThan(0);
    // still answering
    for (let i = 0; i < 5; i++) expect(dec(await client.request("deaf", enc(`still ${i}`)))).toBe(`still ${i}`);
    expect(echoes).toBe(5);
    release();
  });
});
