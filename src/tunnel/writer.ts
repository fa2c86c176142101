/**
 * The sending half of a tunnel end: messages one at a time (so that chunks
 * never interleave), cut into frames that fit the reader's window, each
 * frame waiting for the reader's credit, published with its ack awaited in
 * the background.
 */
import { type JetmeshError, TimeoutError } from "../errors/index.js";
import { chunkLimit, chunkSize, FRAME_COST } from "./chunking.js";
import { SendCredit } from "./credit.js";
import { encodeFrame, type FrameKind, KIND } from "./frame.js";
import { type Waiter, wait } from "./waiters.js";

/** A sender that always has credit still lets the event loop run this often, in ms. */
const YIELD_MS = 20;

export interface WriterHost {
  /** Why sending must stop now (the tunnel ended), or undefined. */
  stopped(): JetmeshError | undefined;
  /** Publishes one frame; resolves with its ack. */
  publish(frame: Uint8Array): Promise<unknown>;
  /** A frame was not stored: the tunnel cannot keep its order. */
  broken(err: unknown): void;
  /** Message bytes sent (metrics). */
  traffic: { sent: number };
}

/** What the reader said at set-up. */
export interface ReaderTerms {
  window: number;
  maxMessage: number;
  /** The max payload of the reader's server. */
  maxPayload: number;
}

export class Writer {
  readonly #host: WriterHost;
  readonly #maxChunk: number;
  #seq = 0;
  readonly #credit = new SendCredit();
  #reader: ReaderTerms | undefined;
  #turn: Promise<void> = Promise.resolve();
  #lastYield = performance.now();
  /** Frames published and not yet acknowledged. */
  readonly inflight = new Set<Promise<unknown>>();
  readonly #creditWaiters: Array<Waiter<void>> = [];
  #creditNeed = 0;
  /** The largest message this end may send: its own maximum, or the reader's when smaller. */
  maxMessage: number;

  constructor(host: WriterHost, own: { maxMessage: number; maxChunk: number }) {
    this.#host = host;
    this.#maxChunk = own.maxChunk;
    this.maxMessage = own.maxMessage;
  }

  /** The reader is there: credit starts at its window. */
  begin(reader: ReaderTerms): void {
    this.#reader = reader;
    this.maxMessage = Math.min(this.maxMessage, reader.maxMessage);
    this.#credit.start(reader.window);
  }

  /** Frames sent so far (the next frame's sequence). */
  get frames(): number {
    return this.#seq;
  }

  /** Messages sent whose bytes the reader has not said it released. */
  get unconfirmed(): number {
    return this.#credit.unconfirmed;
  }

  /** Sends `message` after those before it; `deadline` is a `performance.now()` time. */
  send(message: Uint8Array, deadline: number, timeout: number, signal: AbortSignal | undefined): Promise<void> {
    const turn = this.#turn.then(() => this.#sendNow(message, deadline, timeout, signal));
    this.#turn = turn.catch(() => {});
    return turn;
  }

  /**
   * Publishes the end frame after every message whose send came before
   * (those waiting for credit go first), then resolves once it and every
   * frame before it are stored. Rejects when the tunnel ends first, or a frame
   * is not stored (the host is told, as for any frame).
   */
  end(): Promise<void> {
    const turn = this.#turn.then(async () => {
      this.#sendFrame(KIND.end, undefined, 0);
      await Promise.all([...this.inflight]);
    });
    this.#turn = turn.catch(() => {});
    return turn;
  }

  /** Publishes the close frame, in order after everything sent. */
  close(): Promise<unknown> {
    return this.#host.publish(encodeFrame(KIND.close, this.#seq++));
  }

  /** A grant from the reader (see {@link SendCredit.grant}); a send waiting for it goes on. */
  grant(value: number): "grown" | "stale" | "invalid" {
    const outcome = this.#credit.grant(value);
    if (outcome !== "grown") return outcome;
    const w = this.#creditWaiters[0];
    if (w !== undefined && this.#credit.fits(this.#creditNeed)) {
      this.#credit.take(this.#creditNeed);
      w.resolve();
    }
    return outcome;
  }

  /** The tunnel ended: a send waiting for credit rejects `err`. */
  stop(err: JetmeshError): void {
    for (const w of [...this.#creditWaiters]) w.reject(err);
  }

  async #sendNow(message: Uint8Array, deadline: number, timeout: number, signal: AbortSignal | undefined) {
    const reader = this.#reader;
    const maxPayload = Math.min(this.#maxChunk, reader?.maxPayload ?? this.#maxChunk);
    const size = chunkSize(message.byteLength, chunkLimit(maxPayload, reader?.window ?? 0));
    if (size === message.byteLength) {
      await this.#reserve(message.byteLength + FRAME_COST, deadline, timeout, signal);
      this.#sendFrame(KIND.whole, message, 0);
    } else {
      let at = 0;
      while (at < message.byteLength) {
        const chunk = message.subarray(at, Math.min(at + size, message.byteLength));
        try {
          await this.#reserve(chunk.byteLength + FRAME_COST, deadline, timeout, signal);
        } catch (err) {
          // what went out of this message is dropped by the other end
          if (at > 0 && this.#host.stopped() === undefined) this.#sendFrame(KIND.abort, undefined, 0);
          throw err;
        }
        const last = at + chunk.byteLength === message.byteLength;
        this.#sendFrame(at === 0 ? KIND.first : last ? KIND.last : KIND.more, chunk, message.byteLength);
        at += chunk.byteLength;
      }
    }
    this.#credit.messageSent();
    this.#host.traffic.sent += message.byteLength;
  }

  /** Publishes the next frame, unless the tunnel ended while this end waited (then nothing more goes out). */
  #sendFrame(kind: FrameKind, chunk: Uint8Array | undefined, total: number): void {
    const stopped = this.#host.stopped();
    if (stopped) throw stopped;
    const sent = this.#host.publish(encodeFrame(kind, this.#seq++, chunk, total));
    this.inflight.add(sent);
    sent.then(
      () => this.inflight.delete(sent),
      (err: unknown) => {
        this.inflight.delete(sent);
        this.#host.broken(err);
      },
    );
  }

  /** Waits until `n` more bytes fit in the credit the reader granted, then takes them. */
  async #reserve(n: number, deadline: number, timeout: number, signal: AbortSignal | undefined): Promise<void> {
    const stopped = this.#host.stopped();
    if (stopped) throw stopped;
    signal?.throwIfAborted();
    if (this.#credit.fits(n)) {
      this.#credit.take(n);
      // a writer that always has credit would never let the event loop read the socket
      if (performance.now() - this.#lastYield > YIELD_MS) {
        await new Promise((resolve) => setImmediate(resolve));
        this.#lastYield = performance.now();
      }
      return;
    }
    const left = deadline - performance.now();
    const timedOut = () => new TimeoutError(`send timed out after ${timeout} ms: the other end is not reading`);
    if (left < 1) throw timedOut();
    // sends go one at a time: at most one waits for credit
    this.#creditNeed = n;
    return wait(this.#creditWaiters, left, signal, timedOut);
  }
}
