/**
 * Time-outs follow the monotonic clock: a step of the wall clock (NTP, a
 * suspended VM, a hand-set date) neither fires them early nor holds them back.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { TimeoutError } from "../src/index.js";
import { deferred, enc, uniqueNamespace, useNats, waitFor } from "./helpers.js";

const nats = useNats();

/** From now on, Date.now() reads `offset` ms off the real wall clock. */
function stepWallClock(offset: number): void {
  const real = Date.now.bind(Date);
  vi.spyOn(Date, "now").mockImplementation(() => real() + offset);
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("time-outs", () => {
  for (const step of [-5_000, 5_000]) {
    it(`of requests fire on time when the wall clock steps ${step > 0 ? "forward" : "back"} 5 s`, async () => {
      const ns = uniqueNamespace();
      const member = await nats.open(ns);
      const got = deferred();
      let signal: AbortSignal | undefined;
      await member.register("sleepy", {
        handleRequest: (_req, ctx) => {
          signal = ctx.signal;
          got.resolve();
          return new Promise(() => {});
        },
      });
      const client = await nats.open(ns);
      const t0 = performance.now();
      const pending = client.request("sleepy", enc("x"), { timeout: 400 }).catch((e: unknown) => e);
      await got.promise;
      stepWallClock(step);
      const err = await pending;
      const took = performance.now() - t0;
      expect(err).toBeInstanceOf(TimeoutError);
      expect(took).toBeGreaterThanOrEqual(390);
      expect(took).toBeLessThan(2_500);
      // the handler's signal aborts at the caller's deadline, not 5 s off
      await waitFor("handler signal aborted", () => signal?.aborted === true, 2_500);
    });
  }

  it("give handlers a remaining time that ignores a wall-clock step", async () => {
    const ns = uniqueNamespace();
    const member = await nats.open(ns);
    const seen = deferred<number>();
    await member.register("remaining", {
      handleRequest: (_req, ctx) => {
        stepWallClock(-60_000);
        seen.resolve(ctx.remaining());
        return enc("ok");
      },
    });
    const client = await nats.open(ns);
    await client.request("remaining", enc("x"), { timeout: 5_000 });
    const left = await seen.promise;
    expect(left).toBeGreaterThan(3_000);
    expect(left).toBeLessThanOrEqual(5_000);
  });
});
