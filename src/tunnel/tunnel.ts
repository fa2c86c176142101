/**
 * One end of a tunnel. Each direction's messages are JetStream messages on a
 * subject of their own, read in order by a {@link PullConsumer}; a small frame
 * before each payload carries the tunnel's own sequence (so that messages sent
 * again after a reconnect are put back in order and never handed twice) and
 * the chunking of large messages. Control messages (credit and heartbeats) go
 * over core NATS.
 *
 * Flow control: the reader grants the writer credit in bytes, a window ahead
 * of what it has released (handed to the application, or copied into the one
 * large message being put together), so the bytes on their way to a reader
 * never exceed the window, whatever either application does.
 */
import type { Msg, Subscription } from "@nats-io/nats-core";
import {
  ClosedError,
  type ConsumerHost,
  InvalidArgumentError,
  type JetmeshError,
  PayloadTooLargeError,
  type Publisher,
  PullConsumer,
  settlesWithin,
  TimeoutError,
  validateOptions,
  validatePayload,
  validateSignal,
  validateTimeout,
} from "../internal/index.js";
import type { RecvOptions, SendOptions, Tunnel } from "./types.js";

/** Frame kinds: the first byte of every message on a tunnel subject. */
const WHOLE = 0;
const FIRST = 1;
const MORE = 2;
const LAST = 3;
const ABORT = 4;
const CLOSE = 5;
/** kind (1) + sequence (6); a FIRST frame adds the message's total size (6). */
const FRAME = 7;
const FIRST_FRAME = 13;
/** A peer silent for this many heartbeats is gone. */
const MISSED_HEARTBEATS = 5;
const CALL_KEYS = ["timeout", "signal"] as const;
/**
 * What each frame costs of the window besides its payload (its subject,
 * headers and bookkeeping), so that many tiny messages are bounded too.
 */
const FRAME_COST = 128;
/** A sender that always has credit still lets the event loop run this often, in ms. */
const YIELD_MS = 20;

function writeU48(buf: Uint8Array, at: number, n: number): void {
  const high = Math.floor(n / 2 ** 32);
  buf[at] = (high >>> 8) & 0xff;
  buf[at + 1] = high & 0xff;
  buf[at + 2] = (n >>> 24) & 0xff;
  buf[at + 3] = (n >>> 16) & 0xff;
  buf[at + 4] = (n >>> 8) & 0xff;
  buf[at + 5] = n & 0xff;
}

function readU48(buf: Uint8Array, at: number): number {
  return (
    ((buf[at] ?? 0) * 256 + (buf[at + 1] ?? 0)) * 2 ** 32 +
    (((buf[at + 2] ?? 0) << 24) >>> 0) +
    ((buf[at + 3] ?? 0) << 16) +
    ((buf[at + 4] ?? 0) << 8) +
    (buf[at + 5] ?? 0)
  );
}

/** What a tunnel end needs from its connection. */
export interface TunnelHost extends ConsumerHost {
  publisher: Publisher;
  /** The connection's default time-out (send). */
  timeout: number;
  /** Message bytes sent and received by the connection's tunnels (metrics). */
  traffic: { sent: number; received: number };
  /** Called once the tunnel has ended. */
  forget(tun: TunnelEnd): void;
}

export interface TunnelPlan {
  id: string;
  cluster: string;
  stream: string;
  /** Where this end's messages go, and where the other end's come from. */
  outSubject: string;
  inSubject: string;
  /** Where this end hears the other's control messages, and where it sends its own. */
  controlIn: string;
  controlOut: string;
  window: number;
  maxMessage: number;
  heartbeat: number;
  /** The largest payload one JetStream message may carry. */
  maxChunk: number;
  /** The largest message the server carries, with its subject and headers (for pulls). */
  maxEvent: number;
}

interface Waiter<T> {
  resolve(v: T): void;
  reject(err: unknown): void;
  cleanup(): void;
}

/** A received message waiting for `recv`; `release` is what taking it frees of the window. */
interface Received {
  bytes: Uint8Array;
  release: number;
  big: boolean;
}

export class TunnelEnd implements Tunnel {
  readonly id: string;
  readonly cluster: string;
  readonly closed: Promise<Error | undefined>;
  readonly #host: TunnelHost;
  readonly #plan: TunnelPlan;
  readonly #consumer: PullConsumer;
  #control: Subscription | undefined;
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  #resolveClosed!: (reason: Error | undefined) => void;
  /** Set once this end has ended: why calls now fail. */
  #ended: JetmeshError | undefined;
  /** The other end closed or was lost: messages already here are still read, then this. */
  #remoteEnd: JetmeshError | undefined;
  /** Why the tunnel ended without either end closing it (the other end gone, a message not stored). */
  #lost: JetmeshError | undefined;
  #closing: Promise<void> | undefined;
  #releasing: Promise<void> | undefined;
  #lastHeard = Date.now();
  #lastBeat = Date.now();
  /** The other end stored its close: it stopped its heartbeats, and this end reads up to it. */
  #peerClosing = false;
  #checking = false;
  #gapBeats = 0;

  // sending
  #sendSeq = 0;
  #sent = 0;
  #credit = 0;
  #sendTurn: Promise<void> = Promise.resolve();
  /** The largest message this end may send: its own maximum, or the other end's when smaller. */
  #sendMax: number;
  #lastYield = Date.now();
  /** Frames published and not yet acknowledged. */
  readonly #inflight = new Set<Promise<unknown>>();
  readonly #creditWaiters: Array<Waiter<void>> = [];
  #creditNeed = 0;

  // receiving
  #expected = 0;
  /** Frames that arrived ahead of their turn (after a reconnect), or wait behind a large message not yet read. */
  readonly #pending = new Map<number, { data: Uint8Array; seq: number }>();
  readonly #queue: Received[] = [];
  #queuedBytes = 0;
  /** A large message is in the queue, unread: the next one waits until it is read. */
  #bigQueued = false;
  #assembly: { buf: Uint8Array; at: number } | undefined;
  #released = 0;
  #granted = 0;
  #lastStreamSeq = 0;
  /** Read messages up to this stream sequence were purged from the stream. */
  #purgedTo = 0;
  #releasedAtPurge = 0;
  #purging = false;
  readonly #recvWaiters: Array<Waiter<Uint8Array>> = [];

  constructor(host: TunnelHost, plan: TunnelPlan) {
    this.#host = host;
    this.#plan = plan;
    this.id = plan.id;
    this.cluster = plan.cluster;
    this.#sendMax = plan.maxMessage;
    this.closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
    const room = this;
    this.#consumer = new PullConsumer(
      { ...host, streamRenewed: () => this.#streamLost() },
      { stream: plan.stream, subject: plan.inSubject, start: undefined, shared: undefined },
      { threads: 1, memory: plan.window, maxEvent: plan.maxEvent },
      {
        // frames waiting for their turn are bounded by the writer's credit; counting them
        // here could stop the pull that brings the one they wait for
        get queuedBytes() {
          return room.#queuedBytes;
        },
        get queued() {
          return room.#queue.length;
        },
        running: 0,
      },
      (d) => this.#onFrame(d.msg.data, d.seq),
    );
  }

  /** Starts listening: control messages, and the incoming messages from now on. */
  async listen(): Promise<void> {
    this.#control = this.#host.nc.subscribe(this.#plan.controlIn, {
      callback: (err, msg) => this.#onControl(err, msg),
    });
    await this.#consumer.start();
  }

  /** The other end is there, with its window: start sending and heartbeats. */
  begin(peerWindow: number, peerMaxMessage: number): void {
    if (this.#ended ?? this.#remoteEnd) return;
    this.#sendMax = Math.min(this.#plan.maxMessage, peerMaxMessage);
    this.#credit = Math.max(this.#credit, peerWindow);
    this.#lastHeard = Date.now();
    this.#sendControl();
    this.#heartbeat = setInterval(() => this.#beat(), this.#plan.heartbeat);
    this.#heartbeat.unref?.();
  }

  send(message: Uint8Array, options?: SendOptions): Promise<void> {
    try {
      validatePayload("message", message);
      if (message.byteLength === 0) throw new InvalidArgumentError("message must not be empty");
      const o = validateOptions<SendOptions>("options", options, CALL_KEYS);
      const timeout = validateTimeout("options.timeout", o.timeout, this.#host.timeout);
      const signal = validateSignal(o.signal);
      if (message.byteLength > this.#sendMax) {
        throw new PayloadTooLargeError(
          `tunnel message of ${message.byteLength} bytes is above the tunnel maximum of ${this.#sendMax}`,
        );
      }
      if (this.#ended ?? this.#remoteEnd) throw this.#closedError("send");
      if (signal?.aborted) return Promise.reject(signal.reason);
      const deadline = Date.now() + timeout;
      // one message at a time, so that chunks never interleave
      const turn = this.#sendTurn.then(() => this.#sendNow(message, deadline, timeout, signal));
      this.#sendTurn = turn.catch(() => {});
      return turn;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  recv(options?: RecvOptions): Promise<Uint8Array> {
    try {
      const o = validateOptions<RecvOptions>("options", options, CALL_KEYS);
      const timeout = validateTimeout("options.timeout", o.timeout, 0, true);
      const signal = validateSignal(o.signal);
      if (this.#ended) throw this.#closedError("recv");
      const next = this.#take();
      if (next !== undefined) return Promise.resolve(next);
      if (this.#remoteEnd) throw this.#remoteEnd;
      if (signal?.aborted) return Promise.reject(signal.reason);
      return this.#wait(
        this.#recvWaiters,
        timeout,
        signal,
        () => new TimeoutError(`recv timed out after ${timeout} ms`),
      );
    } catch (err) {
      return Promise.reject(err);
    }
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    while (true) {
      try {
        yield await this.recv();
      } catch (err) {
        if (err instanceof ClosedError) return;
        throw err;
      }
    }
  }

  close(): Promise<void> {
    if (this.#ended === undefined) {
      const tellPeer = this.#remoteEnd === undefined;
      this.#end(new ClosedError("the tunnel was closed"));
      this.#closing = (async () => {
        if (tellPeer) {
          // in order after everything sent: the other end reads all of it, then ends
          await settlesWithin(this.#publish(CLOSE, this.#sendSeq++, undefined, 0), this.#host.drainTimeout);
        }
        await this.#releaseOnce();
      })();
    }
    return this.#closing ?? this.#releaseOnce();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** The connection is going away, or set-up failed: end without telling the other end. */
  abandon(reason: JetmeshError): Promise<void> {
    if (!this.#ended) this.#lost ??= reason;
    this.#end(reason);
    return this.#releaseOnce();
  }

  /** The connection came back: pulls may be gone, and acks of messages sent (the publisher re-sends those). */
  reconnected(): void {
    this.#consumer.reconnected();
  }

  // --- sending ---

  async #sendNow(message: Uint8Array, deadline: number, timeout: number, signal: AbortSignal | undefined) {
    // a chunk fits the server's max payload and half the window, so credit for one always comes
    const max = Math.min(this.#plan.maxChunk, Math.floor(this.#plan.window / 2)) - FIRST_FRAME;
    if (message.byteLength <= max) {
      await this.#reserve(message.byteLength + FRAME_COST, deadline, timeout, signal);
      this.#sendFrame(WHOLE, message, 0);
      this.#host.traffic.sent += message.byteLength;
      return;
    }
    // chunks of even size: no small tail costing a whole stored message
    const size = Math.ceil(message.byteLength / Math.ceil(message.byteLength / max));
    let at = 0;
    while (at < message.byteLength) {
      const chunk = message.subarray(at, Math.min(at + size, message.byteLength));
      try {
        await this.#reserve(chunk.byteLength + FRAME_COST, deadline, timeout, signal);
      } catch (err) {
        // what went out of this message is dropped by the other end
        if (at > 0 && !this.#ended && !this.#remoteEnd) this.#sendFrame(ABORT, undefined, 0);
        throw err;
      }
      this.#sendFrame(
        at === 0 ? FIRST : at + chunk.byteLength === message.byteLength ? LAST : MORE,
        chunk,
        message.byteLength,
      );
      at += chunk.byteLength;
    }
    this.#host.traffic.sent += message.byteLength;
  }

  /** Publishes the next frame, unless the tunnel ended while this end waited (then nothing more goes out). */
  #sendFrame(kind: number, chunk: Uint8Array | undefined, total: number): void {
    if (this.#ended ?? this.#remoteEnd) throw this.#closedError("send");
    const sent = this.#publish(kind, this.#sendSeq++, chunk, total);
    this.#inflight.add(sent);
    sent.then(
      () => this.#inflight.delete(sent),
      (err: unknown) => {
        this.#inflight.delete(sent);
        this.#broken(err);
      },
    );
  }

  /** Waits until `n` more bytes fit in the credit the reader granted, then takes them. */
  async #reserve(n: number, deadline: number, timeout: number, signal: AbortSignal | undefined): Promise<void> {
    if (this.#ended ?? this.#remoteEnd) throw this.#closedError("send");
    signal?.throwIfAborted();
    if (this.#sent + n <= this.#credit) {
      this.#sent += n;
      // a writer that always has credit would never let the event loop read the socket
      if (Date.now() - this.#lastYield > YIELD_MS) {
        await new Promise((resolve) => setImmediate(resolve));
        this.#lastYield = Date.now();
      }
      return;
    }
    return this.#waitForCredit(n, deadline, timeout, signal);
  }

  #waitForCredit(n: number, deadline: number, timeout: number, signal: AbortSignal | undefined): Promise<void> {
    const left = deadline - Date.now();
    if (left <= 0) return Promise.reject(this.#sendTimeout(timeout));
    // sends go one at a time: at most one waits for credit
    this.#creditNeed = n;
    return this.#wait(this.#creditWaiters, left, signal, () => this.#sendTimeout(timeout));
  }

  #sendTimeout(timeout: number): TimeoutError {
    return new TimeoutError(`send timed out after ${timeout} ms: the other end is not reading`);
  }

  /** Credit grew: the waiting send goes on if it fits now. */
  #creditGrew(): void {
    const w = this.#creditWaiters[0];
    if (w === undefined || this.#sent + this.#creditNeed > this.#credit) return;
    this.#sent += this.#creditNeed;
    w.resolve();
  }

  #publish(kind: number, seq: number, chunk: Uint8Array | undefined, total: number): Promise<unknown> {
    const head = kind === FIRST ? FIRST_FRAME : FRAME;
    const frame = new Uint8Array(head + (chunk?.byteLength ?? 0));
    frame[0] = kind;
    writeU48(frame, 1, seq);
    if (kind === FIRST) writeU48(frame, FRAME, total);
    if (chunk) frame.set(chunk, head);
    // acks are awaited in the background; one that fails breaks the tunnel
    return this.#host.publisher.publish(
      this.#plan.outSubject,
      this.id,
      frame,
      Math.max(30_000, this.#host.timeout),
      undefined,
      null,
    );
  }

  /** A message could not be stored: the tunnel cannot keep its order, so it ends. */
  #broken(err: unknown): void {
    if (this.#ended) return;
    this.#host.logger.warn({ tunnel: this.id, err }, "tunnel message not stored; closing the tunnel");
    this.#lost = new ClosedError("the tunnel broke: a message could not be stored", { cause: err });
    this.#end(this.#lost);
    void this.#releaseOnce();
  }

  // --- receiving ---

  #onFrame(data: Uint8Array, streamSeq: number): void {
    this.#lastHeard = Date.now();
    if (this.#ended) return;
    if (data.byteLength < FRAME || (data[0] ?? 255) > CLOSE) {
      this.#host.logger.warn({ tunnel: this.id, bytes: data.byteLength }, "malformed tunnel frame dropped");
      return;
    }
    const seq = readU48(data, 1);
    if (seq < this.#expected || this.#pending.has(seq)) return; // sent again after a reconnect: had it
    const kind = data[0] ?? 255;
    if (seq === this.#expected && this.#pending.size === 0 && !(kind === FIRST && this.#bigQueued)) {
      // its turn, as nearly always: handled at once, copied only where it is kept
      this.#expected++;
      this.#lastStreamSeq = streamSeq;
      this.#handle(kind, data, false);
      return;
    }
    // kept for later: copied, as the bytes view the socket buffer
    this.#pending.set(seq, { data: data.slice(), seq: streamSeq });
    this.#drain();
  }

  /** Handles the frames that are next in order, stopping at a large message while one is unread. */
  #drain(): void {
    for (let f = this.#pending.get(this.#expected); f !== undefined; f = this.#pending.get(this.#expected)) {
      const kind = f.data[0];
      if (kind === FIRST && this.#bigQueued) return;
      this.#pending.delete(this.#expected);
      this.#expected++;
      this.#lastStreamSeq = f.seq;
      this.#handle(kind ?? 255, f.data, true);
      if (this.#ended) return;
    }
  }

  /** Acts on one frame in its turn; `owned`: its bytes are a copy already (else they view the socket buffer). */
  #handle(kind: number, data: Uint8Array, owned: boolean): void {
    switch (kind) {
      case WHOLE: {
        const bytes = owned ? data.subarray(FRAME) : data.slice(FRAME);
        this.#deliver({ bytes, release: bytes.byteLength + FRAME_COST, big: false });
        return;
      }
      case FIRST: {
        const total = readU48(data, FRAME);
        if (total > this.#plan.maxMessage) {
          this.#broken(new PayloadTooLargeError(`incoming tunnel message of ${total} bytes is above the maximum`));
          return;
        }
        this.#assembly = { buf: new Uint8Array(total), at: 0 };
        this.#append(data.subarray(FIRST_FRAME));
        return;
      }
      case MORE:
      case LAST: {
        if (this.#assembly === undefined) return; // its start was dropped with an abort
        this.#append(data.subarray(FRAME));
        if (kind === LAST) {
          const { buf } = this.#assembly;
          this.#assembly = undefined;
          this.#bigQueued = true;
          this.#deliver({ bytes: buf, release: 0, big: true });
        }
        return;
      }
      case ABORT:
        this.#assembly = undefined;
        return;
      case CLOSE:
        this.#remoteEnd = new ClosedError("the tunnel was closed by the other end");
        this.#endRemote();
        return;
    }
  }

  /** Copies a chunk into the message being put together; its bytes leave the window. */
  #append(chunk: Uint8Array): void {
    const a = this.#assembly;
    if (a === undefined) return;
    if (a.at + chunk.byteLength > a.buf.byteLength) {
      this.#broken(new Error("a tunnel message's chunks exceed its size"));
      return;
    }
    a.buf.set(chunk, a.at);
    a.at += chunk.byteLength;
    this.#releaseBytes(chunk.byteLength + FRAME_COST);
  }

  #deliver(r: Received): void {
    const w = this.#recvWaiters.shift();
    if (w) {
      // resolved before taking: taking may hand the next message to the next waiter
      w.resolve(r.bytes);
      this.#took(r);
      return;
    }
    this.#queue.push(r);
    this.#queuedBytes += r.release;
  }

  #take(): Uint8Array | undefined {
    const r = this.#queue.shift();
    if (r === undefined) return undefined;
    this.#queuedBytes -= r.release;
    this.#took(r);
    return r.bytes;
  }

  /** The application has a message: its bytes leave the window, and a large one lets the next in. */
  #took(r: Received): void {
    this.#host.traffic.received += r.bytes.byteLength;
    this.#releaseBytes(r.release);
    if (r.big) {
      this.#bigQueued = false;
      this.#drain();
    }
    this.#consumer.poke();
  }

  #releaseBytes(n: number): void {
    this.#released += n;
    if (this.#released - this.#granted >= this.#plan.window / 8) this.#sendControl();
  }

  /** Tells the other end how far it may send; also drops what was read from the stream. */
  #sendControl(force = false): void {
    this.#granted = this.#released;
    try {
      this.#host.nc.publish(this.#plan.controlOut, `c${this.#released + this.#plan.window}`);
    } catch {
      // closed connection: the tunnel ends with it
    }
    this.#purge(force);
  }

  /**
   * Drops what was read from the stream: every half window (or each
   * heartbeat), one purge at a time, so that the stream holds at most half a
   * window read beside the window unread; a purge per grant would cost the
   * server more than the data.
   */
  #purge(force: boolean): void {
    const upTo = this.#lastStreamSeq;
    if (this.#purging || upTo <= this.#purgedTo) return;
    if (!force && this.#released - this.#releasedAtPurge < this.#plan.window / 2) return;
    this.#purging = true;
    this.#purgedTo = upTo;
    this.#releasedAtPurge = this.#released;
    this.#host
      .jsm()
      .then((jsm) => jsm.streams.purge(this.#plan.stream, { filter: this.#plan.inSubject, seq: upTo + 1 }))
      .catch(() => {})
      .finally(() => {
        this.#purging = false;
      });
  }

  #onControl(err: Error | null, msg: Msg): void {
    if (err || this.#ended) return;
    this.#lastHeard = Date.now();
    const text = msg.string();
    if (text.startsWith("c")) {
      const credit = Number(text.slice(1));
      if (Number.isSafeInteger(credit) && credit > this.#credit) {
        this.#credit = credit;
        this.#creditGrew();
      }
    }
  }

  #beat(): void {
    if (this.#ended ?? this.#remoteEnd) return;
    const now = Date.now();
    const late = now - this.#lastBeat > 2 * this.#plan.heartbeat;
    this.#lastBeat = now;
    this.#sendControl(true);
    // a beat that comes late means this process was stalled: what it has not read yet may say the other end lives
    if (late) return;
    // a gap that never fills ends the tunnel even when the other end's close is stored beyond it
    if (this.#waitingOnGap() || this.#peerClosing || this.#checking) return;
    if (now - this.#lastHeard > MISSED_HEARTBEATS * this.#plan.heartbeat) void this.#checkPeer();
  }

  /** Frames wait for one that never comes: after a while, the tunnel cannot go on in order. */
  #waitingOnGap(): boolean {
    if (this.#pending.size === 0 || this.#pending.has(this.#expected)) {
      this.#gapBeats = 0;
      return false;
    }
    if (++this.#gapBeats > 2 * MISSED_HEARTBEATS) {
      this.#broken(new Error(`message ${this.#expected} of the tunnel never arrived`));
    }
    return true;
  }

  /**
   * The other end has been silent: if the last thing it stored is its close, it
   * closed and this end has not read that far yet (it will); else it is gone.
   */
  async #checkPeer(): Promise<void> {
    this.#checking = true;
    let closedThere = false;
    try {
      const jsm = await this.#host.jsm();
      const last = await jsm.streams.getMessage(this.#plan.stream, { last_by_subj: this.#plan.inSubject });
      closedThere = last?.data[0] === CLOSE;
    } catch {
      // nothing stored (or no answer): it did not close
    }
    this.#checking = false;
    if (this.#ended ?? this.#remoteEnd) return;
    if (closedThere) {
      this.#peerClosing = true;
      return;
    }
    if (Date.now() - this.#lastHeard <= MISSED_HEARTBEATS * this.#plan.heartbeat) return;
    this.#lost = new ClosedError(
      `the other end of the tunnel is gone (nothing heard for ${MISSED_HEARTBEATS} heartbeats)`,
    );
    this.#remoteEnd = this.#lost;
    this.#endRemote();
  }

  /** The stream was made anew (memory storage and a server restart): what was on the way is lost. */
  #streamLost(): void {
    this.#broken(new Error("the tunnels stream was lost (a server restart with memory storage)"));
  }

  // --- ending ---

  /** The other end closed or is gone: sends fail now, messages here stay readable, then `recv` fails. */
  #endRemote(): void {
    const reason = this.#remoteEnd;
    for (const w of [...this.#creditWaiters]) w.reject(this.#closedError("send"));
    if (this.#queue.length === 0) {
      for (const w of this.#recvWaiters.splice(0)) w.reject(reason);
    }
    this.#stopTimers();
    void this.#releaseOnce();
  }

  /** Ends this end: every waiting call rejects with `err`, and what was received is dropped. */
  #end(err: JetmeshError): void {
    if (this.#ended) return;
    this.#ended = err;
    for (const w of [...this.#creditWaiters]) w.reject(err);
    for (const w of this.#recvWaiters.splice(0)) w.reject(err);
    this.#queue.length = 0;
    this.#assembly = undefined;
    this.#stopTimers();
  }

  #stopTimers(): void {
    clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
  }

  #releaseOnce(): Promise<void> {
    this.#releasing ??= this.#release();
    return this.#releasing;
  }

  /** Releases what the tunnel holds on the server: the consumer, the control subscription, what is left to read. */
  async #release(): Promise<void> {
    try {
      this.#control?.unsubscribe();
    } catch {
      // closed connection
    }
    await this.#consumer.stop();
    const subjects = [this.#plan.inSubject];
    if (this.#remoteEnd) {
      // nobody reads what this end sent: drop it too, once it is stored
      await settlesWithin(Promise.allSettled([...this.#inflight]), this.#host.drainTimeout);
      subjects.push(this.#plan.outSubject);
    }
    await settlesWithin(
      this.#host
        .jsm()
        .then((jsm) => Promise.all(subjects.map((filter) => jsm.streams.purge(this.#plan.stream, { filter })))),
      this.#host.drainTimeout,
    );
    this.#host.forget(this);
    this.#resolveClosed(this.#lost);
  }

  #closedError(what: string): JetmeshError {
    const why = this.#ended ?? this.#remoteEnd;
    return new ClosedError(`${what}: ${why?.message ?? "the tunnel is closed"}`, { cause: why });
  }

  #wait<T>(
    list: Array<Waiter<T>>,
    timeout: number,
    signal: AbortSignal | undefined,
    timedOut: () => JetmeshError,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = timeout > 0 ? setTimeout(() => w.reject(timedOut()), timeout) : undefined;
      const onAbort = () => w.reject(signal?.reason);
      const w: Waiter<T> = {
        resolve: (v) => {
          w.cleanup();
          resolve(v);
        },
        reject: (err) => {
          w.cleanup();
          reject(err);
        },
        cleanup: () => {
          clearTimeout(timer);
          signal?.removeEventListener("abort", onAbort);
          const i = list.indexOf(w);
          if (i >= 0) list.splice(i, 1);
        },
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      list.push(w);
    });
  }
}
