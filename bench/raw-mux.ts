/**
 * A hand-tuned raw NATS requester, the yardstick for jetmesh's request and
 * publish paths: one reply subscription, its own correlation map, one
 * time-out sweep for all calls, no headers unless given. `read` turns a reply
 * into a result (or throws).
 */
import { createInbox, type Msg, type MsgHdrs, type NatsConnection } from "@nats-io/nats-core";

export class RawMux<T = Uint8Array> {
  readonly #prefix = `${createInbox()}.`;
  readonly #pending = new Map<string, { resolve: (r: T) => void; reject: (e: unknown) => void; at: number }>();
  readonly #sweep: ReturnType<typeof setInterval>;
  #seq = 0;

  constructor(
    private readonly nc: NatsConnection,
    private readonly timeout: number,
    read: (msg: Msg) => T = (msg) => msg.data as T,
  ) {
    nc.subscribe(`${this.#prefix}*`, {
      callback: (_err, msg) => {
        const id = msg.subject.slice(this.#prefix.length);
        const p = this.#pending.get(id);
        if (!p) return;
        this.#pending.delete(id);
        if (msg.headers?.code === 503) {
          p.reject(new Error("no responders"));
          return;
        }
        try {
          p.resolve(read(msg));
        } catch (err) {
          p.reject(err);
        }
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

  request(subject: string, data: Uint8Array, headers?: MsgHdrs): Promise<T> {
    return new Promise((resolve, reject) => {
      const id = (this.#seq++).toString(36);
      this.#pending.set(id, { resolve, reject, at: Date.now() });
      this.nc.publish(subject, data, headers ? { reply: this.#prefix + id, headers } : { reply: this.#prefix + id });
    });
  }

  close(): void {
    clearInterval(this.#sweep);
  }
}
