/**
 * Requests over one shared reply subscription with a correlation map: one
 * subscription per connection, one timer for all time-outs, headers encoded
 * once per time-out value, no per-call stack capture. Replies, no-responder
 * answers and remote errors are matched here.
 */
import type { Msg, NatsConnection, Subscription } from "@nats-io/nats-core";
import { createInbox } from "@nats-io/nats-core";
import {
  ClosedError,
  Deadlines,
  errorOfReply,
  FrozenHeaders,
  fromNatsError,
  HEADER,
  type JetmeshError,
  type Logger,
  TimeoutError,
} from "../internal/index.js";

/** Distinct time-out values whose headers are kept encoded. */
const MAX_CACHED_HEADERS = 256;

interface Pending {
  resolve(data: Uint8Array): void;
  reject(err: unknown): void;
  cluster: string;
  timeout: number;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

export class Requester {
  readonly #nc: NatsConnection;
  readonly #logger: Logger;
  readonly #prefix: string;
  readonly #pending = new Map<string, Pending>();
  readonly #deadlines = new Deadlines<string>((id) => {
    const p = this.#settle(id);
    p?.reject(new TimeoutError(`request to cluster "${p.cluster}" timed out after ${p.timeout} ms`));
  });
  /** The deadline header of each time-out in use, encoded once. */
  readonly #headers = new Map<number, FrozenHeaders>();
  readonly #sub: Subscription;
  /** Set when the reply subscription failed: every later request rejects with it. */
  #broken: JetmeshError | undefined;
  #seq = 0;

  constructor(nc: NatsConnection, logger: Logger, inboxPrefix: string | undefined) {
    this.#nc = nc;
    this.#logger = logger;
    this.#prefix = `${createInbox(inboxPrefix)}.`;
    try {
      this.#sub = nc.subscribe(`${this.#prefix}*`, { callback: (err, msg) => this.#onReply(err, msg) });
    } catch (err) {
      throw fromNatsError(err, "reply subscription");
    }
  }

  request(
    subject: string,
    cluster: string,
    payload: Uint8Array,
    timeout: number,
    signal: AbortSignal | undefined,
  ): Promise<Uint8Array> {
    if (this.#broken) return Promise.reject(this.#broken);
    return new Promise((resolve, reject) => {
      const id = (this.#seq++).toString(36);
      const p: Pending = {
        resolve,
        reject,
        cluster,
        timeout,
        signal,
        onAbort: undefined,
      };
      if (signal) {
        p.onAbort = () => this.#settle(id)?.reject(signal.reason);
        signal.addEventListener("abort", p.onAbort, { once: true });
      }
      this.#pending.set(id, p);
      this.#deadlines.add(id, timeout);
      try {
        this.#nc.publish(subject, payload, { reply: this.#prefix + id, headers: this.#headersFor(timeout) });
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

  #headersFor(timeout: number): FrozenHeaders {
    let h = this.#headers.get(timeout);
    if (h === undefined) {
      if (this.#headers.size >= MAX_CACHED_HEADERS) this.#headers.clear();
      h = FrozenHeaders.of({ [HEADER.timeout]: String(timeout) });
      this.#headers.set(timeout, h);
    }
    return h;
  }

  #settle(id: string): Pending | undefined {
    const p = this.#pending.get(id);
    if (p === undefined) return undefined;
    this.#pending.delete(id);
    this.#deadlines.remove(id);
    if (p.onAbort) p.signal?.removeEventListener("abort", p.onAbort);
    return p;
  }

  #onReply(err: Error | null, msg: Msg): void {
    if (err) {
      // the client ends a subscription after an error (e.g. a permission violation on the inbox)
      this.#broken =
        err instanceof Error && /closed/i.test(err.message)
          ? new ClosedError("the connection is closed", { cause: err })
          : fromNatsError(err, "the reply subscription failed");
      this.#logger.error({ error: this.#broken }, "reply subscription failed; requests on this connection will fail");
      this.rejectAll(this.#broken);
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
