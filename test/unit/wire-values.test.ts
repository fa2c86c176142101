import { JetStreamApiError } from "@nats-io/jetstream";
import { headers, type Msg } from "@nats-io/nats-core";
import { MsgImpl } from "@nats-io/nats-core/internal";
import { describe, expect, it } from "vitest";
import {
  ConfigurationError,
  ConnectionError,
  MemberLeftError,
  OverloadedError,
  RemoteError,
} from "../../src/errors/index.js";
import { fromJetStreamError } from "../../src/jetstream/index.js";
import {
  copyBytes,
  type ErrorKind,
  errorHeaders,
  errorOfReply,
  FrozenHeaders,
  HEADER,
  parseTimeoutHeader,
  soleTimeout,
  subjectFrom,
} from "../../src/wire/index.js";

describe("the Jetmesh-Timeout header", () => {
  it("takes whole milliseconds from 1 to 2^31-1", () => {
    expect(parseTimeoutHeader("1")).toBe(1);
    expect(parseTimeoutHeader("10000")).toBe(10_000);
    expect(parseTimeoutHeader(String(2 ** 31 - 1))).toBe(2 ** 31 - 1);
  });

  it("refuses everything else", () => {
    for (const bad of [
      "",
      "0",
      "-0",
      "-1",
      "00",
      "01",
      "1.5",
      "1e3",
      "1e12",
      "0x10",
      " 5",
      "5 ",
      "+5",
      "NaN",
      "Infinity",
      "soon",
      String(2 ** 31),
      String(2 ** 31 + 10),
      "9".repeat(400),
    ]) {
      expect(parseTimeoutHeader(bad), JSON.stringify(bad)).toBeUndefined();
    }
  });
});

/** A message as the NATS client delivers it: `head` the raw header block ("" for none), then the payload. */
function delivered(head: string, payload = new Uint8Array([1, 2, 3]), on = "ns.req.echo"): Msg {
  const h = new TextEncoder().encode(head);
  const data = new Uint8Array(h.length + payload.length);
  data.set(h);
  data.set(payload, h.length);
  const subject = new TextEncoder().encode(on);
  const msg = new MsgImpl({ subject, sid: 1, hdr: head ? h.length : -1, size: data.length }, data, {
    publish: () => {},
  });
  return msg as unknown as Msg;
}

/** The time-out a member reads the slow way: the decoded headers, then the header value. */
function decodedTimeout(msg: Msg): number | undefined {
  const value = msg.headers?.get(HEADER.timeout);
  return value ? parseTimeoutHeader(value) : undefined;
}

describe("a request's deadline as its only header (soleTimeout)", () => {
  it("reads the header exactly as jetmesh callers encode it", () => {
    for (const ms of [1, 9, 10, 999, 10_000, 2 ** 31 - 1]) {
      const head = new TextDecoder().decode(FrozenHeaders.of({ [HEADER.timeout]: String(ms) }).encode());
      const msg = delivered(head);
      expect(soleTimeout(msg)).toBe(ms);
      expect(decodedTimeout(msg)).toBe(ms);
      // the payload is where it was
      expect([...msg.data]).toEqual([1, 2, 3]);
    }
  });

  it("agrees with the decoded headers on everything it reads, and leaves the rest to them", () => {
    const heads = [
      "",
      "NATS/1.0\r\n\r\n",
      "NATS/1.0\r\nJetmesh-Timeout: 5000\r\n\r\n",
      "NATS/1.0\r\nJetmesh-Timeout:5000\r\n\r\n",
      "NATS/1.0\r\nJetmesh-Timeout:  5000\r\n\r\n",
      "NATS/1.0\r\nJetmesh-Timeout: 5000 \r\n\r\n",
      "NATS/1.0\r\njetmesh-timeout: 5000\r\n\r\n",
      "NATS/1.0 503\r\nJetmesh-Timeout: 5000\r\n\r\n",
      "NATS/1.0\r\nJetmesh-Timeout: 0\r\n\r\n",
      "NATS/1.0\r\nJetmesh-Timeout: 05000\r\n\r\n",
      "NATS/1.0\r\nJetmesh-Timeout: 2147483648\r\n\r\n",
      "NATS/1.0\r\nJetmesh-Timeout: 99999999999\r\n\r\n",
      "NATS/1.0\r\nJetmesh-Timeout: 5e3\r\n\r\n",
      "NATS/1.0\r\nJetmesh-Timeout: -5\r\n\r\n",
      "NATS/1.0\r\nJetmesh-Timeout: \r\n\r\n",
      "NATS/1.0\r\nJetmesh-Timeout: 5000\r\ntraceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n\r\n",
      "NATS/1.0\r\nX: 1\r\nJetmesh-Timeout: 5000\r\n\r\n",
      "NATS/1.0\r\nJetmesh-Timeout: 5000\r\nJetmesh-Timeout: 7000\r\n\r\n",
      "NATS/1.0\r\nJetmesh-Timeout: 5000\r\n",
    ];
    for (const head of heads) {
      const fast = soleTimeout(delivered(head));
      if (fast === undefined) continue;
      const slow = delivered(head);
      expect(fast, JSON.stringify(head)).toBe(decodedTimeout(slow));
      // and the deadline was the only header: what a handler is shown is made from it alone
      expect([...(slow.headers?.keys() ?? [])], JSON.stringify(head)).toEqual([HEADER.timeout]);
      expect(slow.headers?.code, JSON.stringify(head)).toBe(0);
    }
    expect(heads.filter((h) => soleTimeout(delivered(h)) !== undefined)).toEqual([
      "NATS/1.0\r\nJetmesh-Timeout: 5000\r\n\r\n",
    ]);
  });

  it("leaves a message it cannot see the bytes of to the decoded headers", () => {
    const foreign = { subject: "ns.req.echo", headers: undefined, data: new Uint8Array(0) };
    expect(soleTimeout(foreign as unknown as Msg)).toBeUndefined();
  });
});

describe("a reply's token read from the subject's bytes (subjectFrom)", () => {
  it("reads what msg.subject.slice() reads", () => {
    const prefix = "_INBOX_ns.AbCdEfGhIjKlMnOpQrStUv.";
    for (const token of ["0", "z", "1a2b", "zzzzzzzzzzz", "123456789012345", "1234567890123456", "ü", "aé", ""]) {
      const on = prefix + token;
      expect(subjectFrom(delivered("", undefined, on), prefix.length), on).toBe(token);
      expect(subjectFrom(delivered("", undefined, on), prefix.length - 1), on).toBe(`.${token}`);
    }
  });

  it("reads a message it cannot see the bytes of through msg.subject", () => {
    const foreign = { subject: "_INBOX.x.5", headers: undefined, data: new Uint8Array(0) };
    expect(subjectFrom(foreign as unknown as Msg, "_INBOX.x.".length)).toBe("5");
  });
});

describe("copyBytes", () => {
  it("copies a Buffer view into memory of its own", () => {
    const socket = Buffer.alloc(64 * 1024, 1);
    const view = socket.subarray(100, 116);
    const copy = copyBytes(view);
    expect(copy.buffer).not.toBe(socket.buffer);
    expect(copy.byteLength).toBe(16);
    expect(copy.buffer.byteLength).toBe(16);
    socket.fill(2);
    expect([...copy]).toEqual(new Array(16).fill(1));
    // the trap it avoids: Buffer#slice is a view
    expect(view.slice().buffer).toBe(socket.buffer);
  });
});

describe("error replies", () => {
  const reply = (kind: string, message = "m", code = kind) => {
    const h = headers();
    h.set("Nats-Service-Error", message);
    h.set("Nats-Service-Error-Code", code);
    h.set("Jetmesh-Error", kind);
    return h;
  };

  it("tell a member that left before handling (retryable) from one that left while handling (not)", () => {
    const before = errorOfReply(reply("MEMBER_LEFT"), "c");
    expect(before).toBeInstanceOf(MemberLeftError);
    expect(before?.retryable).toBe(true);
    const during = errorOfReply(reply("ABANDONED"), "c");
    expect(during).toBeInstanceOf(MemberLeftError);
    expect(during?.retryable).toBe(false);
    // members of earlier versions said CLOSED for "left before handling"
    expect(errorOfReply(reply("CLOSED"), "c")?.retryable).toBe(true);
  });

  it("carry a numeric Nats-Service-Error-Code, as the micro protocol asks, and the error's own code beside it", () => {
    const cases: Array<[ErrorKind, string, string, string | undefined]> = [
      ["REMOTE", "500", "500", undefined],
      ["REMOTE", "404", "404", undefined],
      ["REMOTE", "E_NOT_FOUND", "500", "E_NOT_FOUND"],
      ["OVERLOADED", "OVERLOADED", "429", "OVERLOADED"],
      ["MEMBER_LEFT", "MEMBER_LEFT", "503", "MEMBER_LEFT"],
      ["ABANDONED", "ABANDONED", "503", "ABANDONED"],
      ["BAD_REQUEST", "BAD_REQUEST", "400", "BAD_REQUEST"],
      ["BAD_REPLY", "BAD_REPLY", "500", "BAD_REPLY"],
      ["REPLY_TOO_LARGE", "REPLY_TOO_LARGE", "500", "REPLY_TOO_LARGE"],
    ];
    for (const [kind, code, status, own] of cases) {
      const h = errorHeaders(kind, "m", code);
      expect(h.get("Nats-Service-Error-Code")).toBe(status);
      expect(Number.isInteger(Number(h.get("Nats-Service-Error-Code")))).toBe(true);
      expect(h.get("Jetmesh-Error-Code") || undefined).toBe(own);
      expect(h.get("Jetmesh-Error")).toBe(kind);
      // the caller reads back the error's own code
      const back = errorOfReply(h, "c");
      if (back instanceof RemoteError) expect(back.remoteCode).toBe(code);
    }
  });

  it("map the other kinds, and any other service's errors", () => {
    expect(errorOfReply(reply("OVERLOADED"), "c")).toBeInstanceOf(OverloadedError);
    const remote = errorOfReply(reply("REMOTE", "boom", "E42"), "c");
    expect(remote).toBeInstanceOf(RemoteError);
    expect((remote as RemoteError).remoteCode).toBe("E42");
    const foreign = headers();
    foreign.set("Nats-Service-Error-Code", "500");
    expect(errorOfReply(foreign, "c")).toBeInstanceOf(RemoteError);
    expect(errorOfReply(headers(), "c")).toBeUndefined();
    expect(errorOfReply(undefined, "c")).toBeUndefined();
  });
});

describe("JetStream API errors", () => {
  const api = (code: number, err_code: number, description: string) =>
    new JetStreamApiError({ code, err_code, description });

  it("that pass on their own (a cluster electing a leader) are retryable, and name the stream they were about", () => {
    for (const err of [
      api(503, 10008, "JetStream system temporarily unavailable"),
      api(500, 10009, "JetStream cluster can not handle request"),
      api(500, 10118, "stream is offline"),
    ]) {
      const mapped = fromJetStreamError(err, 'tunnels stream "T"', "tunnels");
      expect(mapped, err.message).toBeInstanceOf(ConnectionError);
      expect(mapped.retryable).toBe(true);
      expect(mapped.message).toMatch(/tunnels stream "T": JetStream is temporarily unavailable/);
    }
  });

  it("that need a change of set-up are not, and say which stream's options to change", () => {
    const full = fromJetStreamError(api(500, 10047, "insufficient storage resources available"), "x", "tunnels");
    expect(full).toBeInstanceOf(ConfigurationError);
    expect(full.retryable).toBe(false);
    expect(full.message).toMatch(/tunnels stream/);
    expect(full.message).toMatch(/tunnels\.maxBytes/);
    expect(full.message).not.toMatch(/topics/);
    expect(fromJetStreamError(api(400, 10074, "replicas > 1 not supported in non-clustered mode"), "x")).toBeInstanceOf(
      ConfigurationError,
    );
  });
});
