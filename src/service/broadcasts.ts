/** Broadcast dispatch of one member: plain subscription, limits, drop counting. */
import type { Msg, Subscription } from "@nats-io/nats-core";
import { BoundedQueue } from "../internal/index.js";
import type { BroadcastContext, ServiceHandler, ServiceHost } from "./types.js";

type BroadcastHandler = NonNullable<ServiceHandler["handleBroadcast"]>;

/** A dropped broadcast is logged at most this often (the count covers the rest). */
const DROP_LOG_INTERVAL_MS = 1_000;

export class BroadcastDispatcher {
  broadcasts = 0;
  errors = 0;
  dropped = 0;
  readonly queue: BoundedQueue<Msg>;
  #sub: Subscription | undefined;
  #lastDropLog = 0;
  #unloggedDrops = 0;

  constructor(
    private readonly host: ServiceHost,
    private readonly cluster: string,
    private readonly handle: BroadcastHandler,
    threads: number,
    memory: number,
  ) {
    this.queue = new BoundedQueue<Msg>(
      threads,
      memory,
      (msg) => this.#run(msg),
      (err) => this.#threw(err),
    );
  }

  subscribe(): void {
    this.#sub = this.host.nc.subscribe(this.host.subjects.broadcast(this.cluster), {
      callback: (err, msg) => this.#arrive(err, msg),
    });
  }

  async drain(): Promise<void> {
    await this.#sub?.drain().catch(() => {});
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
    if (this.queue.offer(msg, msg.data.byteLength)) return;
    this.dropped++;
    this.#unloggedDrops++;
    const now = Date.now();
    if (now - this.#lastDropLog >= DROP_LOG_INTERVAL_MS) {
      this.host.logger.warn(
        { cluster: this.cluster, dropped: this.#unloggedDrops, total: this.dropped },
        "broadcasts dropped: the broadcast queue is full",
      );
      this.#lastDropLog = now;
      this.#unloggedDrops = 0;
    }
  }

  #run(msg: Msg): unknown {
    this.broadcasts++;
    const ctx: BroadcastContext = { cluster: this.cluster, subject: msg.subject, headers: msg.headers };
    return this.handle(msg.data, ctx);
  }

  #threw(err: unknown): void {
    this.errors++;
    this.host.logger.warn({ cluster: this.cluster, error: err }, "handleBroadcast threw");
  }
}
