/**
 * Messages a tunnel end received in order and the application has not read
 * yet, and the `recv` calls waiting for one: a message goes straight to the
 * first waiting call, else waits here, its bytes counted against the window.
 * Bytes that view the NATS client's buffer are copied only when they wait
 * here, as the request dispatcher does: what waits holds its own bytes and
 * no more, so the window bounds the memory it takes.
 */
import { TimeoutError } from "../errors/index.js";
import { copyBytes } from "../wire/index.js";
import { handedOver } from "./byte-buffers.js";
import type { Received } from "./inbound.js";
import { type Waiter, wait } from "./waiters.js";

export class ReceiveQueue {
  readonly #items: Received[] = [];
  #bytes = 0;
  readonly #waiters: Array<Waiter<Uint8Array>> = [];

  /** `took` is told of each message handed to the application. */
  constructor(private readonly took: (r: Received) => void) {}

  /** Window bytes of the messages waiting here. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Messages waiting here. */
  get length(): number {
    return this.#items.length;
  }

  /** The next message in order: to a waiting call, else it waits here. */
  put(r: Received): void {
    const w = this.#waiters.shift();
    if (w) {
      // resolved before taking: taking may hand the next message to the next waiter
      w.resolve(r.view ? handedOver(r.bytes) : r.bytes);
      this.took(r);
      return;
    }
    if (r.view) {
      r.bytes = copyBytes(r.bytes);
      r.view = false;
    }
    this.#items.push(r);
    this.#bytes += r.release;
  }

  /** The next message waiting here, if any. */
  take(): Uint8Array | undefined {
    const r = this.#items.shift();
    if (r === undefined) return undefined;
    this.#bytes -= r.release;
    this.took(r);
    return r.bytes;
  }

  /** Waits for the next message, `timeout` ms at most (0: for ever), or until `signal` aborts. */
  wait(timeout: number, signal: AbortSignal | undefined): Promise<Uint8Array> {
    return wait(this.#waiters, timeout, signal, () => new TimeoutError(`recv timed out after ${timeout} ms`));
  }

  /** Rejects every waiting call with `err`; messages waiting here stay readable. */
  rejectWaiting(err: unknown): void {
    for (const w of this.#waiters.splice(0)) w.reject(err);
  }

  /** Rejects every waiting call with `err` and drops every message waiting here. */
  clear(err: unknown): void {
    this.rejectWaiting(err);
    this.#items.length = 0;
    this.#bytes = 0;
  }
}
