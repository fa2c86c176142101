/**
 * Retries of a request: which failures may be tried again, how long to wait
 * in between (exponential backoff with full jitter), all within the call's
 * one overall time-out and signal.
 */
import type { RetryOptions } from "../api/index.js";
import { validateOptions } from "../config/index.js";
import {
  InvalidArgumentError,
  type JetmeshError,
  MemberLeftError,
  NoRespondersError,
  OverloadedError,
} from "../errors/index.js";

export interface ResolvedRetry {
  readonly attempts: number;
  readonly backoff: number;
  readonly maxBackoff: number;
  readonly noRespondersGrace: number;
  readonly retryOn: ((err: JetmeshError) => boolean) | undefined;
}

const KEYS = ["attempts", "backoff", "maxBackoff", "noRespondersGrace", "retryOn"] as const;
const MAX_ATTEMPTS = 100;

/** `value` (retry options, or a number of attempts) checked, with defaults filled in. */
export function resolveRetry(what: string, value: RetryOptions | number): ResolvedRetry {
  const o: RetryOptions =
    typeof value === "number" ? { attempts: value } : validateOptions<RetryOptions>(what, value, KEYS);
  const int = (key: string, v: unknown, min: number, max: number, fallback: number): number => {
    if (v === undefined) return fallback;
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
      throw new InvalidArgumentError(
        `${what}${typeof value === "number" ? "" : `.${key}`} must be an integer from ${min} to ${max}, got ${String(v)}`,
      );
    }
    return v;
  };
  if (o.retryOn !== undefined && typeof o.retryOn !== "function") {
    throw new InvalidArgumentError(`${what}.retryOn must be a function`);
  }
  const backoff = int("backoff", o.backoff, 0, 60_000, 25);
  return {
    attempts: int("attempts", o.attempts, 1, MAX_ATTEMPTS, 3),
    backoff,
    maxBackoff: int("maxBackoff", o.maxBackoff, backoff, 600_000, Math.max(backoff, 1000)),
    noRespondersGrace: int("noRespondersGrace", o.noRespondersGrace, 0, 600_000, 2000),
    retryOn: o.retryOn,
  };
}

/**
 * Whether a failed attempt may be made again. Only what never reached a
 * handler is retried by default; `idempotent` adds what may have (a member
 * that left while handling it); `retryOn` adds what the caller says.
 * `elapsed`: ms since the first attempt.
 */
export function mayRetry(err: unknown, r: ResolvedRetry, idempotent: boolean, elapsed: number): boolean {
  if (err instanceof OverloadedError) return true;
  if (err instanceof MemberLeftError) return err.retryable || idempotent;
  if (err instanceof NoRespondersError) return elapsed < r.noRespondersGrace;
  if (r.retryOn && isJetmeshError(err)) {
    try {
      return r.retryOn(err) === true;
    } catch {
      return false;
    }
  }
  return false;
}

function isJetmeshError(err: unknown): err is JetmeshError {
  return err instanceof Error && typeof (err as JetmeshError).code === "string" && "retryable" in err;
}

/** The wait before retry `n` (1 for the first retry): a random time up to backoff x 2^(n-1), at most maxBackoff. */
export function backoffDelay(r: ResolvedRetry, n: number, random: () => number = Math.random): number {
  const ceiling = Math.min(r.maxBackoff, r.backoff * 2 ** Math.min(n - 1, 30));
  return Math.floor(random() * ceiling);
}

/**
 * Calls `attempt` with the time left until one of them succeeds, a failure
 * may not be retried, the attempts run out, or no time is left for another
 * one. The error of the last attempt is thrown, its message saying how many
 * attempts were made (and `attempts` set) when there was more than one.
 */
export async function withRetries<T>(
  r: ResolvedRetry,
  timeout: number,
  signal: AbortSignal | undefined,
  idempotent: boolean,
  attempt: (remaining: number) => Promise<T>,
): Promise<T> {
  const start = performance.now();
  for (let n = 1; ; n++) {
    const began = performance.now();
    const remaining = Math.ceil(timeout - (began - start));
    try {
      return await attempt(Math.max(1, remaining));
    } catch (err) {
      const now = performance.now();
      const elapsed = now - start;
      const wait = n < r.attempts && mayRetry(err, r, idempotent, elapsed) ? backoffDelay(r, n) : -1;
      // no attempt is started that could not have its reply before the time-out, going by the last one's
      if (wait < 0 || elapsed + wait + (now - began) >= timeout || signal?.aborted) throw counted(err, n);
      await sleep(wait, signal);
    }
  }
}

/** `err` of the last of `n` attempts, saying so. */
function counted(err: unknown, n: number): unknown {
  if (n > 1 && err instanceof Error) {
    err.message = `${err.message} (after ${n} attempts)`;
    (err as { attempts?: number }).attempts = n;
  }
  return err;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (ms <= 0 && !signal?.aborted) return Promise.resolve();
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
