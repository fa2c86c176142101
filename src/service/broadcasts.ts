/** Broadcast dispatch of one member: plain subscription, limits, drop counting. */
import type { Msg, Subscription } from "@nats-io/nats-core";
import { BoundedQueue, settlesWithin, ThrottledWarning } from "../internal/index.js";
import type { BroadcastContext, ServiceHandler, ServiceHost } from "./types.js";

type BroadcastHandler = NonNullable<ServiceHandler["handleBroadcast"]>;

export class BroadcastDispatcher {
  broadcasts = 0;
  errors = 0;
  dropped = 0;
  /** Messages with their payload (copied when queued: the message's own bytes view the socket buffer). */
  readonly queue: BoundedQueue<{ msg: Msg; data: Uint8Array }>;
  #sub: Subscription | undefined;
  readonly #dropWarning: ThrottledWarning;

  constructor(
    private readonly host: ServiceHost,
    private readonly cluster: string,
    private readonly handle: BroadcastHandler,
    threads: number,
    memory: number,
  ) {
    this.#dropWarning = new ThrottledWarning(host.logger, "broadcasts dropped: the broadcast queue is full");
    this.queue = new BoundedQueue(
      threads,
      memory,
      (item: { msg: Msg; data: Uint8Array }) => this.#run(item.msg, item.data),
      (err) => this.#threw(err),
      (item) => ({ msg: item.msg, data: item.data.slice() }),
    );
  }

  subscribe(): void {
    this.#sub = this.host.nc.subscribe(this.host.subjects.broadcast(this.cluster), {
      callback: (err, msg) => this.#arrive(err, msg),
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
      this.host.logger.warn({ cluster: this.cluster, error: err }, "broadcast subscription error");
      return;
    }
    const data = msg.data;
    if (this.queue.offer({ msg, data }, data.byteLength)) return;
    this.dropped++;
    this.#dropWarning.note({ cluster: this.cluster, total: this.dropped });
  }

  #run(msg: Msg, data: Uint8Array): unknown {
    this.broadcasts++;
    let headers: BroadcastContext["headers"];
    try {
      headers = msg.headers;
    } catch (err) {
      this.host.logger.warn({ cluster: this.cluster, error: err }, "broadcast with malformed headers");
    }
    return this.handle(data, { cluster: this.cluster, subject: msg.subject, headers });
  }

  #threw(err: unknown): void {
    this.errors++;
    this.host.logger.warn({ cluster: this.cluster, error: err }, "handleBroadcast threw");
  }
}
