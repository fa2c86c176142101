/**
 * One end of a tunnel. Each direction's messages are JetStream messages on a
 * subject of their own, read in order by a {@link PullConsumer}; a small frame
 * before each payload carries the tunnel's own sequence (so that messages sent
 * again after a reconnect or a stream-leader change are put back in order and
 * never handed twice) and the chunking of large messages. Control messages
 * (credit and heartbeats) go over core NATS.
 *
 * Flow control: the reader grants the writer credit in bytes, a window ahead
 * of what it has released (handed to the application, or copied into the one
 * large message being put together), so the bytes on their way to a reader
 * never exceed the window, whatever either application does.
 *
 * Liveness: silence of the other end counts only while this end's connection
 * is up; the other end is gone after `outageTimeout` plus 5 heartbeats of it,
 * and this end gives up once its own connection has been down for
 * `outageTimeout`. Either way the tunnel ends visibly: calls reject
 * `ClosedError` with the reason.
 */
import type { Msg, Subscription } from "@nats-io/nats-core";
import {
  ClosedError,
  type ConsumerHost,
  fromJetStreamError,
  InvalidArgumentError,
  type JetmeshError,
  PayloadTooLargeError,
  type Publisher,
  PullConsumer,
  settlesWithin,
  ThrottledWarning,
  TimeoutError,
  validateOptions,
  validatePayload,
  validateSignal,
  validateTimeout,
} from "../internal/index.js";
import { chunkLimit, chunkSize, FRAME_COST } from "./chunking.js";
import { ReadCredit, SendCredit } from "./credit.js";
import { encodeFrame, FRAME_HEAD, type FrameKind, KIND, MAX_U48 } from "./frame.js";
import { Inbound, type Received } from "./inbound.js";
import { Liveness } from "./liveness.js";
import type { RecvOptions, SendOptions, Tunnel } from "./types.js";
import { type Waiter, wait } from "./waiters.js";

/** A peer silent for this many heartbeats beyond the outage bound is gone. */
export const MISSED_HEARTBEATS = 5;
const CALL_KEYS = ["timeout", "signal"] as const;
/** A sender that always has credit still lets the event loop run this often, in ms. */
const YIELD_MS = 20;
/**
 * Control messages: a grant (`c<credit>`), how many frames the other end has
 * sent (`s<count>`, with each heartbeat), or the other end saying it broke
 * the tunnel (`x`).
 */
const GRANT = /^c(\d{1,16})$/;
const SENT = /^s(\d{1,15})$/;
const BROKE = "x";
/**
 * Frames the other end sent that have not arrived after this long, while
 * this end has room for them, mean its consumer is gone (with a stream
 * leader's server): it is made anew, at most this often, in ms.
 */
const STALL_MS = 3_000;

/** What a tunnel end needs from its connection. */
export interface TunnelHost extends ConsumerHost {
  publisher: Publisher;
  /** The connection's default time-out (send). */
  timeout: number;
  /** Message bytes sent and received by the connection's tunnels (metrics), and wire input dropped. */
  traffic: { sent: number; received: number; malformed: number };
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
  /** How long an outage of either end's connection is ridden out, in ms. */
  outageTimeout: number;
  /** The largest payload one JetStream message may carry on this end's server. */
  maxChunk: number;
  /** The largest message the server carries, with its subject and headers (for pulls). */
  maxEvent: number;
}

/** What the other end said at set-up. */
export interface PeerTerms {
  window: number;
  maxMessage: number;
  /** The max payload of the other end's server. */
  maxPayload: number;
}

export class TunnelEnd implements Tunnel {
  readonly id: string;
  readonly cluster: string;
  readonly closed: Promise<Error | undefined>;
  /** Wire input of this tunnel that was dropped. */
  malformed = 0;
  readonly #host: TunnelHost;
  readonly #plan: TunnelPlan;
  readonly #consumer: PullConsumer;
  readonly #inbound: Inbound;
  readonly #liveness = new Liveness(performance.now());
  readonly #badInput: ThrottledWarning;
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
  #lastBeat = performance.now();
  /** The other end stored its close: it stopped its heartbeats, and this end reads up to it. */
  #peerClosing = false;
  #checking = false;
  /** How long frames have waited for a missing one, in connected ms. */
  #gapMs = 0;
  /** How many frames the other end says it sent; when a frame last arrived, and when the consumer was last made anew. */
  #peerSent = 0;
  #lastFrameAt = performance.now();
  #lastRefresh = 0;

  // sending
  #sendSeq = 0;
  readonly #credit = new SendCredit();
  #peer: PeerTerms | undefined;
  #sendTurn: Promise<void> = Promise.resolve();
  /** The largest message this end may send: its own maximum, or the other end's when smaller. */
  #sendMax: number;
  #lastYield = performance.now();
  /** Frames published and not yet acknowledged. */
  readonly #inflight = new Set<Promise<unknown>>();
  readonly #creditWaiters: Array<Waiter<void>> = [];
  #creditNeed = 0;

  // receiving
  readonly #queue: Received[] = [];
  #queuedBytes = 0;
  readonly #read: ReadCredit;
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
    this.#read = new ReadCredit(plan.window);
    this.#badInput = new ThrottledWarning(host.logger, "malformed tunnel input dropped");
    this.closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
    this.#inbound = new Inbound(plan.maxMessage, plan.window, {
      deliver: (r) => this.#deliver(r),
      release: (n) => this.#releaseBytes(n),
      closed: () => {
        this.#remoteEnd = new ClosedError("the tunnel was closed by the other end");
        this.#endRemote();
      },
      malformed: (why) => this.#malformed(why),
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
    try {
      await this.#consumer.start();
    } catch (err) {
      throw fromJetStreamError(err, `tunnel "${this.id}": reading its messages`);
    }
  }

  /** The other end is there, with its terms: start sending and heartbeats. */
  begin(peer: PeerTerms): void {
    if (this.#ended ?? this.#remoteEnd) return;
    this.#peer = peer;
    this.#sendMax = Math.min(this.#plan.maxMessage, peer.maxMessage);
    this.#credit.start(peer.window);
    this.#liveness.heard(performance.now());
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
      const deadline = performance.now() + timeout;
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
      return wait(this.#recvWaiters, timeout, signal, () => new TimeoutError(`recv timed out after ${timeout} ms`));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Ends when the tunnel was closed (here or there); rejects `ClosedError` when it broke. */
  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    while (true) {
      try {
        yield await this.recv();
      } catch (err) {
        if (err instanceof ClosedError && this.#lost === undefined) return;
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
          const closing = this.#publish(encodeFrame(KIND.close, this.#sendSeq++));
          await settlesWithin(closing, this.#host.drainTimeout);
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

  /** This end's connection is down: the other end's silence does not count until it is back. */
  disconnected(): void {
    this.#liveness.down(performance.now());
  }

  /** The connection came back: pulls may be gone, and acks of messages sent (the publisher re-sends those). */
  reconnected(): void {
    this.#liveness.up(performance.now());
    this.#consumer.reconnected();
    // tell the other end at once that this end is back, and how far it may send
    if (this.#peer !== undefined && !(this.#ended ?? this.#remoteEnd)) this.#sendControl();
  }

  // --- sending ---

  async #sendNow(message: Uint8Array, deadline: number, timeout: number, signal: AbortSignal | undefined) {
    const peer = this.#peer;
    const maxPayload = Math.min(this.#plan.maxChunk, peer?.maxPayload ?? this.#plan.maxChunk);
    const size = chunkSize(message.byteLength, chunkLimit(maxPayload, peer?.window ?? this.#plan.window));
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
          if (at > 0 && !this.#ended && !this.#remoteEnd) this.#sendFrame(KIND.abort, undefined, 0);
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
    if (this.#ended ?? this.#remoteEnd) throw this.#closedError("send");
    const sent = this.#publish(encodeFrame(kind, this.#sendSeq++, chunk, total));
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
    if (left < 1) throw this.#sendTimeout(timeout);
    // sends go one at a time: at most one waits for credit
    this.#creditNeed = n;
    return wait(this.#creditWaiters, left, signal, () => this.#sendTimeout(timeout));
  }

  #sendTimeout(timeout: number): TimeoutError {
    return new TimeoutError(`send timed out after ${timeout} ms: the other end is not reading`);
  }

  /** Credit grew: the waiting send goes on if it fits now. */
  #creditGrew(): void {
    const w = this.#creditWaiters[0];
    if (w === undefined || !this.#credit.fits(this.#creditNeed)) return;
    this.#credit.take(this.#creditNeed);
    w.resolve();
  }

  #publish(frame: Uint8Array): Promise<unknown> {
    // acks are awaited in the background, through outages up to the bound; one that fails breaks the tunnel
    const ackTimeout = this.#plan.outageTimeout + Math.max(10_000, this.#host.timeout);
    return this.#host.publisher.publish(this.#plan.outSubject, this.id, frame, ackTimeout, undefined, null);
  }

  /** A message could not be stored (or read): the tunnel cannot keep its order, so it ends. */
  #broken(err: unknown): void {
    if (this.#ended) return;
    this.#warn({ tunnel: this.id, err }, "tunnel broken; closing it");
    const why = err instanceof Error ? err.message : String(err);
    this.#lost = this.#lostError(`the tunnel broke: ${why}`, err);
    this.#tellBroken();
    this.#end(this.#lost);
    void this.#releaseOnce();
  }

  /** The reason a tunnel ended abnormally, saying how many messages sent here may not have arrived. */
  #lostError(why: string, cause?: unknown): ClosedError {
    const n = this.#credit.unconfirmed;
    const tail =
      n === 0
        ? ""
        : `; ${n} message${n === 1 ? "" : "s"} sent here ${n === 1 ? "was" : "were"} not confirmed received by the other end`;
    return new ClosedError(`${why}${tail}`, cause === undefined ? undefined : { cause });
  }

  // --- receiving ---

  /** A delivery from the consumer (inside its subscription callback: never throws). */
  #onFrame(data: Uint8Array, streamSeq: number): void {
    try {
      if (this.#ended) return;
      const now = performance.now();
      this.#liveness.heard(now);
      this.#lastFrameAt = now;
      this.#inbound.frame(data, streamSeq);
    } catch (err) {
      this.#warn({ tunnel: this.id, err }, "tunnel frame could not be handled");
    }
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
    if (r.big) this.#inbound.bigTaken();
    this.#consumer.poke();
  }

  #releaseBytes(n: number): void {
    if (this.#read.release(n)) this.#sendControl();
  }

  /** Tells the other end how far it may send (also its heartbeat); also drops what was read from the stream. */
  #sendControl(force = false): void {
    this.#controlOut(`c${this.#read.grant()}`);
    this.#purge(force);
  }

  #controlOut(text: string): void {
    try {
      this.#host.nc.publish(this.#plan.controlOut, text);
    } catch {
      // closed connection: the tunnel ends with it
    }
  }

  /** Tells the other end this end broke the tunnel, so it need not wait out the silence. */
  #tellBroken(): void {
    if (this.#peer !== undefined && this.#remoteEnd === undefined) this.#controlOut(BROKE);
  }

  /**
   * Drops what was read from the stream: every half window (or each
   * heartbeat), one purge at a time, so that the stream holds at most half a
   * window read beside the window unread; a purge per grant would cost the
   * server more than the data.
   */
  #purge(force: boolean): void {
    const upTo = this.#inbound.lastStreamSeq;
    const released = this.#read.released;
    if (this.#purging || upTo <= this.#purgedTo) return;
    if (!force && released - this.#releasedAtPurge < this.#plan.window / 2) return;
    this.#purging = true;
    this.#purgedTo = upTo;
    this.#releasedAtPurge = released;
    this.#host
      .jsm()
      .then((jsm) => jsm.streams.purge(this.#plan.stream, { filter: this.#plan.inSubject, seq: upTo + 1 }))
      .catch(() => {})
      .finally(() => {
        this.#purging = false;
      });
  }

  /** A control message (inside a subscription callback: never throws). */
  #onControl(err: Error | null, msg: Msg): void {
    try {
      if (err) {
        this.#warn({ tunnel: this.id, err }, "tunnel control subscription failed");
        return;
      }
      if (this.#ended) return;
      const text = msg.data.byteLength <= 20 ? msg.string() : "";
      const grant = GRANT.exec(text);
      if (grant) {
        const outcome = this.#credit.grant(Number(grant[1]));
        if (outcome === "invalid") {
          this.#malformed(`a grant of ${grant[1]} bytes beyond what was sent`);
          return;
        }
        this.#liveness.heard(performance.now());
        if (outcome === "grown") this.#creditGrew();
        return;
      }
      const sent = SENT.exec(text);
      if (sent) {
        const n = Number(sent[1]);
        if (n > MAX_U48) {
          this.#malformed(`a sent count of ${sent[1]}`);
          return;
        }
        this.#liveness.heard(performance.now());
        this.#peerSent = Math.max(this.#peerSent, n);
        return;
      }
      if (text === BROKE && this.#peer !== undefined && !this.#remoteEnd) {
        this.#lost = this.#lostError("the other end broke the tunnel");
        this.#remoteEnd = this.#lost;
        this.#endRemote();
        return;
      }
      this.#malformed(`a control message of ${msg.data.byteLength} bytes`);
    } catch (error) {
      this.#warn({ tunnel: this.id, err: error }, "tunnel control message could not be handled");
    }
  }

  #malformed(why: string): void {
    this.malformed++;
    this.#host.traffic.malformed++;
    try {
      this.#badInput.note({ tunnel: this.id, why });
    } catch {
      // a logger that throws must not stop the tunnel
    }
  }

  #warn(context: object, message: string): void {
    try {
      this.#host.logger.warn(context, message);
    } catch {
      // a logger that throws must not stop the tunnel
    }
  }

  #beat(): void {
    if (this.#ended ?? this.#remoteEnd) return;
    const now = performance.now();
    const { heartbeat, outageTimeout } = this.#plan;
    const late = now - this.#lastBeat > 2 * heartbeat;
    this.#lastBeat = now;
    if (!this.#liveness.connected) {
      // nothing can be heard or sent: give up only once the outage passes its bound
      if (this.#liveness.outage(now) > outageTimeout) this.#outageTooLong();
      return;
    }
    this.#sendControl(true);
    if (this.#sendSeq > 0) this.#controlOut(`s${this.#sendSeq}`);
    // a beat that comes late means this process was stalled: what it has not read yet may say the other end lives
    if (late) return;
    this.#checkStall(now);
    // a gap that never fills ends the tunnel even when the other end's close is stored beyond it
    if (this.#waitingOnGap() || this.#peerClosing || this.#checking) return;
    if (this.#liveness.silence(now) > this.#peerBound) void this.#checkPeer();
  }

  /**
   * Frames the other end sent have not come for a while though this end has
   * room for them: the consumer reading them went with its server (a stream
   * leader that died), so it is made anew now rather than when the pull's
   * heartbeats stop.
   */
  #checkStall(now: number): void {
    if (this.#peerSent <= this.#inbound.highestSeen + 1) return;
    if (now - this.#lastFrameAt < STALL_MS || now - this.#lastRefresh < STALL_MS) return;
    if (this.#queuedBytes > this.#plan.window / 2) return;
    this.#lastRefresh = now;
    this.#consumer.refresh("frames the other end sent have not arrived");
  }

  /** How long the other end may be silent: an outage of its connection, and a few heartbeats to come back. */
  get #peerBound(): number {
    return this.#plan.outageTimeout + MISSED_HEARTBEATS * this.#plan.heartbeat;
  }

  /** This end's connection has been down too long: the tunnel ends (messages here are still read first). */
  #outageTooLong(): void {
    this.#lost = this.#lostError(
      `this end's connection was down for more than the tunnel's outage bound of ${this.#plan.outageTimeout} ms`,
    );
    this.#remoteEnd = this.#lost;
    this.#tellBroken();
    this.#endRemote();
  }

  /** Frames wait for one that never comes: after the outage bound, the tunnel cannot go on in order. */
  #waitingOnGap(): boolean {
    if (!this.#inbound.waitingOnGap) {
      this.#gapMs = 0;
      return false;
    }
    this.#gapMs += this.#plan.heartbeat;
    if (this.#gapMs > this.#peerBound) {
      this.#broken(new Error(`message ${this.#inbound.expected} of the tunnel never arrived`));
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
      closedThere = last?.data[0] === KIND.close && last.data.byteLength === FRAME_HEAD;
    } catch {
      // nothing stored (or no answer): it did not close
    }
    this.#checking = false;
    if (this.#ended ?? this.#remoteEnd) return;
    if (closedThere) {
      this.#peerClosing = true;
      return;
    }
    if (this.#liveness.silence(performance.now()) <= this.#peerBound) return;
    this.#lost = this.#lostError(
      `the other end of the tunnel is gone (nothing heard for ${this.#peerBound} ms while connected)`,
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
    this.#queuedBytes = 0;
    this.#inbound.end();
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
}
