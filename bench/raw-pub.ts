/**
 * A hand-pipelined raw JetStream publisher, the yardstick for jetmesh's
 * publish path: plain publishes with a reply subject on one wildcard inbox
 * subscription, JetStream's PubAck JSON matched to its call in a map, one
 * time-out sweep for all publishes, no headers (or, to show what
 * de-duplication costs, just a `Nats-Msg-Id`).
 */
import { createInbox, headers, type NatsConnection, nuid } from "@nats-io/nats-core";

export interface RawAck {
  stream: string;
  seq: number;
  duplicate?: boolean;
}

interface AckBody extends Partial<RawAck> {
  error?: { code?: number; err_code?: number; description?: string };
}

export class RawPub {
  readonly #prefix = `${createInbox()}.`;
  readonly #pending = new Map<string, { resolve: (a: RawAck) => void; reject: (e: Error) => void; at: number }>();
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
        if (msg.headers?.code === 503) {
          p.reject(new Error("no stream"));
          return;
        }
        let ack: AckBody;
        try {
          ack = msg.json<AckBody>();
        } catch {
          p.reject(new Error("unreadable ack"));
          return;
        }
        if (ack.error) p.reject(new Error(ack.error.description ?? "refused"));
        else if (typeof ack.seq === "number") p.resolve(ack as RawAck);
        else p.reject(new Error("ack without seq"));
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

  /** Publishes and resolves with the ack; `withMsgId` adds a `Nats-Msg-Id` header, as a de-duplicating publisher must. */
  publish(subject: string, data: Uint8Array, withMsgId = false): Promise<RawAck> {
    return new Promise((resolve, reject) => {
      const id = (this.#seq++).toString(36);
      this.#pending.set(id, { resolve, reject, at: Date.now() });
      if (withMsgId) {
        const h = headers();
        h.set("Nats-Msg-Id", nuid.next());
        this.nc.publish(subject, data, { reply: this.#prefix + id, headers: h });
      } else {
        this.nc.publish(subject, data, { reply: this.#prefix + id });
      }
    });
  }

  close(): void {
    clearInterval(this.#sweep);
  }
}
