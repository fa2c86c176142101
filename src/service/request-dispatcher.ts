/**
 * Request dispatch of one member: queue-group subscription, limits, deadline
 * checks, replies and error replies.
 */
import { Empty, type Msg, type MsgHdrs, type Subscription } from "@nats-io/nats-core";
import type { Span } from "@opentelemetry/api";
import type { ServiceHandler } from "../api/index.js";
import { DEFAULTS } from "../config/index.js";
import type { Runtime } from "../core/index.js";
import { ContractViolation, TimeoutError } from "../errors/index.js";
import { BoundedQueue, Deadlines, settlesWithin } from "../flow/index.js";
import { safeCallback, ThrottledWarning } from "../logging/index.js";
import { ATTR, endSpan, SpanKind, withSpan } from "../telemetry/index.js";
import {
  codeOf,
  copyBytes,
  ERROR_KIND,
  type ErrorKind,
  errorHeaders,
  HEADER,
  maxPayload,
  parseTimeoutHeader,
  REQUEST_QUEUE,
} from "../wire/index.js";
import { Refusal } from "./refusal.js";
import { RequestContextImpl } from "./request-context.js";

/**
 * A request on its way through the member. It keeps only what it needs (not
 * the NATS message, whose bytes view the socket's read buffer): the data is
 * copied when queued, so the bytes a queue holds are the bytes it counts.
 */
interface Job {
  subject: string;
  reply: string;
  headers: MsgHdrs | undefined;
  data: Uint8Array;
  /** When the caller gives up, on the monotonic clock; Infinity when it sent no time-out. */
  due: number;
  /** When the handler started (performance.now()). */
  started: number;
  /** The handler's span, when tracing. */
  span: Span | undefined;
  /** The handler's context, once it runs. */
  ctx: RequestContextImpl | undefined;
  /** The caller has its answer (a late reply of an abandoned handler is not sent). */
  answered: boolean;
}

type RequestHandler = NonNullable<ServiceHandler["handleRequest"]>;

export class RequestDispatcher {
  requests = 0;
  errors = 0;
  overloaded = 0;
  expired = 0;
  malformed = 0;
  readonly refusal: Refusal;
  /** Milliseconds spent in handlers, in total (for the average). */
  processingTime = 0;
  /** Requests that arrived, whatever became of them (micro STATS). */
  received = 0;
  /** The message of the last failure (micro STATS). */
  lastError = "";
  readonly queue: BoundedQueue<Job>;
  #sub: Subscription | undefined;
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
  /** Why handlers' signals abort from now on (the service stopped). */
  #stopped: Error | undefined;

  constructor(
    private readonly rt: Runtime,
    private readonly cluster: string,
    private readonly memberId: string,
    private readonly handle: RequestHandler,
    threads: number,
    memory: number,
  ) {
    this.#failures = new ThrottledWarning(rt.logger, "handleRequest threw; the caller got a RemoteError");
    this.#attributes = { [ATTR.cluster]: cluster };
    this.refusal = new Refusal(rt, cluster, "requests");
    this.queue = new BoundedQueue<Job>(
      threads,
      memory,
      (job) => this.#run(job),
      (err) => rt.logger.error({ cluster, err }, "request dispatch failed"),
      (job) => ({ ...job, data: copyBytes(job.data) }),
    );
  }

  subscribe(): void {
    this.#sub = this.rt.nc.subscribe(this.rt.subjects.request(this.cluster), {
      queue: REQUEST_QUEUE,
      callback: safeCallback(this.rt.logger, "request dispatch", (err, msg) => this.#arrive(err, msg)),
    });
  }

  /** Stops taking requests; those already on their way (within `ms`) are still queued. */
  async drain(ms: number): Promise<void> {
    if (this.#sub) await settlesWithin(this.#sub.drain(), ms);
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
    for (const job of this.#running) {
      job.ctx?.abort(reason);
      // aborted now: its deadline must not keep the process alive
      if (job.ctx?.watched) this.#deadlines.remove(job);
    }
  }

  #arrive(err: Error | null, msg: Msg): void {
    this.received++;
    if (err) {
      this.refusal.note(err);
      return;
    }
    const reply = msg.reply;
    if (!reply) {
      this.#malformed(msg.subject, "request without a reply subject dropped", "a request without a reply subject");
      return;
    }
    let headers: MsgHdrs | undefined;
    let due = Number.POSITIVE_INFINITY;
    const job: Job = {
      subject: msg.subject,
      reply,
      headers: undefined,
      data: Empty,
      due,
      started: 0,
      span: undefined,
      ctx: undefined,
      answered: false,
    };
    try {
      headers = msg.headers;
    } catch {
      this.#malformed(msg.subject, "malformed request headers", "malformed request headers", job);
      return;
    }
    const timeout = headers?.get(HEADER.timeout);
    if (timeout) {
      const ms = parseTimeoutHeader(timeout);
      if (ms === undefined) {
        const shown = timeout.length > 40 ? `${timeout.slice(0, 40)}...` : timeout;
        this.#malformed(
          msg.subject,
          `malformed ${HEADER.timeout} header`,
          `malformed request: ${HEADER.timeout} must be a whole number of ms from 1 to ${DEFAULTS.maxTimeout}, got ${JSON.stringify(shown)}`,
          job,
        );
        return;
      }
      due = performance.now() + ms;
    }
    job.headers = headers;
    job.due = due;
    job.data = msg.data;
    if (!this.queue.offer(job, job.data.byteLength)) {
      this.overloaded++;
      this.#replyError(job, ERROR_KIND.overloaded, `member ${this.memberId} is overloaded, retry later`);
    }
  }

  /**
   * A request that cannot be understood: counted, logged (throttled per
   * `kind`) and answered BAD_REQUEST when it has a reply subject.
   */
  #malformed(subject: string, kind: string, why: string, job?: Job): void {
    this.malformed++;
    this.lastError = why;
    let warning = this.#malformedWarnings.get(kind);
    if (warning === undefined) {
      warning = new ThrottledWarning(this.rt.logger, job ? `${kind}; answered BAD_REQUEST` : kind);
      this.#malformedWarnings.set(kind, warning);
    }
    warning.note({ cluster: this.cluster, subject, err: why, total: this.malformed });
    if (job) this.#replyError(job, ERROR_KIND.badRequest, why);
  }

  #run(job: Job): unknown {
    if (job.due <= performance.now()) {
      this.expired++;
      return undefined;
    }
    this.requests++;
    const ctx = new RequestContextImpl(this.cluster, job.subject, job.headers, job.due, () => this.#watch(job));
    job.ctx = ctx;
    this.#running.add(job);
    job.started = performance.now();
    let out: unknown;
    try {
      if (this.rt.telemetry.tracing) {
        const parent = this.rt.telemetry.extract(job);
        const span = this.#startSpan(job, parent);
        job.span = span;
        out = withSpan(span, () => this.handle(job.data, ctx), parent);
      } else {
        out = this.handle(job.data, ctx);
      }
    } catch (err) {
      this.#failed(job, err);
      return undefined;
    }
    if (isThenable(out)) {
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
    if (!this.#running.has(job)) return;
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
    this.#running.delete(job);
    if (job.ctx?.watched) this.#deadlines.remove(job);
    const ms = performance.now() - job.started;
    this.processingTime += ms;
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
    this.errors++;
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
      this.malformed++;
      this.#finished(job, err);
      this.rt.logger.warn(
        { cluster: this.cluster, subject: job.subject, err: err.message },
        "request does not match the contract; answered BAD_REQUEST",
      );
      this.#replyError(job, ERROR_KIND.badRequest, err.message);
      return;
    }
    this.errors++;
    this.#finished(job, err);
    this.#failures.note({ cluster: this.cluster, subject: job.subject, err, total: this.errors });
    const message = err instanceof Error ? err.message : String(err);
    this.#replyError(job, ERROR_KIND.remote, message, codeOf(err));
  }

  /** An error reply; `code` defaults to the kind (jetmesh's own errors carry their kind as code). */
  #replyError(job: Job, kind: ErrorKind, message: string, code: string = kind): void {
    if (kind !== ERROR_KIND.left && kind !== ERROR_KIND.abandoned) this.lastError = message;
    this.#publish(job, Empty, errorHeaders(kind, message, code));
  }

  /** Sends the answer to `job`'s caller, once. */
  #publish(job: Job, data: Uint8Array, headers?: ReturnType<typeof errorHeaders>): void {
    if (job.answered) return;
    job.answered = true;
    try {
      this.rt.nc.publish(job.reply, data, headers ? { headers } : undefined);
    } catch (err) {
      this.rt.logger.warn({ cluster: this.cluster, err }, "reply could not be sent");
    }
  }
}

/** What a value is, for messages: `a string`, `an object`, `null`, `an array`, `a Promise`. */
function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") {
    const name = (value as object).constructor?.name;
    return name && name !== "Object" ? `a ${name}` : "an object";
  }
  const t = typeof value;
  return /^[aeiou]/.test(t) ? `an ${t}` : `a ${t}`;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === "object" && typeof (value as PromiseLike<unknown>).then === "function";
}
