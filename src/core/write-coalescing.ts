/**
 * Write coalescing for calls that resolve before anything answers them (a
 * broadcast): a loop of `await conn.broadcast()` would otherwise cost one
 * flush and one socket write per message.
 *
 * Why: the NATS client buffers what is published and flushes that buffer on a
 * microtask queued by the first publish into an empty buffer. A call that
 * returns an already-settled promise lets the caller's `await` resume right
 * after that flush, so every awaited broadcast is flushed alone: its bytes
 * copied out, a promise made for the write, a `write()` on the socket (and,
 * on loopback, a wake-up of the server). Measured: a loop of awaited
 * broadcasts sent 0.07x-0.4x the messages of a loop of plain publishes.
 *
 * How: the first such call of a turn of the event loop makes the client's
 * flush wait until `process.nextTick`, which Node runs once every microtask of
 * that turn (the caller's awaits included) has run; then it flushes once.
 * What the connection published in between (broadcasts, requests, anything)
 * goes out in one write, in the order it was published; nothing is held past
 * the current turn; a buffer that reaches the client's own limit is flushed
 * at once, as without coalescing; and a call's errors are unchanged (they are
 * all raised before the publish).
 *
 * The flush is the client's own (`flushPending` of the protocol handler of
 * `@nats-io/nats-core`), which is not public API. It is looked up at each
 * hold; when it is not found as expected (another client version), writes are
 * simply not coalesced. `test/broadcast.test.ts` checks that it is found and
 * counts the socket writes of a loop of awaited broadcasts, so a client
 * upgrade that moves it fails the suite rather than slowing broadcasts down.
 */
import type { NatsConnection } from "@nats-io/nats-core";

/** What is used of the client's protocol handler. */
interface Protocol {
  flushPending(): void;
  outbound: { size(): number };
  pendingLimit: number;
}

/** The protocol handler under `nc`, when it has the flush and buffer this relies on. */
export function protocolOf(nc: NatsConnection): Protocol | undefined {
  const p = (nc as { protocol?: Partial<Protocol> }).protocol;
  if (typeof p?.flushPending !== "function" || typeof p.outbound?.size !== "function") return undefined;
  if (typeof p.pendingLimit !== "number" || Object.hasOwn(p, "flushPending")) return undefined;
  return p as Protocol;
}

/** Holds one connection's flushes for the rest of the current turn of the event loop. */
export class WriteCoalescer {
  #held: Protocol | undefined;
  /** The client's flush while held: only when its buffer is full, as the client itself does. */
  readonly #whileHeld = (): void => {
    const p = this.#held;
    if (p && p.outbound.size() >= p.pendingLimit) Object.getPrototypeOf(p).flushPending.call(p);
  };
  readonly #release = (): void => {
    const p = this.#held;
    this.#held = undefined;
    if (!p) return;
    // back to the client's own flush, then flush what the turn published
    delete (p as Partial<Protocol>).flushPending;
    p.flushPending();
  };

  constructor(private readonly nc: NatsConnection) {}

  /** Call before publishing: what the connection publishes until this turn's microtasks have run is flushed once. */
  hold(): void {
    if (this.#held) return;
    const p = protocolOf(this.nc);
    if (!p) return;
    this.#held = p;
    p.flushPending = this.#whileHeld;
    process.nextTick(this.#release);
  }
}
