/**
 * Request dispatch of one member: a queue-group subscription per endpoint
 * (`handleRequest` and each method) and a plain one per endpoint for
 * gathers, all under the service's one set of limits; deadline checks,
 * cancellations, replies and error replies.
 */
import { Empty, type Msg, type MsgHdrs, headers as newHeaders, type Subscription } from "@nats-io/nats-core";
import type { Span } from "@opentelemetry/api";
import type { MethodStats, RequestHandler } from "../api/index.js";
import { DEFAULTS, typeName } from "../config/index.js";
import type { Runtime } from "../core/index.js";
import { CancelledError, ContractViolation, TimeoutError } from "../errors/index.js";
import { BoundedQueue, Deadlines, settlesWithin } from "../flow/index.js";
import { safeCallback, ThrottledWarning } from "../logging/index.js";
import { ATTR, endSpan, SpanKind, withSpan } from "../telemetry/index.js";
import {
  codeOf,
  copyBytes,
  ERROR_KIND,
  type ErrorKind,
  errorHeaders,
  FrozenHeaders,
  HEADER,
  maxPayload,
  parseTimeoutHeader,
  REQUEST_QUEUE,
  soleTimeout,
} from "../wire/index.js";
import { Refusal } from "./refusal.js";
import { RequestContextImpl, type RequestSource } from "./request-context.js";

/**
 * A request on its way through the member. It keeps only what it needs (not
 * the NATS message, whose bytes view the socket's read buffer): the data is
 * copied when queued, so the bytes a queue holds are the bytes it counts.
 */
class Job implements RequestSource {
  /** Its caller cancelled it while it waited: it is skipped. */
  cancelled = false;
  data: Uint8Array = Empty;
  /** When the caller gives up, on the monotonic clock; Infinity when it sent no time-out. */
  due = Number.POSITIVE_INFINITY;
  /** When it arrived, then when the handler started (performance.now()). */
  started = 0;
  /** It waited in the queue before its handler ran. */
  queued = false;
  /** Its handler is running (one that did not end at once is also in the dispatcher's set of those). */
  running = false;
  /** The handler's span, when tracing. */
  span: Span | undefined = undefined;
  /** The handler's context, once it runs. */
  ctx: RequestContextImpl<Job> | undefined = undefined;
  /** The caller has its answer (a late reply of an abandoned handler is not sent). */
  answered = false;
  #headers: MsgHdrs | undefined = undefined;
  /** The caller's time-out when it was the request's only header, read from the bytes (0: none): see {@link headers}. */
  #soleTimeout = 0;

  constructor(
    /** What it was sent to. */
    readonly endpoint: Endpoint,
    /** Sent to every member (a gather): answers say which member sent them. */
    readonly gather: boolean,
    readonly subject: string,
    readonly reply: string,
  ) {}

  /**
   * The request's headers. A request whose only header is its deadline had
   * its time-out read from the bytes (`soleTimeout`), and its headers are
   * made here from it, the same as the client would have decoded them, only
   * when something reads them (a handler, an interceptor, tracing).
   */
  get headers(): MsgHdrs | undefined {
    if (this.#soleTimeout !== 0) {
      const h = newHeaders();
      h.set(HEADER.timeout, String(this.#soleTimeout));
      this.#headers = h;
      this.#soleTimeout = 0;
    }
    return this.#headers;
  }

  /** Its headers as the client decoded them; or, `sole`, only its deadline header (with that time-out). */
  setHeaders(decoded: MsgHdrs | undefined, sole = 0): void {
    this.#headers = decoded;
    this.#soleTimeout = sole;
  }
}

/** One thing requests are sent to: `handleRequest` (`method` undefined) or a method. */
export interface EndpointPlan {
  method: string | undefined;
  handle: RequestHandler;
}

/** An endpoint and its counters. */
export class Endpoint {
  requests = 0;
  errors = 0;
  overloaded = 0;
  expired = 0;
  malformed = 0;
  cancelled = 0;
  /** Milliseconds spent in handlers, in total (for the average). */
  processingTime = 0;
  /** Requests that arrived, whatever became of them (micro STATS). */
  received = 0;
  /** The message of the last failure (micro STATS). */
  lastError = "";

  constructor(
    readonly method: string | undefined,
    readonly handle: RequestHandler,
    /** Where its requests come, in queue group {@link REQUEST_QUEUE}. */
    readonly subject: string,
    /** Where its gathers come, to every member. */
    readonly gatherSubject: string,
  ) {}

  /** Its name as a micro endpoint: the method, or `request`. */
  get name(): string {
    return this.method ?? "request";
  }

  stats(): MethodStats {
    const { requests, errors, processingTime, overloaded, expired, malformed, cancelled } = this;
    return {
      requests,
      requestErrors: errors,
      processingTime,
      averageProcessingTime: requests === 0 ? 0 : processingTime / requests,
      overloaded,
      expired,
      malformed,
      cancelled,
    };
  }
}

/** The longest cancellation understood: a reply subject (or a connection's reply prefix). */
const MAX_CANCEL_BYTES = 512;
const decoder = new TextDecoder();

export class RequestDispatcher {
  readonly refusal: Refusal;
  readonly endpoints: readonly Endpoint[];
  readonly queue: BoundedQueue<Job>;
  readonly #subs: Subscription[] = [];
  /** Cancellations: kept until the service stops, so that a caller's abort reaches a handler during the drain. */
  #cancelSub: Subscription | undefined;
  /** Headers of gather answers: this member's id. */
  readonly #memberHeaders: FrozenHeaders;
  /** Headers of the first answer to a gather: it arrived here. */
  readonly #ackHeaders: FrozenHeaders;
  readonly #failures: ThrottledWarning;
  /** One throttled warning per kind of malformed request. */
  readonly #malformedWarnings = new Map<string, ThrottledWarning>();
  readonly #attributes: { [ATTR.cluster]: string };
  /** Requests whose handler is running. */
  readonly #running = new Set<Job>();
  /** Aborts the signal of a running handler at its caller's deadline (one timer for all). */
  readonly #deadlines = new Deadlines<Job>((job) =>
    job.ctx?.abort(new TimeoutError(`the caller's time-out passed (cluster "${this.cluster}")`)),
  );
  /** What a context calls when its handler asks for the signal: one function for every request. */
  readonly #watchJob = (job: Job): void => this.#watch(job);
  /** Why handlers' signals abort from now on (the service stopped). */
  #stopped: Error | undefined;

  constructor(
    private readonly rt: Runtime,
    private readonly cluster: string,
    private readonly memberId: string,
    plans: readonly EndpointPlan[],
    threads: number,
    memory: number,
  ) {
    this.endpoints = plans.map(
      (p) =>
        new Endpoint(p.method, p.handle, rt.subjects.request(cluster, p.method), rt.subjects.gather(cluster, p.method)),
    );
    this.#memberHeaders = FrozenHeaders.of({ [HEADER.member]: memberId });
    this.#ackHeaders = FrozenHeaders.of({ [HEADER.member]: memberId, [HEADER.gather]: "ack" });
    this.#failures = new ThrottledWarning(rt.logger, "handleRequest threw; the caller got a RemoteError");
    this.#attributes = { [ATTR.cluster]: cluster };
    this.refusal = new Refusal(rt, cluster, "requests");
    this.queue = new BoundedQueue<Job>(
      threads,
      memory,
      (job) => this.#run(job),
      (err) => rt.logger.error({ cluster, err }, "request dispatch failed"),
      (job) => {
        // it waits: its bytes are copied (they view the socket's buffer), and its start is read again when it runs
        job.data = copyBytes(job.data);
        job.queued = true;
        return job;
      },
    );
  }

  /** Totals over every endpoint. */
  total(): MethodStats & { received: number } {
    const t = {
      requests: 0,
      requestErrors: 0,
      processingTime: 0,
      averageProcessingTime: 0,
      overloaded: 0,
      expired: 0,
      malformed: 0,
      cancelled: 0,
      received: 0,
    };
    for (const e of this.endpoints) {
      const s = e.stats();
      t.requests += s.requests;
      t.requestErrors += s.requestErrors;
      t.processingTime += s.processingTime;
      t.overloaded += s.overloaded;
      t.expired += s.expired;
      t.malformed += s.malformed;
      t.cancelled += s.cancelled;
      t.received += e.received;
    }
    t.averageProcessingTime = t.requests === 0 ? 0 : t.processingTime / t.requests;
    return t;
  }

  subscribe(): void {
    const { nc, logger } = this.rt;
    for (const e of this.endpoints) {
      this.#subs.push(
        nc.subscribe(e.subject, {
          queue: REQUEST_QUEUE,
          callback: safeCallback(logger, "request dispatch", (err, msg) => this.#arrive(err, msg, e, false)),
        }),
        nc.subscribe(e.gatherSubject, {
          callback: safeCallback(logger, "gather dispatch", (err, msg) => this.#arrive(err, msg, e, true)),
        }),
      );
    }
    this.#cancelSub = nc.subscribe(this.rt.subjects.cancel(this.cluster), {
      callback: safeCallback(logger, "request cancellation", (err, msg) => this.#cancel(err, msg)),
    });
  }

  /** Stops taking requests; those already on their way (within `ms`) are still queued. */
  async drain(ms: number): Promise<void> {
    await settlesWithin(Promise.all(this.#subs.map((sub) => sub.drain())), ms);
    this.queue.close();
  }

  /**
   * The member leaves without waiting any longer: each request still queued
   * is answered at once that the member left before handling it (safe to send
   * again), and each whose handler still runs, that the member left while
   * handling it. Late replies of those handlers are not sent.
   */
  abandon(): void {
    for (const job of this.queue.takeQueued()) {
      this.#replyError(job, ERROR_KIND.left, `member ${this.memberId} left before handling the request`);
    }
    for (const job of this.#running) {
      this.#replyError(
        job,
        ERROR_KIND.abandoned,
        `member ${this.memberId} left while handling the request; it may have been handled`,
      );
    }
  }

  /** Aborts the signal of every handler running now and of every one that starts later. */
  stop(reason: Error): void {
    this.#stopped = reason;
    try {
      this.#cancelSub?.unsubscribe();
    } catch {
      // the connection is closed already
    }
    for (const job of this.#running) {
      job.ctx?.abort(reason);
      // aborted now: its deadline must not keep the process alive
      if (job.ctx?.watched) this.#deadlines.remove(job);
    }
  }

  #arrive(err: Error | null, msg: Msg, endpoint: Endpoint, gather: boolean): void {
    endpoint.received++;
    if (err) {
      this.refusal.note(err);
      return;
    }
    const reply = msg.reply;
    if (!reply) {
      this.#malformed(
        endpoint,
        msg.subject,
        "request without a reply subject dropped",
        "a request without a reply subject",
      );
      return;
    }
    // the subject is the endpoint's own (its subscriptions have no wildcard): not decoded again
    const job = new Job(endpoint, gather, gather ? endpoint.gatherSubject : endpoint.subject, reply);
    const now = performance.now();
    job.started = now;
    // nearly every request carries its deadline alone: read from the bytes, its headers are made only if asked for
    const sole = soleTimeout(msg);
    if (sole !== undefined) {
      job.setHeaders(undefined, sole);
      job.due = now + sole;
    } else if (!this.#readHeaders(job, msg, now)) return;
    job.data = msg.data;
    const size = job.data.byteLength;
    // a gather's caller learns at once that this member got it (its answer follows); sent before the
    // handler may run and answer, and only when the request will be taken
    if (gather && this.queue.fits(size)) this.#send(reply, Empty, this.#ackHeaders);
    if (!this.queue.offer(job, size)) {
      endpoint.overloaded++;
      this.#replyError(job, ERROR_KIND.overloaded, `member ${this.memberId} is overloaded, retry later`);
    }
  }

  /**
   * Reads `msg`'s headers into `job` as the client decodes them, and its
   * deadline from them; false when they are malformed (the caller was told).
   */
  #readHeaders(job: Job, msg: Msg, now: number): boolean {
    let headers: MsgHdrs | undefined;
    try {
      headers = msg.headers;
    } catch {
      this.#malformed(job.endpoint, msg.subject, "malformed request headers", "malformed request headers", job);
      return false;
    }
    job.setHeaders(headers);
    const timeout = headers?.get(HEADER.timeout);
    if (!timeout) return true;
    const ms = parseTimeoutHeader(timeout);
    if (ms === undefined) {
      const shown = timeout.length > 40 ? `${timeout.slice(0, 40)}...` : timeout;
      this.#malformed(
        job.endpoint,
        msg.subject,
        `malformed ${HEADER.timeout} header`,
        `malformed request: ${HEADER.timeout} must be a whole number of ms from 1 to ${DEFAULTS.maxTimeout}, got ${JSON.stringify(shown)}`,
        job,
      );
      return false;
    }
    job.due = now + ms;
    return true;
  }

  /**
   * A caller gave up: the payload is its request's reply subject, or its
   * connection's reply prefix (ending in `.`) for every request it made. A
   * waiting request is skipped; a running one has its signal aborted and its
   * reply is not sent. Nobody is answered: the caller is gone.
   */
  #cancel(err: Error | null, msg: Msg): void {
    if (err) {
      this.refusal.note(err);
      return;
    }
    if (this.#running.size === 0 && this.queue.queued === 0) return;
    const data = msg.data;
    if (data.byteLength === 0 || data.byteLength > MAX_CANCEL_BYTES) return;
    const target = decoder.decode(data);
    // a connection's prefix matches the requests made with exactly that prefix (their id has no dot), nothing longer
    const all = target.endsWith(".");
    const matches = (job: Job) =>
      all ? job.reply.length > target.length && replyPrefix(job.reply) === target : job.reply === target;
    const why = all ? "its caller's connection closed" : "its caller cancelled it";
    this.queue.forEachQueued((job) => {
      if (!job.cancelled && matches(job)) {
        job.cancelled = true;
        job.endpoint.cancelled++;
      }
    });
    for (const job of this.#running) {
      if (!job.answered && matches(job)) {
        job.answered = true;
        job.endpoint.cancelled++;
        job.ctx?.abort(new CancelledError(`request to cluster "${this.cluster}": ${why}`));
      }
    }
  }

  /**
   * A request that cannot be understood: counted, logged (throttled per
   * `kind`) and answered BAD_REQUEST when it has a reply subject.
   */
  #malformed(endpoint: Endpoint, subject: string, kind: string, why: string, job?: Job): void {
    endpoint.malformed++;
    endpoint.lastError = why;
    let warning = this.#malformedWarnings.get(kind);
    if (warning === undefined) {
      warning = new ThrottledWarning(this.rt.logger, job ? `${kind}; answered BAD_REQUEST` : kind);
      this.#malformedWarnings.set(kind, warning);
    }
    warning.note({ cluster: this.cluster, subject, err: why, total: endpoint.malformed });
    if (job) this.#replyError(job, ERROR_KIND.badRequest, why);
  }

  #run(job: Job): unknown {
    if (job.cancelled) return undefined;
    const endpoint = job.endpoint;
    // one that starts as it arrives started when it arrived (its deadline is later by at least 1 ms)
    const now = job.queued ? performance.now() : job.started;
    if (job.due <= now) {
      endpoint.expired++;
      return undefined;
    }
    endpoint.requests++;
    const ctx = new RequestContextImpl(this.cluster, endpoint.method, job, this.#watchJob);
    job.ctx = ctx;
    job.running = true;
    job.started = now;
    let out: unknown;
    try {
      if (this.rt.telemetry.tracing) {
        const parent = this.rt.telemetry.extract(job);
        const span = this.#startSpan(job, parent);
        job.span = span;
        out = withSpan(span, () => endpoint.handle(job.data, ctx), parent);
      } else {
        out = endpoint.handle(job.data, ctx);
      }
    } catch (err) {
      this.#failed(job, err);
      return undefined;
    }
    if (isThenable(out)) {
      // only a handler that did not end at once can be seen running (by a cancellation, a stop, an abandon)
      this.#running.add(job);
      return Promise.resolve(out).then(
        (value: unknown) => this.#reply(job, value),
        (err: unknown) => this.#failed(job, err),
      );
    }
    this.#reply(job, out);
    return undefined;
  }

  /** The handler asked for its signal: it aborts at the caller's deadline, or now if the service stopped. */
  #watch(job: Job): void {
    // read after the handler ended: nothing to abort, and nothing may hold the request
    if (!job.running) return;
    if (this.#stopped) job.ctx?.abort(this.#stopped);
    else if (job.due !== Number.POSITIVE_INFINITY) {
      this.#deadlines.add(job, Math.max(1, Math.ceil(job.due - performance.now())));
    }
  }

  #startSpan(job: Job, parent: ReturnType<Runtime["telemetry"]["extract"]>): Span {
    return this.rt.telemetry.start(
      "process",
      this.cluster,
      SpanKind.SERVER,
      {
        [ATTR.destination]: job.subject,
        [ATTR.operationType]: "process",
        [ATTR.bodySize]: job.data.byteLength,
        [ATTR.consumerGroup]: this.cluster,
        [ATTR.cluster]: this.cluster,
        [ATTR.member]: this.memberId,
      },
      parent,
    );
  }

  /** The handler is done (`err`: it failed, and the caller gets `err`'s code): time, span, histogram; its signal is let go. */
  #finished(job: Job, err?: unknown): void {
    job.running = false;
    this.#running.delete(job);
    if (job.ctx?.watched) this.#deadlines.remove(job);
    const ms = performance.now() - job.started;
    job.endpoint.processingTime += ms;
    // error.type is the code the caller's RemoteError carries
    const type = err === undefined ? undefined : codeOf(err);
    if (job.span) endSpan(job.span, err, type);
    this.rt.telemetry.serverDuration?.record(
      ms / 1000,
      type === undefined ? this.#attributes : { ...this.#attributes, [ATTR.errorType]: type },
    );
  }

  #reply(job: Job, value: unknown): void {
    let data: Uint8Array;
    if (value === undefined || value === null) data = Empty;
    else if (value instanceof Uint8Array) data = value;
    else {
      this.#badReply(job, ERROR_KIND.badReply, `handleRequest returned ${typeName(value)}, not a Uint8Array`);
      return;
    }
    const max = maxPayload(this.rt.nc);
    if (max !== undefined && data.byteLength > max) {
      this.#badReply(
        job,
        ERROR_KIND.replyTooLarge,
        `reply of ${data.byteLength} bytes exceeds the server's max payload of ${max}`,
      );
      return;
    }
    this.#finished(job);
    this.#publish(job, data);
  }

  /** The handler returned something that cannot be sent: the caller is told, and the member logs it. */
  #badReply(job: Job, kind: ErrorKind, message: string): void {
    job.endpoint.errors++;
    this.#finished(job, Object.assign(new Error(message), { code: kind }));
    this.rt.logger.warn({ cluster: this.cluster, subject: job.subject, err: message }, message);
    this.#replyError(job, kind, message);
  }

  #failed(job: Job, err: unknown): void {
    if (err instanceof ContractViolation) {
      if (err.code === "BAD_REPLY") {
        this.#badReply(job, ERROR_KIND.badReply, err.message);
        return;
      }
      job.endpoint.malformed++;
      this.#finished(job, err);
      this.rt.logger.warn(
        { cluster: this.cluster, subject: job.subject, err: err.message },
        "request does not match the contract; answered BAD_REQUEST",
      );
      this.#replyError(job, ERROR_KIND.badRequest, err.message);
      return;
    }
    job.endpoint.errors++;
    this.#finished(job, err);
    this.#failures.note({ cluster: this.cluster, subject: job.subject, err, total: job.endpoint.errors });
    const message = err instanceof Error ? err.message : String(err);
    this.#replyError(job, ERROR_KIND.remote, message, codeOf(err));
  }

  /** An error reply; `code` defaults to the kind (jetmesh's own errors carry their kind as code). */
  #replyError(job: Job, kind: ErrorKind, message: string, code: string = kind): void {
    if (kind !== ERROR_KIND.left && kind !== ERROR_KIND.abandoned) job.endpoint.lastError = message;
    const headers = errorHeaders(kind, message, code);
    if (job.gather) headers.set(HEADER.member, this.memberId);
    this.#publish(job, Empty, headers);
  }

  /** Sends the answer to `job`'s caller, once. */
  #publish(job: Job, data: Uint8Array, headers?: MsgHdrs): void {
    if (job.answered) return;
    job.answered = true;
    this.#send(job.reply, data, headers ?? (job.gather ? this.#memberHeaders : undefined));
  }

  #send(reply: string, data: Uint8Array, headers: MsgHdrs | undefined): void {
    try {
      this.rt.nc.publish(reply, data, headers ? { headers } : undefined);
    } catch (err) {
      this.rt.logger.warn({ cluster: this.cluster, err }, "reply could not be sent");
    }
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === "object" && typeof (value as PromiseLike<unknown>).then === "function";
}

/** A reply subject up to and with its last dot: the caller's connection's reply prefix. */
function replyPrefix(reply: string): string {
  return reply.slice(0, reply.lastIndexOf(".") + 1);
}
