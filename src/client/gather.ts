/**
 * Scatter-gather: one request to every member of a cluster, each member's
 * answer yielded as it comes.
 *
 * On the wire: the request goes to `<ns>.all.<cluster>[.<method>]` (every
 * member subscribes, no queue group) with `Jetmesh-Timeout` and a reply
 * subject of its own (one inbox subscription per gather). Each member
 * answers there with `Jetmesh-Member: <id>`: first at once an ack
 * (`Jetmesh-Gather: ack`, no data) saying it got the request, then its final
 * answer, the reply bytes or the error headers of a failed request. An
 * overloaded member sends only the final error answer. With no member at
 * all, the server answers the reply subject with a 503 (no responders).
 *
 * It ends at the time-out, after `max` final answers, at the 503, or once
 * every member present (that sent an ack or an answer) has answered and no
 * new one has shown up for the settle window: max(20 ms, 2 x how long the
 * first sign of life took after the publish). Members get the request at the
 * same moment and ack it at once, so one that has not acked within twice the
 * first one's round trip is most likely not there; the time-out still bounds
 * the wait for a late one.
 */
import { createInbox, headers, type Msg, type MsgHdrs, type Subscription } from "@nats-io/nats-core";
import type { GatherOptions, GatherReply, Logger } from "../api/index.js";
import { validateName, validateOptions, validatePayload, validateSignal, validateTimeout } from "../config/index.js";
import { headersOf, type OutgoingChain, outgoingCall, type Runtime } from "../core/index.js";
import { fromNatsError, InvalidArgumentError } from "../errors/index.js";
import { safeCallback, ThrottledWarning } from "../logging/index.js";
import { ATTR, endSpan, SpanKind } from "../telemetry/index.js";
import { checkPayloadSize, copyBytes, errorOfReply, HEADER, maxPayload, NO_RESPONDERS_STATUS } from "../wire/index.js";

const KEYS = ["timeout", "max", "method", "signal"] as const;
/** The settle window is at least this long, in ms, */
const SETTLE_MIN_MS = 20;
/** and at least this many times the first sign of life's round trip. */
const SETTLE_FACTOR = 2;
/** The `Jetmesh-Gather` value of a member's ack. */
const ACK = "ack";
/** Member ids longer than this are not ids: the answer is ignored. */
const MAX_MEMBER_ID = 256;

/** One gather, validated. */
interface GatherCall {
  subject: string;
  cluster: string;
  payload: Uint8Array;
  timeout: number;
  max: number;
  signal: AbortSignal | undefined;
  /** `gather from cluster "x"`, for messages. */
  what: string;
  method: string | undefined;
  /** An interceptor's headers; undefined: the deadline's alone. */
  headers: MsgHdrs | undefined;
}

/** `conn.gather()`: validated here, before anything touches the network; sent when the iteration starts. */
export function gather(
  rt: Runtime,
  cluster: string,
  payload: Uint8Array,
  options: GatherOptions | undefined,
  closing: AbortSignal,
  outgoing?: OutgoingChain,
): AsyncIterable<GatherReply> {
  validateName("cluster", cluster);
  validatePayload("payload", payload);
  const o = validateOptions<GatherOptions>("options", options, KEYS);
  const timeout = validateTimeout("options.timeout", o.timeout, rt.timeout);
  if (o.max !== undefined && (typeof o.max !== "number" || !Number.isSafeInteger(o.max) || o.max < 1)) {
    throw new InvalidArgumentError(`options.max must be a positive integer, got ${String(o.max)}`);
  }
  const method = o.method === undefined ? undefined : validateName("options.method", o.method);
  const signal = validateSignal(o.signal);
  const what = `gather from cluster "${cluster}"`;
  checkPayloadSize(rt.nc, what, payload);
  const subject = rt.subjects.gather(cluster, method);
  const call = { subject, cluster, payload, timeout, max: o.max ?? Infinity, signal, what, method, headers: undefined };
  return collect(rt, call, closing, outgoing);
}

/** The iteration: one gather per iterator (a generator runs once), released however it ends. */
async function* collect(
  rt: Runtime,
  call: GatherCall,
  closing: AbortSignal,
  outgoing: OutgoingChain | undefined,
): AsyncGenerator<GatherReply, void> {
  call.signal?.throwIfAborted();
  closing.throwIfAborted();
  let g: Gathering | undefined;
  if (outgoing === undefined) g = new Gathering(rt, call, closing);
  else {
    // the interceptors see the request go out: next() resolves once it is sent
    const intercepted = outgoingCall("gather", call.cluster, call.method, call.payload, call.timeout);
    try {
      await outgoing(intercepted, async (sent) => {
        if (sent.payload !== call.payload) {
          validatePayload("the payload an interceptor set on a gather", sent.payload);
        }
        const hdrs = headersOf(sent);
        checkPayloadSize(rt.nc, call.what, sent.payload, 0, hdrs);
        g = new Gathering(rt, { ...call, payload: sent.payload, headers: hdrs }, closing);
      });
    } catch (err) {
      // an interceptor that fails after the gather went out: it is released
      (g as Gathering | undefined)?.end(undefined);
      throw err;
    }
    if (g === undefined) return;
  }
  try {
    for (let r = await g.next(); r !== undefined; r = await g.next()) yield r;
  } finally {
    // a break out of the loop lands here too: members still working on it may stop
    g.cancelUnanswered();
    g.end(undefined);
  }
}

/** Throttled per logger (per connection), not per gather. */
const malformedWarnings = new WeakMap<Logger, ThrottledWarning>();

type Span = ReturnType<Runtime["telemetry"]["start"]>;

/** One gather in flight: its inbox subscription, timers, the members seen, and the answers not yet taken. */
class Gathering {
  readonly #rt: Runtime;
  readonly #call: GatherCall;
  readonly #closing: AbortSignal;
  readonly #span: Span | undefined;
  readonly #present = new Set<string>();
  readonly #answered = new Set<string>();
  readonly #ready: GatherReply[] = [];
  readonly #onAbort = (): void => {
    this.cancelUnanswered();
    this.end({ error: this.#call.signal?.reason });
  };
  readonly #onClose = (): void => {
    this.cancelUnanswered();
    this.end({ error: this.#closing.reason });
  };
  #inbox = "";
  #sub: Subscription | undefined;
  #unwatch: (() => void) | undefined;
  #deadline: ReturnType<typeof setTimeout> | undefined;
  #settleTimer: ReturnType<typeof setTimeout> | undefined;
  #sentAt = 0;
  /** The settle window, in ms, set at the first sign of life. */
  #window = 0;
  /** When the last member not seen before showed up. */
  #lastNewAt = 0;
  #done = false;
  #failure: { error: unknown } | undefined;
  #waiter: { resolve(r: GatherReply | undefined): void; reject(err: unknown): void } | undefined;

  constructor(rt: Runtime, call: GatherCall, closing: AbortSignal) {
    this.#rt = rt;
    this.#call = call;
    this.#closing = closing;
    const t = rt.telemetry;
    this.#span = t.tracing
      ? t.start("gather", call.cluster, SpanKind.CLIENT, {
          [ATTR.destination]: call.subject,
          [ATTR.operationType]: "send",
          [ATTR.bodySize]: call.payload.byteLength,
          [ATTR.cluster]: call.cluster,
        })
      : undefined;
    try {
      this.#start();
    } catch (err) {
      const failure = fromNatsError(err, call.what);
      this.end({ error: failure });
      throw failure;
    }
  }

  /** The next answer; undefined once it ended; rejects when it failed (the answers not taken are dropped). */
  next(): Promise<GatherReply | undefined> {
    if (this.#failure) return Promise.reject(this.#failure.error);
    const r = this.#ready.shift();
    if (r !== undefined || this.#done) return Promise.resolve(r);
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject };
    });
  }

  /**
   * The caller gives up before the end: members that acked and have not
   * answered are told (as a cancelled request's are), so their handlers' signals abort.
   */
  cancelUnanswered(): void {
    // members that have not acked yet may be working on it too: the cancellation goes to all
    if (this.#done) return;
    this.#rt.requester.cancel(this.#call.cluster, this.#inbox);
  }

  /** Ends the gather (idempotent): everything released; `failure` rejects the iteration. */
  end(failure: { error: unknown } | undefined): void {
    if (this.#done) return;
    this.#done = true;
    this.#failure = failure;
    clearTimeout(this.#deadline);
    clearTimeout(this.#settleTimer);
    this.#call.signal?.removeEventListener("abort", this.#onAbort);
    this.#closing.removeEventListener("abort", this.#onClose);
    this.#unwatch?.();
    try {
      this.#sub?.unsubscribe();
    } catch {
      // the connection is already closed
    }
    if (this.#span) endSpan(this.#span, failure?.error);
    const waiter = this.#waiter;
    this.#waiter = undefined;
    if (waiter && failure) waiter.reject(failure.error);
    else waiter?.resolve(undefined);
  }

  #start(): void {
    const { nc, logger, denials } = this.#rt;
    const { subject, payload, timeout, signal, what } = this.#call;
    const inbox = createInbox(this.#rt.inboxPrefix);
    this.#inbox = inbox;
    // a refused publish is told only on the status stream: watch for it before publishing
    this.#unwatch = denials.watch(
      (s) => s === subject,
      (violation) => this.end({ error: fromNatsError(violation, what) }),
    );
    this.#sub = nc.subscribe(inbox, {
      callback: safeCallback(logger, "gather answer", (err, msg) => {
        if (err) this.end({ error: fromNatsError(err, what) });
        else if (!this.#done) this.#onAnswer(msg);
      }),
    });
    signal?.addEventListener("abort", this.#onAbort, { once: true });
    this.#closing.addEventListener("abort", this.#onClose, { once: true });
    this.#deadline = setTimeout(() => this.end(undefined), timeout);
    this.#sentAt = performance.now();
    nc.publish(subject, payload, { reply: inbox, headers: this.#headers() });
  }

  /** `Jetmesh-Timeout`, and the span's trace context when it fits the server's max payload. */
  #headers(): MsgHdrs {
    const { telemetry: t, nc } = this.#rt;
    const { timeout, payload } = this.#call;
    const h = this.#call.headers ?? headers();
    h.set(HEADER.timeout, String(timeout));
    if (this.#span) t.injectFitting(this.#span, h, payload, maxPayload(nc));
    return h;
  }

  #onAnswer(msg: Msg): void {
    let h: MsgHdrs | undefined;
    try {
      h = msg.headers;
    } catch {
      this.#malformed(msg, "unreadable headers");
      return;
    }
    if (h?.code === NO_RESPONDERS_STATUS) {
      // the server delivered the request to nobody: no member at all
      if (this.#present.size === 0) this.end(undefined);
      else this.#malformed(msg, "a no-responders status after members answered");
      return;
    }
    const member = h?.get(HEADER.member) ?? "";
    if (member === "" || member.length > MAX_MEMBER_ID) {
      this.#malformed(msg, "no member id");
      return;
    }
    const kind = h?.get(HEADER.gather) ?? "";
    if (kind === ACK) {
      if (!this.#present.has(member)) this.#arrived(member);
      return;
    }
    if (kind !== "") {
      this.#malformed(msg, `unknown ${HEADER.gather} value`);
      return;
    }
    if (this.#answered.has(member)) {
      this.#malformed(msg, "a second answer from one member");
      return;
    }
    let error: ReturnType<typeof errorOfReply>;
    try {
      error = errorOfReply(h, this.#call.cluster);
    } catch {
      this.#malformed(msg, "unreadable error headers");
      return;
    }
    if (!this.#present.has(member)) this.#arrived(member);
    this.#answered.add(member);
    this.#push(error ? { member, ok: false, error } : { member, ok: true, data: copyBytes(msg.data) });
    if (this.#answered.size >= this.#call.max) {
      this.cancelUnanswered();
      this.end(undefined);
    } else this.#settle();
  }

  /** A member not seen before showed up; the first one sets the settle window. */
  #arrived(member: string): void {
    const now = performance.now();
    if (this.#present.size === 0) this.#window = Math.max(SETTLE_MIN_MS, SETTLE_FACTOR * (now - this.#sentAt));
    this.#present.add(member);
    this.#lastNewAt = now;
  }

  /** Ends once every member present answered and none new showed up for the settle window. */
  #settle(): void {
    if (this.#done || this.#answered.size < this.#present.size) return;
    const wait = this.#lastNewAt + this.#window - performance.now();
    if (wait <= 0) {
      this.end(undefined);
      return;
    }
    clearTimeout(this.#settleTimer);
    this.#settleTimer = setTimeout(() => this.#settle(), Math.ceil(wait));
  }

  #push(reply: GatherReply): void {
    const waiter = this.#waiter;
    this.#waiter = undefined;
    if (waiter) waiter.resolve(reply);
    else this.#ready.push(reply);
  }

  #malformed(msg: Msg, why: string): void {
    const { logger } = this.#rt;
    let warning = malformedWarnings.get(logger);
    if (warning === undefined) {
      warning = new ThrottledWarning(logger, "gather answer that does not follow the protocol ignored");
      malformedWarnings.set(logger, warning);
    }
    warning.note({ subject: msg.subject, cluster: this.#call.cluster, why });
  }
}
