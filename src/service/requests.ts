/**
 * Request dispatch of one member: queue-group subscription, limits, deadline
 * checks, replies and error replies.
 */
import { Empty, type Msg, type Subscription } from "@nats-io/nats-core";
import type { Span } from "@opentelemetry/api";
import {
  ATTR,
  BoundedQueue,
  ContractViolation,
  codeOf,
  ERROR_KIND,
  type ErrorKind,
  endSpan,
  errorHeaders,
  HEADER,
  maxPayload,
  SpanKind,
  settlesWithin,
  ThrottledWarning,
  withSpan,
} from "../internal/index.js";
import { RequestContextImpl } from "./context.js";
import type { ServiceHandler, ServiceHost } from "./types.js";

interface Job {
  msg: Msg;
  /** The payload; copied when queued (the message's own bytes view the socket buffer). */
  data: Uint8Array;
  reply: string;
  deadline: number;
  /** When the handler started (performance.now()). */
  started: number;
  /** The handler's span, when tracing. */
  span: Span | undefined;
}

type RequestHandler = NonNullable<ServiceHandler["handleRequest"]>;

export class RequestDispatcher {
  requests = 0;
  errors = 0;
  overloaded = 0;
  expired = 0;
  malformed = 0;
  /** Milliseconds spent in handlers, in total (for the average). */
  processingTime = 0;
  /** Requests that arrived, whatever became of them (micro STATS). */
  received = 0;
  /** The message of the last failure (micro STATS). */
  lastError = "";
  readonly queue: BoundedQueue<Job>;
  #sub: Subscription | undefined;
  readonly #failures: ThrottledWarning;
  readonly #attributes: { [ATTR.cluster]: string };

  constructor(
    private readonly host: ServiceHost,
    private readonly cluster: string,
    private readonly memberId: string,
    private readonly handle: RequestHandler,
    threads: number,
    memory: number,
    private readonly stopped: AbortSignal,
  ) {
    this.#failures = new ThrottledWarning(host.logger, "handleRequest threw; the caller got a RemoteError");
    this.#attributes = { [ATTR.cluster]: cluster };
    this.queue = new BoundedQueue<Job>(
      threads,
      memory,
      (job) => this.#run(job),
      (err) => host.logger.error({ cluster, err }, "request dispatch failed"),
      (job) => ({ ...job, data: job.data.slice() }),
    );
  }

  subscribe(): void {
    this.#sub = this.host.nc.subscribe(this.host.subjects.request(this.cluster), {
      queue: this.cluster,
      callback: (err, msg) => this.#arrive(err, msg),
    });
  }

  /** Stops taking requests; those already on their way (within `ms`) are still queued. */
  async drain(ms: number): Promise<void> {
    if (this.#sub) await settlesWithin(this.#sub.drain(), ms);
    this.queue.close();
  }

  /** Answers every request still waiting with a CLOSED error. */
  abandon(): void {
    for (const job of this.queue.takeQueued()) {
      this.#replyError(job.reply, ERROR_KIND.closed, `member ${this.memberId} stopped before handling it`);
    }
  }

  #arrive(err: Error | null, msg: Msg): void {
    this.received++;
    if (err) {
      this.host.logger.warn({ cluster: this.cluster, err }, "request subscription error");
      return;
    }
    const reply = msg.reply;
    if (!reply) {
      this.malformed++;
      this.lastError = "a request without a reply subject";
      this.host.logger.warn({ cluster: this.cluster, subject: msg.subject }, "request without a reply subject dropped");
      return;
    }
    let deadline = Number.POSITIVE_INFINITY;
    try {
      const timeout = msg.headers?.get(HEADER.timeout);
      if (timeout) {
        const ms = Number(timeout);
        if (!Number.isFinite(ms) || ms < 0) throw new Error(`bad ${HEADER.timeout} header ${JSON.stringify(timeout)}`);
        deadline = Date.now() + ms;
      }
    } catch (cause) {
      this.malformed++;
      this.host.logger.warn({ cluster: this.cluster, subject: msg.subject, err: cause }, "malformed request");
      this.#replyError(reply, ERROR_KIND.badRequest, `malformed request: ${String(cause)}`);
      return;
    }
    const data = msg.data;
    if (!this.queue.offer({ msg, data, reply, deadline, started: 0, span: undefined }, data.byteLength)) {
      this.overloaded++;
      this.#replyError(reply, ERROR_KIND.overloaded, `member ${this.memberId} is overloaded, retry later`);
    }
  }

  #run(job: Job): unknown {
    if (job.deadline <= Date.now()) {
      this.expired++;
      return undefined;
    }
    this.requests++;
    const ctx = new RequestContextImpl(this.cluster, job.msg, job.deadline, this.stopped);
    job.started = performance.now();
    let out: unknown;
    try {
      if (this.host.telemetry.tracing) {
        const parent = this.host.telemetry.extract(job.msg);
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

  #startSpan(job: Job, parent: ReturnType<ServiceHost["telemetry"]["extract"]>): Span {
    return this.host.telemetry.start(
      "process",
      this.cluster,
      SpanKind.SERVER,
      {
        [ATTR.destination]: job.msg.subject,
        [ATTR.operationType]: "process",
        [ATTR.bodySize]: job.data.byteLength,
        [ATTR.consumerGroup]: this.cluster,
        [ATTR.cluster]: this.cluster,
        [ATTR.member]: this.memberId,
      },
      parent,
    );
  }

  /** The handler is done (`err`: it failed, and the caller gets `err`'s code): time, span and histogram. */
  #finished(job: Job, err?: unknown): void {
    const ms = performance.now() - job.started;
    this.processingTime += ms;
    // error.type is the code the caller's RemoteError carries
    const type = err === undefined ? undefined : codeOf(err);
    if (job.span) endSpan(job.span, err, type);
    this.host.telemetry.serverDuration?.record(
      ms / 1000,
      type === undefined ? this.#attributes : { ...this.#attributes, [ATTR.errorType]: type },
    );
  }

  #reply(job: Job, value: unknown): void {
    let data: Uint8Array;
    if (value === undefined || value === null) data = Empty;
    else if (value instanceof Uint8Array) data = value;
    else {
      const type = Object.prototype.toString.call(value);
      this.#badReply(job, ERROR_KIND.badReply, `handleRequest returned ${type}, not a Uint8Array`);
      return;
    }
    const max = maxPayload(this.host.nc);
    if (max !== undefined && data.byteLength > max) {
      this.#badReply(
        job,
        ERROR_KIND.replyTooLarge,
        `reply of ${data.byteLength} bytes exceeds the server's max payload of ${max}`,
      );
      return;
    }
    this.#finished(job);
    this.#publish(job.reply, data);
  }

  /** The handler returned something that cannot be sent: the caller is told, and the member logs it. */
  #badReply(job: Job, kind: ErrorKind, message: string): void {
    this.errors++;
    this.#finished(job, Object.assign(new Error(message), { code: kind }));
    this.host.logger.warn({ cluster: this.cluster, subject: job.msg.subject, err: message }, message);
    this.#replyError(job.reply, kind, message);
  }

  #failed(job: Job, err: unknown): void {
    if (err instanceof ContractViolation) {
      if (err.code === "BAD_REPLY") {
        this.#badReply(job, ERROR_KIND.badReply, err.message);
        return;
      }
      this.malformed++;
      this.#finished(job, err);
      this.host.logger.warn(
        { cluster: this.cluster, subject: job.msg.subject, err: err.message },
        "request does not match the contract; answered BAD_REQUEST",
      );
      this.#replyError(job.reply, ERROR_KIND.badRequest, err.message);
      return;
    }
    this.errors++;
    this.#finished(job, err);
    this.#failures.note({ cluster: this.cluster, subject: job.msg.subject, err, total: this.errors });
    const message = err instanceof Error ? err.message : String(err);
    this.#replyError(job.reply, ERROR_KIND.remote, message, codeOf(err));
  }

  /** An error reply; `code` defaults to the kind (jetmesh's own errors carry their kind as code). */
  #replyError(reply: string, kind: ErrorKind, message: string, code: string = kind): void {
    if (kind !== ERROR_KIND.closed) this.lastError = message;
    this.#publish(reply, Empty, errorHeaders(kind, message, code));
  }

  #publish(reply: string, data: Uint8Array, headers?: ReturnType<typeof errorHeaders>): void {
    try {
      this.host.nc.publish(reply, data, headers ? { headers } : undefined);
    } catch (err) {
      this.host.logger.warn({ cluster: this.cluster, err }, "reply could not be sent");
    }
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === "object" && typeof (value as PromiseLike<unknown>).then === "function";
}
