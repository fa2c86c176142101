/**
 * A hand-tuned raw NATS requester, the yardstick for jetmesh's request path:
 * one reply subscription, its own correlation map, one time-out sweep for all
 * requests, no headers.
 */
import { createInbox, type NatsConnection } from "@nats-io/nats-core";

export class RawMux {
  readonly #prefix = `${createInbox()}.`;
  readonly #pending = new Map<string, { resolve: (d: Uint8Array) => void; reject: (e: Error) => void; at: number }>();
  readonly #sweep: ReturnType<typeof setInterval>;
  #seq = 0;

  constructor(
    private readonly nc: NatsConnection,
    private readonly timeout: number,
  ) {
    nc.subscribe(`${this.#prefix}*`, {
      callback: (_err, msg) => {
        const id = msg.subject.slice(this.#prefix.length);
        const p = this.#pending.get(id);
        if (!p) return;
        this.#pending.delete(id);
        if (msg.headers?.code === 503) p.reject(new Error("no responders"));
        else p.resolve(msg.data);
      },
    });
    this.#sweep = setInterval(() => {
      const now = Date.now();
      for (const [id, p] of this.#pending) {
        if (now - p.at < this.timeout) break;
        this.#pending.delete(id);
        p.reject(new Error("timeout"));
      }
    }, 50);
  }

  request(subject: string, data: Uint8Array): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      const id = (this.#seq++).toString(36);
      this.#pending.set(id, { resolve, reject, at: Date.now() });
      this.nc.publish(subject, data, { reply: this.#prefix + id });
    });
  }

  close(): void {
    clearInterval(this.#sweep);
  }
}
