import type { MsgHdrs } from "@nats-io/nats-core";
import type { JetmeshError } from "../errors/index.js";

/**
 * How a request is tried again after a failure that is safe to retry. A
 * number is the attempts, with the other settings at their defaults.
 *
 * @example
 * ```ts
 * await conn.request("orders", bytes, { retry: { attempts: 5, backoff: 20 } });
 * ```
 */
export interface RetryOptions {
  /** Attempts in all, the first included (1 to 100). Default 3. */
  attempts?: number;
  /** The wait before the second attempt, in ms; each later wait doubles, up to `maxBackoff`, with full jitter. Default 25. */
  backoff?: number;
  /** The longest wait between attempts, in ms. Default 1 000. */
  maxBackoff?: number;
  /**
   * How long after the first attempt a `NoRespondersError` is still retried,
   * in ms: members restarting in a rolling deploy are away for a moment.
   * Default 2 000; 0 never retries it.
   */
  noRespondersGrace?: number;
  /**
   * Which other errors to retry. jetmesh retries only what never reached a
   * handler (`OverloadedError`, a `MemberLeftError` before handling, no
   * responders within the grace); with `idempotent: true` on the call also a
   * `MemberLeftError` of a member that left while handling it. Return true
   * to retry `err` as well (a `TimeoutError` or `RemoteError`, say, when you
   * know the handler may run twice).
   */
  retryOn?(err: JetmeshError): boolean;
}

/** What kind of call an interceptor sees. */
export type OutgoingKind = "request" | "broadcast" | "publish" | "tunnel" | "gather";

/** What kind of delivery a handler interceptor sees. */
export type IncomingKind = "request" | "broadcast" | "event" | "tunnel";

/** One outgoing call, as an interceptor sees it. It may replace the payload and set headers. */
export interface OutgoingCall {
  readonly kind: OutgoingKind;
  /** The cluster, or the topic of a publish. */
  readonly target: string;
  /** The method of a request or gather, when one was named. */
  readonly method: string | undefined;
  /** The bytes to send (none for a tunnel's set-up); an interceptor may replace them. */
  payload: Uint8Array;
  /** The headers the call goes out with; an interceptor may read and set them. */
  readonly headers: MsgHdrs;
  /** The call's time-out in ms (undefined for a broadcast). */
  readonly timeout: number | undefined;
}

/** One delivery to a handler, as an interceptor sees it. */
export interface IncomingCall {
  readonly kind: IncomingKind;
  /** The cluster, or the topic of an event. */
  readonly target: string;
  /** The method of a request, when it came to one. */
  readonly method: string | undefined;
  /** The bytes as they arrived (empty for a tunnel's set-up). */
  readonly payload: Uint8Array;
  /** The headers as they arrived. */
  readonly headers: MsgHdrs | undefined;
}

/**
 * Code around calls. `outgoing` wraps this connection's requests,
 * broadcasts, publishes, gathers and tunnel set-ups; `incoming` wraps
 * handlers (requests, methods, broadcasts, events, tunnel accepts). Each
 * calls `next()` to go on (and gets what the call resolves with: the reply,
 * the `PublishAck`, the `Tunnel`, or the handler's result), or throws to
 * refuse: an outgoing call rejects with the error; a refused request
 * reaches its caller as a `RemoteError` with the error's message and code.
 * Interceptors run in the order given, the first outermost; connection-wide
 * ones run outside a service's or subscription's own.
 *
 * @example
 * ```ts
 * const timing: Interceptor = {
 *   async incoming(call, next) {
 *     const t = performance.now();
 *     try { return await next(); } finally { console.log(call.kind, call.target, performance.now() - t); }
 *   },
 * };
 * ```
 */
export interface Interceptor {
  outgoing?(call: OutgoingCall, next: () => Promise<unknown>): Promise<unknown>;
  incoming?(call: IncomingCall, next: () => Promise<unknown>): Promise<unknown>;
}

/** Options of {@link Connection.gather}. */
export interface GatherOptions {
  /** How long to collect replies, in ms. Default: the connection's `timeout`. */
  timeout?: number;
  /** Stop after this many replies. Default: no limit. */
  max?: number;
  /** The method to call on every member; default the cluster's `handleRequest`. */
  method?: string;
  /** Ends the gathering early; the iteration then rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** One member's answer to a gather: its reply, or the error it answered. */
export type GatherReply =
  | { readonly member: string; readonly ok: true; readonly data: Uint8Array }
  | { readonly member: string; readonly ok: false; readonly error: JetmeshError };
