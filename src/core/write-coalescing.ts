/**
 * Write coalescing for calls that resolve before anything answers them (a
 * broadcast): a loop of `await conn.broadcast()` would otherwise cost one
 * socket write per message.
 *
 * Why: the NATS client buffers what is published and flushes that buffer on a
 * microtask. A call that returns an already-settled promise lets the caller's
 * `await` resume right after that flush, so every awaited broadcast becomes
 * its own `write()` (and, on loopback, its own system call and wake-up of the
 * server): about 15 times slower than the same publishes made in a plain loop.
 *
 * How: the first such call of a turn of the event loop corks the connection's
 * socket and uncorks it on `process.nextTick`, which Node runs once the
 * microtasks queued in that turn (the caller's awaits included) have all run.
 * The client's flushes in between land in the corked socket and leave in one
 * `writev`. Nothing is reordered (it is one socket, written in call order),
 * nothing is held past the current turn, and a call's errors are unchanged
 * (they are all raised before the publish).
 *
 * The socket is the client's own (`protocol.transport.socket` of
 * `@nats-io/transport-node`), which is not public API: it is looked up at each
 * cork, since a reconnect makes a new one, and when it is not found (another
 * transport, another client version) writes are simply not coalesced.
 * `test/write-coalescing.test.ts` checks that it is found on a real
 * connection, so a client upgrade that moves it fails the suite rather than
 * silently slowing broadcasts down.
 */
import type { NatsConnection } from "@nats-io/nats-core";

/** What is used of a Node socket. */
interface Corkable {
  cork(): void;
  uncork(): void;
  readonly destroyed?: boolean;
}

/** The client's socket under `nc`, when it is a Node stream that can be corked. */
export function socketOf(nc: NatsConnection): Corkable | undefined {
  const socket = (nc as { protocol?: { transport?: { socket?: Partial<Corkable> } } }).protocol?.transport?.socket;
  if (typeof socket?.cork !== "function" || typeof socket.uncork !== "function") return undefined;
  return socket as Corkable;
}

/** Corks the socket of one connection for the rest of the current turn of the event loop. */
export class WriteCoalescer {
  #corked: Corkable | undefined;
  readonly #release = (): void => {
    const socket = this.#corked;
    this.#corked = undefined;
    if (socket && !socket.destroyed) socket.uncork();
  };

  constructor(private readonly nc: NatsConnection) {}

  /** Call before publishing: what the connection writes until this turn's microtasks have run goes out in one write. */
  hold(): void {
    if (this.#corked) return;
    const socket = socketOf(this.nc);
    if (!socket || socket.destroyed) return;
    socket.cork();
    this.#corked = socket;
    process.nextTick(this.#release);
  }
}
