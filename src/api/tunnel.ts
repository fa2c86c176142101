/** Options of `conn.tunnel`. */
export interface TunnelOptions {
  /** How long set-up may take, in ms. Default: the connection's `timeout`. */
  timeout?: number;
  /** Aborts set-up; it rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** Options of `tunnel.send`. */
export interface SendOptions {
  /** How long to wait for the reader to make room, in ms. Default: the connection's `timeout`. */
  timeout?: number;
  /** Aborts the send; it rejects with the signal's reason and nothing of the message is delivered. */
  signal?: AbortSignal;
}

/** Options of `tunnel.recv`. */
export interface RecvOptions {
  /** How long to wait for a message, in ms; 0 (the default) waits forever, as in Iris. */
  timeout?: number;
  /** Aborts the wait; it rejects with the signal's reason. */
  signal?: AbortSignal;
}

/**
 * An ordered, flow-controlled stream of byte messages to one member of a
 * cluster (from `conn.tunnel`) or from a caller (in `handleTunnel`). Messages
 * arrive whole, once, in order; a sender waits while the reader is a window
 * behind. Either end may `end()` its sending and go on reading (half-close).
 *
 * @example
 * ```ts
 * await using tun = await conn.tunnel("files", { timeout: 1000 });
 * await tun.send(bytes);
 * const reply = await tun.recv({ timeout: 1000 });
 * await tun.end(); // sends nothing more; still reads
 * for await (const msg of tun) console.log(msg.length); // ends when the other end ends or closes; throws when it broke
 * ```
 */
export interface Tunnel extends AsyncDisposable, AsyncIterable<Uint8Array> {
  /** The tunnel's id (random, 128 bits). */
  readonly id: string;
  /** The cluster of the member at the accepting end. */
  readonly cluster: string;
  /**
   * Resolves once the tunnel has ended: undefined when either end closed it
   * (or both ended it), the reason (a `ClosedError`) when it broke: the other
   * end gone, an outage past `tunnels.outageTimeout`, a message not stored.
   * The reason says how many messages sent from this end were not confirmed
   * received.
   */
  readonly closed: Promise<Error | undefined>;
  /**
   * Sends one message (not empty; at most `maxMessage` bytes). Resolves once
   * it is on its way; waits while the reader is a window behind. Rejects
   * `TimeoutError` (nothing of the message is delivered), `ClosedError` (also
   * after `end()` here), `PayloadTooLargeError` or `InvalidArgumentError`.
   */
  send(message: Uint8Array, options?: SendOptions): Promise<void>;
  /**
   * The next message. Rejects `TimeoutError`, or `ClosedError` once the tunnel
   * is closed here, or ended, closed (or broken) there and every message sent
   * before is read: that `ClosedError` is the end of the stream. Iterating the
   * tunnel ends after an end or a close, and throws the `ClosedError` when the
   * tunnel broke.
   */
  recv(options?: RecvOptions): Promise<Uint8Array>;
  /**
   * Half-close: this end sends nothing more, and goes on reading. The other
   * end reads every message sent here before, in order, then its `recv`
   * rejects `ClosedError` and its iteration ends; it may go on sending until
   * it ends or closes too. Once both ends have ended, the tunnel closes by
   * itself at both (`closed` resolves undefined; messages received and not
   * read stay readable).
   *
   * A `send` called before `end()` goes out before the end; one called after
   * rejects `ClosedError`. Resolves once the end, and every message before
   * it, are stored on the way to the other end (not when the other end has
   * read them: reading may wait on this end). Idempotent (later calls return
   * the first call's promise); on a tunnel already closed (here or there) it
   * resolves and does nothing. Rejects `ClosedError` when the tunnel broke
   * first, and `ConfigurationError` (changing nothing) when the other end
   * runs an earlier jetmesh that cannot half-close. `close()` still works
   * after it.
   *
   * @example
   * ```ts
   * for (const part of parts) await tun.send(part);
   * await tun.end();
   * for await (const answer of tun) console.log(answer.length); // ends when the other end ends
   * ```
   */
  end(): Promise<void>;
  /**
   * Closes the tunnel: the other end reads what was sent before, then gets
   * `ClosedError`. Here, waiting `send`s and `recv`s reject `ClosedError` at
   * once. Idempotent.
   */
  close(): Promise<void>;
}

/**
 * Settings of tunnels, given as `connect({ tunnels: {...} })`: the stream
 * that carries their messages, and each tunnel's window, largest message and
 * heartbeat.
 *
 * @example
 * ```ts
 * const conn = await connect({ servers: url, tunnels: { window: 16 * 1024 * 1024 } });
 * ```
 */
export interface TunnelsOptions {
  /** Stream name. Default `JETMESH_TUNNELS_<namespace>` (dots become `_`). */
  stream?: string;
  /** `"memory"` (default) or `"file"`. */
  storage?: "file" | "memory";
  /** Copies kept in a JetStream cluster (1-5). Default 1. */
  replicas?: number;
  /**
   * Most bytes the stream holds for all tunnels together. Each direction of a
   * busy tunnel holds up to 1.5 windows; when the stream is full, sends fail and
   * the tunnel ends. Default 512 MiB (about 40 tunnels sending at full speed at
   * once with the default window).
   */
  maxBytes?: number;
  /** How long a message left behind (its reader gone) is kept, in ms. Default 1 h. */
  maxAge?: number;
  /** Bytes a sender may have on the way to a reader that has not read them. Default 8 MiB. */
  window?: number;
  /** Largest message; larger ones are `PayloadTooLargeError`. Default 64 MiB. */
  maxMessage?: number;
  /** How often each end tells the other it is alive, in ms (the opener's value holds for both ends). Default 1 000. */
  heartbeat?: number;
  /**
   * How long a tunnel rides out an outage, in ms (the opener's value holds
   * for both ends): an end whose own connection is down keeps the tunnel this
   * long, and the other end waits as long (plus 5 heartbeats) before it takes
   * the silence as the end's loss. Messages sent meanwhile are delivered, in
   * order, once both ends are back. Default 30 000; at least 1 000.
   */
  outageTimeout?: number;
}
