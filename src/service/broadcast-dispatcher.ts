/** Broadcast dispatch of one member: plain subscription, limits, drop counting. */
import type { Msg, MsgHdrs, Subscription } from "@nats-io/nats-core";
import type { ServiceHandler } from "../api/index.js";
import type { Runtime } from "../core/index.js";
import { ContractViolation } from "../errors/index.js";
import { BoundedQueue, settlesWithin } from "../flow/index.js";
import { safeCallback, ThrottledWarning } from "../logging/index.js";
import { ATTR, runInSpan } from "../telemetry/index.js";
import { copyBytes } from "../wire/index.js";
import { Refusal } from "./refusal.js";

type BroadcastHandler = NonNullable<ServiceHandler["handleBroadcast"]>;

/** A broadcast waiting for a handler: what it needs, not the NATS message (whose bytes view the socket buffer). */
interface Item {
  subject: string;
  headers: MsgHdrs | undefined;
  data: Uint8Array;
}

export class BroadcastDispatcher {
  broadcasts = 0;
  errors = 0;
  dropped = 0;
  /** Broadcasts that did not match the service's contract (dropped). */
  malformed = 0;
  readonly refusal: Refusal;
  /** Broadcasts waiting for a handler, their payload copied when queued. */
  readonly queue: BoundedQueue<Item>;
  #sub: Subscription | undefined;
  /** The subject broadcasts arrive on (for warnings). */
  readonly #subject: string;
  readonly #dropWarning: ThrottledWarning;
  readonly #failures: ThrottledWarning;
  readonly #malformedWarning: ThrottledWarning;

  constructor(
    private readonly rt: Runtime,
    private readonly cluster: string,
    private readonly handle: BroadcastHandler,
    threads: number,
    memory: number,
  ) {
    this.#subject = rt.subjects.broadcast(cluster);
    this.refusal = new Refusal(rt, cluster, "broadcasts");
    this.#dropWarning = new ThrottledWarning(rt.logger, "broadcasts dropped: the broadcast queue is full");
    this.#failures = new ThrottledWarning(rt.logger, "handleBroadcast threw");
    this.#malformedWarning = new ThrottledWarning(rt.logger, "broadcast does not match the contract; dropped");
    this.queue = new BoundedQueue(
      threads,
      memory,
      (item: Item) => this.#run(item),
      (err) => this.#threw(err),
      (item) => ({ ...item, data: copyBytes(item.data) }),
    );
  }

  subscribe(): void {
    this.#sub = this.rt.nc.subscribe(this.rt.subjects.broadcast(this.cluster), {
      callback: safeCallback(this.rt.logger, "broadcast dispatch", (err, msg) => this.#arrive(err, msg)),
    });
  }

  /** Stops taking broadcasts; those already on their way (within `ms`) are still queued. */
  async drain(ms: number): Promise<void> {
    if (this.#sub) await settlesWithin(this.#sub.drain(), ms);
    this.queue.close();
  }

  /** Drops every broadcast still waiting (counted). */
  abandon(): void {
    this.dropped += this.queue.takeQueued().length;
  }

  #arrive(err: Error | null, msg: Msg): void {
    if (err) {
      this.refusal.note(err);
      return;
    }
    let headers: MsgHdrs | undefined;
    try {
      headers = msg.headers;
    } catch (err) {
      this.rt.logger.warn({ cluster: this.cluster, subject: msg.subject, err }, "broadcast with malformed headers");
    }
    // the subject is this dispatcher's own (its subscription has no wildcard): not decoded again
    const item: Item = { subject: this.#subject, headers, data: msg.data };
    if (this.queue.offer(item, item.data.byteLength)) return;
    this.dropped++;
    this.#dropWarning.note({ cluster: this.cluster, subject: this.#subject, total: this.dropped });
  }

  #run(item: Item): unknown {
    this.broadcasts++;
    const { data } = item;
    const ctx = { cluster: this.cluster, subject: item.subject, headers: item.headers };
    const t = this.rt.telemetry;
    if (!t.tracing) return this.handle(data, ctx);
    // a broadcast reaches every member: each handler's span links to the sender's
    const span = t.startConsumer(this.cluster, item, {
      [ATTR.destination]: item.subject,
      [ATTR.bodySize]: data.byteLength,
      [ATTR.cluster]: this.cluster,
    });
    return runInSpan(span, () => this.handle(data, ctx));
  }

  #threw(err: unknown): void {
    if (err instanceof ContractViolation) {
      this.malformed++;
      this.#malformedWarning.note({
        cluster: this.cluster,
        subject: this.#subject,
        err: err.message,
        total: this.malformed,
      });
      return;
    }
    this.errors++;
    this.#failures.note({ cluster: this.cluster, subject: this.#subject, err, total: this.errors });
  }
}
