import { describe, expect, it } from "vitest";
import { headersOf, intercepted, outgoingCall, outgoingChain, validateInterceptors } from "../../src/core/index.js";
import {
  InvalidArgumentError,
  MemberLeftError,
  NoRespondersError,
  OverloadedError,
  RemoteError,
  TimeoutError,
} from "../../src/errors/index.js";
import { backoffDelay, mayRetry, resolveRetry, withRetries } from "../../src/flow/index.js";
import type { IncomingCall, Interceptor, OutgoingCall } from "../../src/index.js";

describe("retry settings", () => {
  it("fills in defaults, takes a number as the attempts, and refuses nonsense", () => {
    expect(resolveRetry("retry", {})).toMatchObject({ attempts: 3, backoff: 25, maxBackoff: 1000 });
    expect(resolveRetry("retry", 7).attempts).toBe(7);
    expect(() => resolveRetry("retry", 0)).toThrow(InvalidArgumentError);
    expect(() => resolveRetry("retry", { attempts: 1.5 })).toThrow(/retry.attempts/);
    expect(() => resolveRetry("retry", { backoff: 100, maxBackoff: 10 })).toThrow(/maxBackoff/);
    expect(() => resolveRetry("retry", { retryOn: "yes" } as never)).toThrow(/retryOn/);
    expect(() => resolveRetry("retry", { attemps: 3 } as never)).toThrow(/unknown key/);
  });

  it("backs off exponentially with full jitter, within maxBackoff", () => {
    const r = resolveRetry("retry", { backoff: 10, maxBackoff: 100 });
    expect(backoffDelay(r, 1, () => 0.999)).toBe(9);
    expect(backoffDelay(r, 3, () => 0.999)).toBe(39);
    expect(backoffDelay(r, 30, () => 0.999)).toBe(99);
    expect(backoffDelay(r, 3, () => 0)).toBe(0);
  });

  it("retries only what never reached a handler, unless told", () => {
    const r = resolveRetry("retry", { noRespondersGrace: 1000 });
    const left = new MemberLeftError("left before");
    const abandoned = new MemberLeftError("left while", { retryable: false });
    expect(mayRetry(new OverloadedError("x"), r, false, 0)).toBe(true);
    expect(mayRetry(left, r, false, 0)).toBe(true);
    expect(mayRetry(abandoned, r, false, 0)).toBe(false);
    expect(mayRetry(abandoned, r, true, 0)).toBe(true);
    expect(mayRetry(new NoRespondersError("x"), r, false, 999)).toBe(true);
    expect(mayRetry(new NoRespondersError("x"), r, false, 1000)).toBe(false);
    expect(mayRetry(new RemoteError("x", "500"), r, true, 0)).toBe(false);
    expect(mayRetry(new TimeoutError("x"), r, true, 0)).toBe(false);
    const custom = resolveRetry("retry", {
      retryOn: (err) => err instanceof RemoteError && err.remoteCode === "503",
    });
    expect(mayRetry(new RemoteError("x", "503"), custom, false, 0)).toBe(true);
    expect(mayRetry(new RemoteError("x", "500"), custom, false, 0)).toBe(false);
    const throwing = resolveRetry("retry", {
      retryOn: () => {
        throw new Error("bad predicate");
      },
    });
    expect(mayRetry(new RemoteError("x", "500"), throwing, false, 0)).toBe(false);
  });

  it("gives each attempt the time left, and says how many attempts the last error took", async () => {
    const r = resolveRetry("retry", { attempts: 4, backoff: 1, maxBackoff: 1 });
    const given: number[] = [];
    const err = await withRetries(r, 5000, undefined, false, async (remaining) => {
      given.push(remaining);
      throw new OverloadedError("busy");
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OverloadedError);
    expect((err as OverloadedError).attempts).toBe(4);
    expect((err as Error).message).toBe("busy (after 4 attempts)");
    expect(given).toHaveLength(4);
    for (let i = 1; i < given.length; i++) expect(given[i]).toBeLessThanOrEqual(given[i - 1] as number);

    const once = await withRetries(r, 5000, undefined, false, async () => {
      throw new RemoteError("handler failed", "500");
    }).catch((e: unknown) => e);
    expect((once as RemoteError).attempts).toBeUndefined();
    expect((once as Error).message).toBe("handler failed");

    let calls = 0;
    const ok = await withRetries(r, 5000, undefined, false, async () => {
      if (++calls < 3) throw new OverloadedError("busy");
      return "done";
    });
    expect(ok).toBe("done");
    expect(calls).toBe(3);
  });

  it("starts no attempt the time left cannot hold, and stops waiting when the signal aborts", async () => {
    const r = resolveRetry("retry", { attempts: 100, backoff: 30, maxBackoff: 30 });
    let calls = 0;
    const t0 = performance.now();
    await expect(
      withRetries(r, 200, undefined, false, async () => {
        calls++;
        await new Promise((res) => setTimeout(res, 40));
        throw new OverloadedError("busy");
      }),
    ).rejects.toBeInstanceOf(OverloadedError);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(calls).toBeLessThan(10);

    const ac = new AbortController();
    const slow = resolveRetry("retry", { attempts: 5, backoff: 60_000, maxBackoff: 60_000 });
    const pending = withRetries(slow, 600_000, ac.signal, false, async () => {
      setTimeout(() => ac.abort(new Error("stop")), 10);
      throw new OverloadedError("busy");
    });
    await expect(pending).rejects.toThrow("stop");
  });
});

describe("interceptor chains", () => {
  const call = (): OutgoingCall => ({
    kind: "request",
    target: "c",
    method: undefined,
    payload: new Uint8Array(1),
    headers: new Map() as never,
    timeout: 100,
  });

  it("are nothing when no interceptor has a hook of that side", () => {
    const handler = (x: number) => x + 1;
    expect(outgoingChain([])).toBeUndefined();
    expect(outgoingChain([{ incoming: async (_c, next) => next() }])).toBeUndefined();
    expect(intercepted([], handler, () => ({}) as IncomingCall)).toBe(handler);
    expect(intercepted([{ outgoing: async (_c, next) => next() }], handler, () => ({}) as IncomingCall)).toBe(handler);
  });

  it("run in order, the first outermost, and give next() what the call resolved with", async () => {
    const log: string[] = [];
    const tag = (name: string): Interceptor => ({
      async outgoing(_c, next) {
        log.push(`${name} in`);
        const out = await next();
        log.push(`${name} out ${String(out)}`);
        return out;
      },
    });
    const chain = outgoingChain([tag("a"), tag("b")]);
    const result = await chain?.(call(), async () => {
      log.push("send");
      return "reply";
    });
    expect(result).toBe("reply");
    expect(log).toEqual(["a in", "b in", "send", "b out reply", "a out reply"]);
  });

  it("refuse a call when an interceptor throws, even synchronously, and refuse next() twice", async () => {
    let sent = 0;
    const send = async () => ++sent;
    const sync = outgoingChain([
      {
        outgoing() {
          throw new InvalidArgumentError("no");
        },
      },
    ]);
    await expect(sync?.(call(), send)).rejects.toThrow("no");
    const twice = outgoingChain([
      {
        async outgoing(_c, next) {
          await next();
          return next();
        },
      },
    ]);
    await expect(twice?.(call(), send)).rejects.toThrow(/next\(\) twice/);
    expect(sent).toBe(1);
  });

  it("turn a delivery that cannot be described into a rejection, not a throw", async () => {
    const handler = intercepted(
      [{ incoming: async (_c, next) => next() }],
      (x: number) => x,
      () => {
        throw new Error("malformed headers");
      },
    );
    let thrown = false;
    let result: unknown;
    try {
      result = handler(1);
    } catch {
      thrown = true;
    }
    expect(thrown).toBe(false);
    await expect(result).rejects.toThrow("malformed headers");
  });

  it("make an outgoing call's headers only when an interceptor reads them", () => {
    const untouched = outgoingCall("request", "c", undefined, new Uint8Array(1), 100);
    expect(headersOf(untouched)).toBeUndefined();
    const touched = outgoingCall("publish", "t", undefined, new Uint8Array(1), 100);
    touched.headers.set("x-a", "1");
    expect(headersOf(touched)?.get("x-a")).toBe("1");
    expect(touched.headers).toBe(headersOf(touched));
  });

  it("check what they are given", () => {
    expect(validateInterceptors("interceptors", undefined)).toEqual([]);
    expect(() => validateInterceptors("interceptors", {})).toThrow(/must be an array/);
    expect(() => validateInterceptors("interceptors", [null])).toThrow(/interceptors\[0\]/);
    expect(() => validateInterceptors("interceptors", [{}])).toThrow(/neither/);
    expect(() => validateInterceptors("interceptors", [{ outgoing: 1 }])).toThrow(/outgoing must be a function/);
  });
});
