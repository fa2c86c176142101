import { describe, expect, it } from "vitest";
import { DEFAULT_SERVICE_LIMITS, InvalidArgumentError, OverloadedError, TimeoutError } from "../src/index.js";
import { deferred, enc, uniqueNamespace, useNats, waitFor } from "./helpers.js";

const nats = useNats();

describe("service limits", () => {
  it("defaults to 4 x CPU count threads and 64 MiB, as in Iris", async () => {
    const { availableParallelism } = await import("node:os");
    expect(DEFAULT_SERVICE_LIMITS).toEqual({
      requestThreads: 4 * availableParallelism(),
      requestMemory: 64 * 1024 * 1024,
      broadcastThreads: 4 * availableParallelism(),
      broadcastMemory: 64 * 1024 * 1024,
    });
    const conn = await nats.open(uniqueNamespace());
    const svc = await conn.register("d", { handleRequest: (r) => r }, { requestThreads: 3 });
    expect(svc.limits).toEqual({ ...DEFAULT_SERVICE_LIMITS, requestThreads: 3 });
  });

  it("never runs more than requestThreads handlers at once, and answers every request", async () => {
    const ns = uniqueNamespace();
    const conn = await nats.open(ns);
    let running = 0;
    let peak = 0;
    const svc = await conn.register(
      "busy",
      {
        handleRequest: async (req) => {
          running++;
          peak = Math.max(peak, running);
          await new Promise((r) => setTimeout(r, 5));
          running--;
          return req;
        },
      },
      { requestThreads: 3 },
    );
    const client = await nats.open(ns);
    const replies = await Promise.all(Array.from({ length: 60 }, (_, i) => client.request("busy", enc(String(i)))));
    expect(replies).toHaveLength(60);
    expect(peak).toBe(3);
    expect(svc.stats().requests).toBe(60);
  });

  it("answers OverloadedError at once when the request queue is full, and keeps queued bytes within requestMemory", async () => {
    const ns = uniqueNamespace();
    const conn = await nats.open(ns);
    const release = deferred();
    const svc = await conn.register(
      "full",
      { handleRequest: async (req) => release.promise.then(() => req) },
      { requestThreads: 1, requestMemory: 1000 },
    );
    const client = await nats.open(ns);
    const first = client.request("full", new Uint8Array(400)); // runs at once
    await waitFor("first request running", () => svc.stats().requestsRunning === 1);
    const queued = [client.request("full", new Uint8Array(400)), client.request("full", new Uint8Array(400))];
    await waitFor("two queued", () => svc.stats().requestsQueuedBytes === 800);
    const started = Date.now();
    const over = await client.request("full", new Uint8Array(400), { timeout: 5000 }).catch((e: unknown) => e);
    expect(over).toBeInstanceOf(OverloadedError);
    expect((over as OverloadedError).retryable).toBe(true);
    expect(Date.now() - started).toBeLessThan(2500);
    // a small one still fits
    const small = client.request("full", new Uint8Array(200));
    await waitFor("small queued", () => svc.stats().requestsQueuedBytes === 1000);
    expect(svc.stats().overloaded).toBe(1);
    release.resolve();
    const done = await Promise.all([first, ...queued, small]);
    expect(done.map((d) => d.byteLength)).toEqual([400, 400, 400, 200]);
    expect(svc.stats().requestsPeakQueuedBytes).toBe(1000);
    expect(svc.stats().requestsPeakQueuedBytes).toBeLessThanOrEqual(svc.limits.requestMemory);
  });

  it("never queues a request larger than requestMemory while all handlers are busy", async () => {
    const ns = uniqueNamespace();
    const conn = await nats.open(ns);
    const release = deferred();
    const svc = await conn.register(
      "tiny",
      { handleRequest: async (req) => release.promise.then(() => req) },
      { requestThreads: 1, requestMemory: 100 },
    );
    const client = await nats.open(ns);
    const big = client.request("tiny", new Uint8Array(1000)); // starts at once: a free handler takes any size
    await waitFor("running", () => svc.stats().requestsRunning === 1);
    await expect(client.request("tiny", new Uint8Array(101))).rejects.toBeInstanceOf(OverloadedError);
    release.resolve();
    expect((await big).byteLength).toBe(1000);
  });

  it("skips requests whose caller has already given up, never handing them to the handler", async () => {
    const ns = uniqueNamespace();
    const conn = await nats.open(ns);
    const release = deferred();
    const seen: string[] = [];
    const svc = await conn.register(
      "late",
      {
        handleRequest: async (req) => {
          seen.push(new TextDecoder().decode(req));
          await release.promise;
          return req;
        },
      },
      { requestThreads: 1 },
    );
    const client = await nats.open(ns);
    const first = client.request("late", enc("first"), { timeout: 10_000 });
    await waitFor("first running", () => svc.stats().requestsRunning === 1);
    const second = client.request("late", enc("second"), { timeout: 100 });
    await expect(second).rejects.toBeInstanceOf(TimeoutError);
    // the member counts the caller's 100 ms from the request's arrival, a little
    // after the caller started counting: release only once that has passed too
    await new Promise((resolve) => setTimeout(resolve, 250));
    release.resolve();
    await first;
    await waitFor("second skipped", () => svc.stats().expired === 1);
    expect(seen).toEqual(["first"]);
    expect(svc.stats().requests).toBe(1);
  });

  it("limits broadcast handlers to broadcastThreads and drops, counts and survives broadcasts that do not fit", async () => {
    const ns = uniqueNamespace();
    const conn = await nats.open(ns);
    const release = deferred();
    let running = 0;
    let peak = 0;
    let handled = 0;
    const svc = await conn.register(
      "b",
      {
        handleBroadcast: async () => {
          running++;
          peak = Math.max(peak, running);
          await release.promise;
          running--;
          handled++;
        },
      },
      { broadcastThreads: 2, broadcastMemory: 300 },
    );
    const client = await nats.open(ns);
    for (let i = 0; i < 10; i++) await client.broadcast("b", new Uint8Array(100));
    await client.nats.flush();
    // 2 run, 3 fit in 300 bytes, 5 are dropped
    await waitFor("all arrived", () => {
      const s = svc.stats();
      return s.broadcastsRunning + s.broadcastsQueuedBytes / 100 + s.dropped === 10;
    });
    expect(svc.stats().dropped).toBe(5);
    expect(svc.stats().broadcastsQueuedBytes).toBe(300);
    release.resolve();
    await waitFor("handled", () => handled === 5);
    expect(peak).toBe(2);
    expect(svc.stats().broadcastsPeakQueuedBytes).toBeLessThanOrEqual(300);
    // still alive
    await client.broadcast("b", new Uint8Array(1));
    await waitFor("alive", () => handled === 6);
  });

  it("rejects limits that are not positive integers, and unknown keys, before registering", async () => {
    const conn = await nats.open(uniqueNamespace());
    const bad: unknown[] = [
      { requestThreads: 0 },
      { requestThreads: -1 },
      { requestThreads: 1.5 },
      { requestMemory: "64" },
      { requestThreads: Number.NaN },
      { requestThread: 4 },
      "lots",
      [1],
    ];
    const before = conn.nats.stats().outMsgs;
    for (const limits of bad) {
      await expect(
        conn.register("x", { handleRequest: (r) => r }, limits as never),
        JSON.stringify(limits),
      ).rejects.toBeInstanceOf(InvalidArgumentError);
    }
    await expect(conn.register("x", { handleRequest: (r) => r }, { requestThread: 4 } as never)).rejects.toThrow(
      /unknown key "requestThread"/,
    );
    expect(conn.nats.stats().outMsgs).toBe(before);
  });
});
