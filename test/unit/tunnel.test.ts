import { describe, expect, it } from "vitest";
import { chunkLimit, chunkSize, FRAME_COST } from "../../src/tunnel/chunking.js";
import { BROKE, decodeControl, encodeGrant, encodeSent } from "../../src/tunnel/control.js";
import { ReadCredit, SendCredit } from "../../src/tunnel/credit.js";
import { decodeFrame, encodeFrame, FIRST_HEAD, FRAME_HEAD, KIND, MAX_U48 } from "../../src/tunnel/frame.js";
import { Inbound, type Received } from "../../src/tunnel/inbound.js";
import { Liveness } from "../../src/tunnel/liveness.js";
import { resolveTunnels } from "../../src/tunnel/settings.js";
import { readSetUpAnswer, readSetUpRequest } from "../../src/tunnel/setup-terms.js";

const MiB = 1024 * 1024;

describe("tunnel frames", () => {
  it("encode and decode every kind, with sequences up to 48 bits", () => {
    for (const seq of [0, 1, 255, 2 ** 32 - 1, 2 ** 32, 2 ** 40 + 12345, MAX_U48]) {
      const payload = new Uint8Array([1, 2, 3]);
      for (const kind of [KIND.whole, KIND.more, KIND.last]) {
        const f = decodeFrame(encodeFrame(kind, seq, payload));
        expect(f).toEqual({ kind, seq, total: 0, payload });
      }
      const first = decodeFrame(encodeFrame(KIND.first, seq, payload, 2 ** 33 + 7));
      expect(first).toEqual({ kind: KIND.first, seq, total: 2 ** 33 + 7, payload });
      for (const kind of [KIND.abort, KIND.close]) {
        expect(decodeFrame(encodeFrame(kind, seq))).toMatchObject({ kind, seq, total: 0 });
      }
    }
  });

  it("refuse what cannot be a frame, saying why, without throwing", () => {
    const bad = [
      new Uint8Array(0),
      new Uint8Array(FRAME_HEAD - 1),
      encodeFrame(KIND.whole, 1), // no payload
      encodeFrame(KIND.more, 1),
      encodeFrame(KIND.first, 1, undefined, 10), // a first chunk without payload
      encodeFrame(KIND.first, 1, new Uint8Array(20), 10), // larger than its message
      encodeFrame(KIND.abort, 1, new Uint8Array(1)), // control frames carry nothing
      encodeFrame(KIND.close, 1, new Uint8Array(1)),
      Uint8Array.of(6, 0, 0, 0, 0, 0, 1, 9),
      Uint8Array.of(255, 0, 0, 0, 0, 0, 1, 9),
    ];
    for (const data of bad) expect(typeof decodeFrame(data)).toBe("string");
    expect(FIRST_HEAD).toBe(FRAME_HEAD + 6);
  });
});

describe("tunnel chunking", () => {
  it("sizes chunks so that one always fits the reader's window, for any pair of windows and max payloads", () => {
    for (const maxPayload of [64 * 1024, MiB, 8 * MiB, 64 * MiB]) {
      for (const readerWindow of [MiB, MiB + 1, 3 * MiB, 8 * MiB, 64 * MiB]) {
        const limit = chunkLimit(maxPayload, readerWindow);
        expect(limit + FIRST_HEAD).toBeLessThanOrEqual(maxPayload);
        // a chunk and its cost fit half the reader's window: credit for it always comes
        expect(limit + FRAME_COST).toBeLessThanOrEqual(readerWindow / 2);
        expect(limit).toBeGreaterThan(readerWindow / 4 - FRAME_COST - FIRST_HEAD > maxPayload ? 0 : 1000);
      }
    }
  });

  it("cuts a message into equal chunks within the limit, whole when it fits", () => {
    expect(chunkSize(10, 100)).toBe(10);
    expect(chunkSize(100, 100)).toBe(100);
    for (const [size, limit] of [
      [101, 100],
      [2 * MiB, MiB - 200],
      [64 * MiB, 512 * 1024 - 141],
      [3, 1],
    ] as const) {
      const chunk = chunkSize(size, limit);
      expect(chunk).toBeLessThanOrEqual(limit);
      const chunks = Math.ceil(size / chunk);
      expect(chunks).toBe(Math.ceil(size / limit));
      // the tail is not much smaller than the others
      expect(size - (chunks - 1) * chunk).toBeGreaterThan(chunk - chunks);
    }
  });
});

describe("tunnel credit", () => {
  it("lets a writer send up to the reader's window, then as far as each grant says", () => {
    const w = new SendCredit();
    w.start(MiB);
    expect(w.fits(MiB)).toBe(true);
    expect(w.fits(MiB + 1)).toBe(false);
    w.take(MiB - 100);
    expect(w.fits(100)).toBe(true);
    expect(w.fits(101)).toBe(false);
    expect(w.grant(MiB + 500)).toBe("grown");
    expect(w.fits(600)).toBe(true);
    // grants are absolute: an old or repeated one changes nothing
    expect(w.grant(MiB + 400)).toBe("stale");
    expect(w.grant(MiB + 500)).toBe("stale");
    expect(w.credit).toBe(MiB + 500);
  });

  it("refuses a grant no honest reader could send", () => {
    const w = new SendCredit();
    w.start(MiB);
    w.take(1000);
    // it confirms more than was sent
    expect(w.grant(MiB + 1001)).toBe("invalid");
    expect(w.grant(-1)).toBe("invalid");
    expect(w.grant(Number.MAX_SAFE_INTEGER + 2)).toBe("invalid");
    expect(w.grant(1.5)).toBe("invalid");
    expect(w.credit).toBe(MiB);
    expect(w.grant(MiB + 1000)).toBe("grown");
  });

  it("counts the messages sent whose bytes the reader has not confirmed", () => {
    const w = new SendCredit();
    w.start(MiB);
    for (let i = 0; i < 5; i++) {
      w.take(200);
      w.messageSent();
    }
    expect(w.unconfirmed).toBe(5);
    w.grant(MiB + 400); // the first two
    expect(w.unconfirmed).toBe(3);
    w.grant(MiB + 999); // not all of the fifth
    expect(w.unconfirmed).toBe(1);
    w.grant(MiB + 1000);
    expect(w.unconfirmed).toBe(0);
    // many messages: bookkeeping stays compact and right
    for (let i = 0; i < 5000; i++) {
      w.take(1);
      w.messageSent();
    }
    w.grant(MiB + 1000 + 4000);
    expect(w.unconfirmed).toBe(1000);
  });

  it("has the reader grant what it released plus its window, once an eighth of the window is released", () => {
    const r = new ReadCredit(8 * MiB);
    expect(r.grant()).toBe(8 * MiB);
    expect(r.release(MiB - 1)).toBe(false);
    expect(r.release(1)).toBe(true);
    expect(r.grant()).toBe(9 * MiB);
    expect(r.release(10)).toBe(false);
    expect(r.released).toBe(MiB + 10);
  });

  it("never lets a writer be more than the reader's window ahead, whatever the chunk sizes", () => {
    // a writer with an 8 MiB window to a reader with 1 MiB: chunks sized from the reader's window flow
    const readerWindow = MiB;
    const w = new SendCredit();
    const r = new ReadCredit(readerWindow);
    w.start(readerWindow);
    const limit = chunkLimit(MiB, readerWindow);
    let inFlight = 0;
    let sent = 0;
    for (let step = 0; step < 1000; step++) {
      const n = limit + FRAME_COST;
      if (w.fits(n)) {
        w.take(n);
        inFlight += n;
        sent++;
      } else {
        // the reader reads everything in flight
        r.release(inFlight);
        inFlight = 0;
        expect(w.grant(r.grant())).toBe("grown");
      }
      expect(w.sent - r.released).toBeLessThanOrEqual(readerWindow);
    }
    expect(sent).toBeGreaterThan(300);
  });
});

describe("tunnel liveness", () => {
  it("counts silence only while this end is connected", () => {
    const l = new Liveness(0);
    expect(l.silence(1000)).toBe(1000);
    l.heard(1000);
    l.down(1500);
    expect(l.silence(60_000)).toBe(500);
    expect(l.outage(60_000)).toBe(58_500);
    expect(l.connected).toBe(false);
    l.up(61_500);
    expect(l.connected).toBe(true);
    expect(l.outage(61_500)).toBe(0);
    expect(l.silence(61_500)).toBe(500);
    expect(l.silence(62_000)).toBe(1000);
    l.heard(62_000);
    expect(l.silence(62_000)).toBe(0);
  });

  it("ignores repeated downs and ups", () => {
    const l = new Liveness(0);
    l.down(100);
    l.down(200);
    l.up(300);
    l.up(400);
    expect(l.silence(400)).toBe(200);
  });
});

describe("tunnel inbound ordering", () => {
  function collector(maxMessage = 10 * MiB, window = MiB) {
    const got: Received[] = [];
    const bad: string[] = [];
    let released = 0;
    let closed = false;
    const inbound = new Inbound(maxMessage, window, {
      deliver: (r) => got.push(r),
      release: (n) => {
        released += n;
      },
      closed: () => {
        closed = true;
      },
      malformed: (why) => bad.push(why),
    });
    return {
      inbound,
      got,
      bad,
      released: () => released,
      closed: () => closed,
    };
  }
  const whole = (seq: number, text: string) => encodeFrame(KIND.whole, seq, new TextEncoder().encode(text));
  const text = (r: Received | undefined) => new TextDecoder().decode(r?.bytes);

  it("puts frames back in order and drops copies", () => {
    const c = collector();
    c.inbound.frame(whole(1, "b"), 11);
    c.inbound.frame(whole(0, "a"), 12);
    c.inbound.frame(whole(0, "a"), 13);
    c.inbound.frame(whole(2, "c"), 14);
    c.inbound.frame(whole(1, "b"), 15);
    expect(c.got.map(text)).toEqual(["a", "b", "c"]);
    expect(c.inbound.lastStreamSeq).toBe(14);
    expect(c.inbound.highestSeen).toBe(2);
    // a gap: frame 4 came, 3 did not
    c.inbound.frame(whole(4, "e"), 16);
    expect(c.inbound.waitingOnGap).toBe(true);
    expect(c.inbound.highestSeen).toBe(4);
    c.inbound.frame(whole(3, "d"), 17);
    expect(c.inbound.waitingOnGap).toBe(false);
    expect(c.got.map(text)).toEqual(["a", "b", "c", "d", "e"]);
    expect(c.bad).toEqual([]);
  });

  it("joins a split message, and drops one whose send was aborted", () => {
    const c = collector();
    const enc = (s: string) => new TextEncoder().encode(s);
    c.inbound.frame(encodeFrame(KIND.first, 0, enc("he"), 5), 1);
    c.inbound.frame(encodeFrame(KIND.more, 1, enc("ll")), 2);
    c.inbound.frame(encodeFrame(KIND.last, 2, enc("o")), 3);
    c.inbound.bigTaken();
    c.inbound.frame(encodeFrame(KIND.first, 3, enc("xx"), 4), 4);
    c.inbound.frame(encodeFrame(KIND.abort, 4), 5);
    c.inbound.frame(whole(5, "next"), 6);
    expect(c.got.map(text)).toEqual(["hello", "next"]);
    expect(c.got[0]?.big).toBe(true);
    c.inbound.frame(encodeFrame(KIND.close, 6), 7);
    expect(c.closed()).toBe(true);
  });

  it("drops hostile input, counting it, without throwing", () => {
    const c = collector(100, MiB);
    const enc = (s: string) => new TextEncoder().encode(s);
    c.inbound.frame(new Uint8Array([9, 9]), 1);
    // above the maximum message
    c.inbound.frame(encodeFrame(KIND.first, 0, enc("ab"), 1000), 2);
    c.inbound.frame(encodeFrame(KIND.last, 1, enc("cd")), 3);
    // chunks beyond their message's size
    c.inbound.frame(encodeFrame(KIND.first, 2, enc("ab"), 3), 4);
    c.inbound.frame(encodeFrame(KIND.last, 3, enc("cd")), 5);
    // a message that ends short
    c.inbound.frame(encodeFrame(KIND.first, 4, enc("ab"), 30), 6);
    c.inbound.frame(encodeFrame(KIND.last, 5, enc("cd")), 7);
    // far ahead of anything an honest writer could have in flight
    c.inbound.frame(whole(2 ** 40, "far"), 8);
    c.inbound.frame(whole(6, "fine"), 9);
    expect(c.got.map(text)).toEqual(["fine"]);
    expect(c.bad.length).toBe(5);
    expect(c.inbound.waitingOnGap).toBe(false);
    // the bytes of what was dropped still leave the window
    expect(c.released()).toBeGreaterThanOrEqual(8 + 6 * FRAME_COST);
  });

  it("holds the next large message until the last one is read", () => {
    const c = collector();
    const big = (seq: number, fill: number) => [
      encodeFrame(KIND.first, seq, new Uint8Array(2).fill(fill), 4),
      encodeFrame(KIND.last, seq + 1, new Uint8Array(2).fill(fill)),
    ];
    let s = 0;
    for (const f of [...big(0, 1), ...big(2, 2), whole(4, "after")]) c.inbound.frame(f, ++s);
    expect(c.got.length).toBe(1);
    c.inbound.bigTaken();
    // the one after it is whole: it is joined to nothing, and queues behind in order
    expect(c.got.map((r) => r.bytes[0] ?? 0)).toEqual([1, 2, 97]);
    expect(text(c.got[2])).toBe("after");
  });
});

describe("tunnel set-up terms", () => {
  const own = { outageTimeout: 30_000, maxPayload: MiB };
  const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
  const good = {
    id: "0".repeat(32),
    window: MiB,
    heartbeat: 1000,
    maxMessage: 100,
    outageTimeout: 5000,
    maxPayload: MiB,
  };

  it("reads a request, filling in what an earlier version leaves out", () => {
    expect(readSetUpRequest(enc(good), own)).toEqual(good);
    const { outageTimeout: _o, maxPayload: _m, ...old } = good;
    expect(readSetUpRequest(enc(old), own)).toEqual({ ...old, ...own });
  });

  it("refuses requests and answers out of range, without throwing", () => {
    for (const bad of [
      { ...good, id: "x" },
      { ...good, window: 1 }, // a window too small for a chunk
      { ...good, window: 1.5 },
      { ...good, heartbeat: 5 },
      { ...good, maxMessage: 0 },
      { ...good, maxMessage: 2 ** 49 },
      { ...good, outageTimeout: 10 },
      { ...good, maxPayload: 10 },
      null,
      [],
      "text",
    ]) {
      expect(readSetUpRequest(enc(bad), own)).toBeUndefined();
    }
    expect(readSetUpRequest(new Uint8Array([0xff, 0xfe]), own)).toBeUndefined();
    expect(readSetUpAnswer(enc({ window: MiB, maxMessage: 10 }), own)).toEqual({
      window: MiB,
      maxMessage: 10,
      maxPayload: MiB,
    });
    expect(readSetUpAnswer(enc({ window: 100, maxMessage: 10 }), own)).toBeUndefined();
    expect(readSetUpAnswer(enc({ window: MiB }), own)).toBeUndefined();
    expect(readSetUpAnswer(new Uint8Array(0), own)).toBeUndefined();
  });
});

describe("tunnel settings", () => {
  it("validate the outage bound like the other settings", () => {
    expect(resolveTunnels("ns", {}).outageTimeout).toBe(30_000);
    expect(resolveTunnels("ns", { outageTimeout: 1000 }).outageTimeout).toBe(1000);
    for (const bad of [999, 1.5, "30000", -1, 2 * 60 * 60 * 1000]) {
      expect(() => resolveTunnels("ns", { outageTimeout: bad })).toThrow(/outageTimeout/);
    }
    // not longer than the stream keeps messages
    expect(() => resolveTunnels("ns", { outageTimeout: 60_000, maxAge: 30_000 })).toThrow(/maxAge/);
  });
});

describe("tunnel control messages", () => {
  const enc = (s: string) => new TextEncoder().encode(s);

  it("read grants, sent counts and broken-tunnel notices", () => {
    expect(decodeControl(enc(encodeGrant(12345)))).toEqual({ kind: "grant", credit: 12345 });
    expect(decodeControl(enc(encodeSent(7)))).toEqual({ kind: "sent", frames: 7 });
    expect(decodeControl(enc(BROKE))).toEqual({ kind: "broke" });
  });

  it("refuse anything else, saying why, without throwing", () => {
    for (const bad of [
      "",
      "c",
      "c-1",
      "c1.5",
      "cabc",
      "c99999999999999999",
      "s",
      "s-4",
      "s999999999999999",
      "xx",
      "hello",
    ]) {
      expect(typeof decodeControl(enc(bad)), bad).toBe("string");
    }
    expect(typeof decodeControl(new Uint8Array(100_000).fill(0x63))).toBe("string");
    expect(typeof decodeControl(new Uint8Array([0xff, 0xfe, 0x00]))).toBe("string");
  });
});
