/**
 * Replies matched to their calls over one shared inbox subscription: one
 * subscription per connection, a correlation map, one timer for every
 * time-out, and the caller's AbortSignal wired in. Requests and acknowledged
 * publishes are both built on it.
 */
import type { Msg, NatsConnection, Subscription } from "@nats-io/nats-core";
import { createInbox } from "@nats-io/nats-core";
import type { Logger } from "../api/index.js";
import { ConnectionError, fromNatsError, type JetmeshError } from "../errors/index.js";
import { DeadlineQueue } from "../flow/index.js";
import { safeCallback } from "../logging/index.js";
import { subjectFrom } from "../wire/index.js";
import type { Wiring } from "./wiring.js";

/** One call waiting for its reply. */
export interface Pending {
  /** Where the call was published (a refusal of it fails the call). */
  subject: string;
  reject(err: unknown): void;
  timeout: number;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

export abstract class Correlator<P extends Pending> {
  protected readonly nc: NatsConnection;
  protected readonly logger: Logger;
  /** The reply subject of call `id` is `prefix + id`. */
  protected readonly prefix: string;
  protected readonly pending = new Map<string, P>();
  /** Every call's time-out: settling a call leaves it there, to be dropped later (see DeadlineQueue). */
  readonly #deadlines = new DeadlineQueue<string>(
    (id) => {
      const p = this.settle(id);
      if (p) p.reject(this.timedOut(p));
    },
    (id) => this.pending.has(id),
    () => this.pending.size,
  );
  readonly #sub: Subscription;
  readonly #unwatch: () => void;
  /** Set when the reply subscription failed: every later call rejects with it. */
  protected broken: JetmeshError | undefined;
  #seq = 0;

  constructor({ nc, logger, inboxPrefix, denials }: Wiring) {
    this.nc = nc;
    this.logger = logger;
    this.prefix = `${createInbox(inboxPrefix)}.`;
    try {
      this.#sub = nc.subscribe(`${this.prefix}*`, {
        callback: safeCallback(logger, "reply", (err, msg) => this.#onMsg(err, msg)),
      });
    } catch (err) {
      throw fromNatsError(err, "reply subscription");
    }
    // a publish the server refuses fails its calls at once, not at their time-out
    this.#unwatch = denials.watch(
      () => this.pending.size > 0,
      (violation, subject) => {
        for (const [id, p] of this.pending) {
          if (p.subject === subject) this.settle(id)?.reject(fromNatsError(violation, this.describe(p)));
        }
      },
    );
  }

  /** What call `p` is, for messages: `request to cluster "x"`. */
  protected abstract describe(p: P): string;

  /** The error a call gets when its time-out passes. */
  protected abstract timedOut(p: P): JetmeshError;

  /** Call `id` was given up by its caller's signal (already settled). */
  protected aborted(_id: string, _p: P): void {}

  /** A reply arrived for call `id` (still tracked: settle it, or keep waiting). */
  protected abstract onReply(id: string, p: P, msg: Msg): void;

  /** Tracks `p` under a fresh id: time-out armed, abort wired. Returns the id. */
  protected track(p: P): string {
    const id = (this.#seq++).toString(36);
    const signal = p.signal;
    if (signal) {
      p.onAbort = () => {
        const settled = this.settle(id);
        if (settled === undefined) return;
        settled.reject(signal.reason);
        this.aborted(id, settled);
      };
      signal.addEventListener("abort", p.onAbort, { once: true });
    }
    this.pending.set(id, p);
    this.#deadlines.add(id, p.timeout);
    return id;
  }

  /** Stops tracking call `id`; returns it unless it was already settled. */
  protected settle(id: string): P | undefined {
    const p = this.pending.get(id);
    if (p === undefined) return undefined;
    this.pending.delete(id);
    if (this.pending.size === 0) this.#deadlines.idle();
    if (p.onAbort) p.signal?.removeEventListener("abort", p.onAbort);
    return p;
  }

  /** Rejects every call in flight with `err`. */
  rejectAll(err: JetmeshError): void {
    for (const id of [...this.pending.keys()]) this.settle(id)?.reject(err);
  }

  /** Stops the reply subscription (calls in flight should be rejected first). */
  close(): void {
    this.#unwatch();
    this.#deadlines.stop();
    try {
      this.#sub.unsubscribe();
    } catch {
      // the connection is already closed
    }
  }

  #onMsg(err: Error | null, msg: Msg): void {
    if (err) {
      // the client ends a subscription after an error (e.g. a permission violation on the inbox): for good
      const why = fromNatsError(err, "the reply subscription failed");
      this.broken = why.retryable
        ? new ConnectionError(`${why.message}; calls on this connection cannot get replies any more`, {
            cause: err,
            retryable: false,
          })
        : why;
      this.logger.error({ err: this.broken }, "reply subscription failed; calls on this connection will fail");
      this.rejectAll(this.broken);
      return;
    }
    const id = subjectFrom(msg, this.prefix.length);
    const p = this.pending.get(id);
    if (p === undefined) {
      this.logger.debug({ subject: msg.subject }, "late or unknown reply dropped");
      return;
    }
    this.onReply(id, p, msg);
  }
}
