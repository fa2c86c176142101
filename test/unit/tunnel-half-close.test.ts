import { describe, expect, it } from "vitest";
import { ClosedError, type JetmeshError } from "../../src/errors/index.js";
import { FRAME_COST } from "../../src/tunnel/chunking.js";
import { decodeFrame, encodeFrame, FRAME_HEAD, KIND } from "../../src/tunnel/frame.js";
import { HalfClose } from "../../src/tunnel/half-close.js";
import { Inbound, type Received } from "../../src/tunnel/inbound.js";
import { encodeTerms, readSetUpAnswer, readSetUpRequest } from "../../src/tunnel/setup-terms.js";
import { Writer } from "../../src/tunnel/writer.js";

const MiB = 1024 * 1024;
const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe("the END frame", () => {
  it("is a head alone, of its own kind, with any sequence", () => {
    const kinds = Object.values(KIND);
    expect(new Set(kinds).size).toBe(kinds.length);
    // 6 stays unknown to every version
    expect(kinds).not.toContain(6);
    for (const seq of [0, 1, 2 ** 40 + 3]) {
      const data = encodeFrame(KIND.end, seq);
      expect(data.byteLength).toBe(FRAME_HEAD);
      expect(decodeFrame(data)).toMatchObject({ kind: KIND.end, seq, total: 0 });
    }
    expect(typeof decodeFrame(encodeFrame(KIND.end, 1, new Uint8Array(1)))).toBe("string");
  });
});

describe("tunnel inbound: the writer's end", () => {
  function collector() {
    const got: string[] = [];
    const events: string[] = [];
    const bad: string[] = [];
    const inbound = new Inbound(10 * MiB, MiB, {
      deliver: (r: Received) => {
        got.push(text(r.bytes));
        events.push(`msg ${text(r.bytes)}`);
      },
      release: () => {},
      closed: () => events.push("closed"),
      ended: () => events.push("ended"),
      malformed: (why) => bad.push(why),
    });
    return { inbound, got, events, bad };
  }

  it("comes after every message sent before it, also when frames arrive out of order or twice", () => {
    const c = collector();
    const frames = [
      encodeFrame(KIND.whole, 0, bytes("a")),
      encodeFrame(KIND.first, 1, bytes("bb"), 4),
      encodeFrame(KIND.last, 2, bytes("cc")),
      encodeFrame(KIND.whole, 3, bytes("d")),
      encodeFrame(KIND.end, 4),
    ];
    // the end and the last message first, then a copy of the end, then the rest
    for (const i of [4, 3, 4, 0, 2, 1]) c.inbound.frame(frames[i] as Uint8Array, 100 + i);
    expect(c.events).toEqual(["msg a", "msg bbcc", "msg d", "ended"]);
    expect(c.bad).toEqual([]);
  });

  it("waits for a gap before it to fill", () => {
    const c = collector();
    c.inbound.frame(encodeFrame(KIND.whole, 0, bytes("a")), 1);
    c.inbound.frame(encodeFrame(KIND.end, 2), 3);
    expect(c.events).toEqual(["msg a"]);
    expect(c.inbound.waitingOnGap).toBe(true);
    c.inbound.frame(encodeFrame(KIND.whole, 1, bytes("b")), 2);
    expect(c.events).toEqual(["msg a", "msg b", "ended"]);
  });

  it("lets only the writer's close follow: messages after it are dropped as malformed", () => {
    const c = collector();
    c.inbound.frame(encodeFrame(KIND.end, 0), 1);
    c.inbound.frame(encodeFrame(KIND.whole, 1, bytes("late")), 2);
    c.inbound.frame(encodeFrame(KIND.end, 2), 3);
    c.inbound.frame(encodeFrame(KIND.close, 3), 4);
    expect(c.events).toEqual(["ended", "closed"]);
    expect(c.bad).toHaveLength(2);
    expect(c.got).toEqual([]);
  });

  it("drops a message it cuts short, and says so", () => {
    const c = collector();
    c.inbound.frame(encodeFrame(KIND.first, 0, bytes("ab"), 10), 1);
    c.inbound.frame(encodeFrame(KIND.end, 1), 2);
    expect(c.events).toEqual(["ended"]);
    expect(c.bad).toHaveLength(1);
  });
});

describe("tunnel half-close state", () => {
  for (const order of [
    ["stored", "arrived"],
    ["arrived", "stored"],
  ] as const) {
    it(`both ends have ended once, whichever comes first (${order.join(", then ")})`, () => {
      const h = new HalfClose();
      expect(h.sendEnded).toBe(false);
      h.ending = Promise.resolve();
      expect(h.sendEnded).toBe(true);
      const outcomes = order.map((step) => (step === "stored" ? h.stored() : h.arrived()));
      expect(outcomes).toEqual([false, true]);
      expect(h.bothEnded).toBe(true);
      // nothing happens twice
      expect(h.arrived()).toBe(false);
      expect(h.stored()).toBe(false);
    });
  }

  it("takes a silent other end as done when the last it stored is its close, or its end once this end's is stored", () => {
    const h = new HalfClose();
    expect(h.doneThere(undefined)).toBe(false);
    expect(h.doneThere("close")).toBe(true);
    // it ended alone: it still reads what this end sends, so its silence means it is gone
    expect(h.doneThere("end")).toBe(false);
    h.ending = Promise.resolve();
    expect(h.doneThere("end")).toBe(false);
    h.stored();
    expect(h.doneThere("end")).toBe(true);
  });

  it("says the stream ended there with a ClosedError, the same one each time, and rejects sends here", () => {
    const h = new HalfClose();
    expect(h.endedThere).toBeUndefined();
    expect(h.arrived()).toBe(false);
    const e = h.endedThere;
    expect(e).toBeInstanceOf(ClosedError);
    expect(h.arrived()).toBe(false);
    expect(h.endedThere).toBe(e);
    expect(h.bothEnded).toBe(false);
    expect(h.sendError()).toBeInstanceOf(ClosedError);
    expect(h.sendError().message).toMatch(/end\(\)/);
  });
});

describe("tunnel set-up terms: halfClose", () => {
  const own = { outageTimeout: 30_000, maxPayload: MiB };
  const request = { id: "0".repeat(32), window: MiB, heartbeat: 1000, maxMessage: 100 };
  const answer = { window: MiB, maxMessage: 100, maxPayload: MiB };

  it("is read when true, and left out otherwise (an earlier version, or anything else)", () => {
    expect(readSetUpRequest(encodeTerms({ ...request, ...own, halfClose: true }), own)?.halfClose).toBe(true);
    expect(readSetUpAnswer(encodeTerms({ ...answer, halfClose: true }), own)?.halfClose).toBe(true);
    for (const v of [undefined, false, "true", 1, null]) {
      const req = readSetUpRequest(bytes(JSON.stringify({ ...request, halfClose: v })), own);
      expect(req).toBeDefined();
      expect(req && "halfClose" in req).toBe(false);
      const ans = readSetUpAnswer(bytes(JSON.stringify({ ...answer, halfClose: v })), own);
      expect(ans).toBeDefined();
      expect(ans && "halfClose" in ans).toBe(false);
    }
  });
});

describe("tunnel writer: end", () => {
  /** A writer whose frames are kept, each ack settled by the test. */
  function writer(window = MiB) {
    const published: Array<{ kind: number; seq: number; ack: (ok: boolean) => void }> = [];
    const broken: unknown[] = [];
    let stopped: JetmeshError | undefined;
    const w = new Writer(
      {
        stopped: () => stopped,
        publish: (frame) =>
          new Promise((resolve, reject) => {
            published.push({
              kind: frame[0] ?? -1,
              seq: frame[6] ?? -1,
              ack: (ok) => (ok ? resolve(undefined) : reject(new Error("not stored"))),
            });
          }),
        broken: (err) => broken.push(err),
        traffic: { sent: 0 },
      },
      { maxMessage: 10 * MiB, maxChunk: MiB },
    );
    w.begin({ window, maxMessage: 10 * MiB, maxPayload: MiB });
    return {
      w,
      published,
      broken,
      stop: (err: JetmeshError) => {
        stopped = err;
        w.stop(err);
      },
    };
  }
  const flush = () => new Promise((r) => setImmediate(r));
  const forever = performance.now() + 60_000;

  it("goes out after the sends before it, those waiting for credit too, and resolves once every frame is stored", async () => {
    const { w, published } = writer();
    const big = new Uint8Array(MiB / 2 - FRAME_COST - 100);
    const sends = [0, 1, 2].map(() => w.send(big, forever, 60_000, undefined));
    let ended = false;
    const ending = w.end().then(() => {
      ended = true;
    });
    await flush();
    // two fit the window; the third waits for credit, and the end behind it
    expect(published.map((p) => p.kind)).toEqual([KIND.whole, KIND.whole]);
    w.grant(MiB + 2 * (big.byteLength + FRAME_COST));
    await Promise.all(sends);
    await flush();
    expect(published.map((p) => p.kind)).toEqual([KIND.whole, KIND.whole, KIND.whole, KIND.end]);
    expect(published.map((p) => p.seq)).toEqual([0, 1, 2, 3]);
    // stored out of order: the end resolves only once all are
    for (const i of [3, 0, 2]) published[i]?.ack(true);
    await flush();
    expect(ended).toBe(false);
    published[1]?.ack(true);
    await ending;
    expect(ended).toBe(true);
  });

  it("rejects when a frame before it is not stored (the tunnel is told it broke)", async () => {
    const { w, published, broken } = writer();
    await w.send(bytes("a"), forever, 60_000, undefined);
    const ending = w.end();
    await flush();
    published[1]?.ack(true);
    published[0]?.ack(false);
    await expect(ending).rejects.toThrow(/not stored/);
    expect(broken).toHaveLength(1);
  });

  it("sends nothing when the tunnel ended while it waited", async () => {
    const { w, published, stop } = writer();
    const waiting = w.send(new Uint8Array(MiB), forever, 60_000, undefined).catch((e: unknown) => e);
    const ending = w.end();
    await flush();
    const err = new ClosedError("the tunnel was closed");
    stop(err);
    expect(await waiting).toBe(err);
    await expect(ending).rejects.toBe(err);
    expect(published.filter((p) => p.kind === KIND.end)).toEqual([]);
  });
});
