import { describe, expect, it } from "vitest";
import { BoundedQueue } from "../../src/flow/index.js";

/** A queue whose handler calls wait until released, in order. */
function gated(threads: number, memory: number) {
  const started: string[] = [];
  const gates: Array<() => void> = [];
  const errors: unknown[] = [];
  const q = new BoundedQueue<string>(
    threads,
    memory,
    (item) => {
      started.push(item);
      return new Promise<void>((r) => gates.push(r));
    },
    (err) => errors.push(err),
    (item) => `${item}*`,
  );
  const releaseOne = async () => {
    gates.shift()?.();
    await new Promise((r) => setImmediate(r));
  };
  return { q, started, errors, releaseOne };
}

describe("BoundedQueue", () => {
  it("starts at once while threads are free, never queueing what can start", () => {
    const { q, started } = gated(2, 0);
    expect(q.offer("a", 10)).toBe(true);
    expect(q.offer("b", 10)).toBe(true);
    expect(started).toEqual(["a", "b"]);
    expect(q.queuedBytes).toBe(0);
    // no thread free and no memory: refused
    expect(q.offer("c", 1)).toBe(false);
  });

  it("queues up to the memory limit exactly, holds what it queues, and runs it in order", async () => {
    const { q, started, releaseOne } = gated(1, 100);
    q.offer("run", 1_000);
    expect(q.offer("a", 60)).toBe(true);
    expect(q.offer("b", 40)).toBe(true);
    expect(q.offer("c", 1)).toBe(false);
    expect(q.queuedBytes).toBe(100);
    expect(q.peakQueuedBytes).toBe(100);
    await releaseOne();
    expect(started).toEqual(["run", "a*"]);
    expect(q.queuedBytes).toBe(40);
    await releaseOne();
    await releaseOne();
    expect(started).toEqual(["run", "a*", "b*"]);
    expect(q.queuedBytes).toBe(0);
    await q.idle();
  });

  it("never queues an item larger than the limit while busy, but force queues it", () => {
    const { q } = gated(1, 10);
    q.offer("run", 1);
    expect(q.fits(11)).toBe(false);
    expect(q.offer("big", 11)).toBe(false);
    expect(q.offer("big", 11, true)).toBe(true);
    expect(q.queuedBytes).toBe(11);
  });

  it("refuses everything once closed and hands back what waits", () => {
    const { q } = gated(1, 100);
    q.offer("run", 1);
    q.offer("a", 1);
    q.close();
    expect(q.offer("b", 1)).toBe(false);
    expect(q.offer("b", 1, true)).toBe(false);
    expect(q.takeQueued()).toEqual(["a*"]);
    expect(q.queuedBytes).toBe(0);
  });

  it("survives handlers that throw or reject, and an error reporter that throws", async () => {
    const seen: unknown[] = [];
    const q = new BoundedQueue<number>(
      1,
      100,
      (n) => {
        if (n === 1) throw new Error("sync");
        if (n === 2) return Promise.reject(new Error("async"));
        seen.push(n);
        return undefined;
      },
      () => {
        throw new Error("reporter");
      },
    );
    q.offer(1, 1);
    q.offer(2, 1);
    await q.idle();
    q.offer(3, 1);
    await q.idle();
    expect(seen).toEqual([3]);
  });

  it("runs a long backlog in order and compacts as it goes", async () => {
    const order: number[] = [];
    let release!: () => void;
    const first = new Promise<void>((r) => {
      release = r;
    });
    const q = new BoundedQueue<number>(
      1,
      1e9,
      (n) => {
        order.push(n);
        return n === 0 ? first : undefined;
      },
      () => {},
    );
    for (let i = 0; i < 5_000; i++) q.offer(i, 1);
    expect(q.queued).toBe(4_999);
    release();
    await q.idle();
    expect(order).toEqual(Array.from({ length: 5_000 }, (_, i) => i));
  });
});
