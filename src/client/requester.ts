/**
 * Requests over one shared reply subscription with a correlation map: one
 * subscription per connection, one timer per request, no per-call stack
 * capture. Replies, no-responder answers and remote errors are matched here.
 */
import { createInbox, headers, type Msg, type NatsConnection, type Subscription } from "@nats-io/nats-core";
import {
  ClosedError,
  errorOfReply,
  fromNatsError,
  HEADER,
  type JetmeshError,
  type Logger,
  TimeoutError,
} from "../internal/index.js";

interface Pending {
  resolve(data: Uint8Array): void;
  reject(err: unknown): void;
  cluster: string;
  timeout: number;
  timer: ReturnType<typeof setTimeout>;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

export class Requester {
  readonly #nc: NatsConnection;
  readonly #logger: Logger;
  readonly #prefix: string;
  readonly #pending = new Map<string, Pending>();
  readonly #expire = (id: string): void => {
    const p = this.#settle(id);
    p?.reject(new TimeoutError(`request to cluster "${p.cluster}" timed out after ${p.timeout} ms`));
  };
  readonly #sub: Subscription;
  #seq = 0;

  constructor(nc: NatsConnection, logger: Logger) {
    this.#nc = nc;
    this.#logger = logger;
    this.#prefix = `${createInbox()}.`;
    this.#sub = nc.subscribe(`${this.#prefix}*`, { callback: (err, msg) => this.#onReply(err, msg) });
  }

  /** Requests in flight. */
  get pending(): number {
    return this.#pending.size;
  }

  request(
    subject: string,
    cluster: string,
    payload: Uint8Array,
    timeout: number,
    signal: AbortSignal | undefined,
  ): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      const id = (this.#seq++).toString(36);
      const p: Pending = {
        resolve,
        reject,
        cluster,
        timeout,
        timer: setTimeout(this.#expire, timeout, id),
        signal,
        onAbort: undefined,
      };
      if (signal) {
        p.onAbort = () => this.#settle(id)?.reject(signal.reason);
        signal.addEventListener("abort", p.onAbort, { once: true });
      }
      this.#pending.set(id, p);
      const h = headers();
      h.set(HEADER.timeout, String(timeout));
      try {
        this.#nc.publish(subject, payload, { reply: this.#prefix + id, headers: h });
      } catch (err) {
        this.#settle(id)?.reject(fromNatsError(err, `request to cluster "${cluster}"`));
      }
    });
  }

  /** Rejects every request in flight with `err`. */
  rejectAll(err: JetmeshError): void {
    for (const id of [...this.#pending.keys()]) this.#settle(id)?.reject(err);
  }

  /** Stops the reply subscription (requests in flight should be rejected first). */
  close(): void {
    try {
      this.#sub.unsubscribe();
    } catch {
      // the connection is already closed
    }
  }

  #settle(id: string): Pending | undefined {
    const p = this.#pending.get(id);
    if (p === undefined) return undefined;
    this.#pending.delete(id);
    clearTimeout(p.timer);
    if (p.onAbort) p.signal?.removeEventListener("abort", p.onAbort);
    return p;
  }

  #onReply(err: Error | null, msg: Msg): void {
    if (err) {
      this.rejectAll(
        err instanceof Error && /closed/i.test(err.message)
          ? new ClosedError("the connection is closed", { cause: err })
          : fromNatsError(err, "reply subscription"),
      );
      return;
    }
    const p = this.#settle(msg.subject.slice(this.#prefix.length));
    if (p === undefined) {
      this.#logger.debug({ subject: msg.subject }, "late or unknown reply dropped");
      return;
    }
    let failure: JetmeshError | undefined;
    try {
      failure = errorOfReply(msg.headers, p.cluster);
    } catch (cause) {
      this.#logger.warn({ subject: msg.subject, cluster: p.cluster, error: cause }, "malformed reply headers");
      failure = fromNatsError(cause, `reply from cluster "${p.cluster}" had malformed headers`);
    }
    if (failure) p.reject(failure);
    else p.resolve(msg.data);
  }
}
