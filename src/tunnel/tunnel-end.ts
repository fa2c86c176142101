import type { RecvOptions, SendOptions, Tunnel } from "../api/index.js";
import type { Runtime } from "../core/index.js";
import { ClosedError, type JetmeshError } from "../errors/index.js";
import { settlesWithin } from "../flow/index.js";
import { fromJetStreamError, type ManagedStream, type Publisher, PullConsumer } from "../jetstream/index.js";
import { ThrottledWarning } from "../logging/index.js";
import { checkRecv, checkSend } from "./call-checks.js";
import { BROKE, type Control, encodeGrant, encodeSent } from "./control.js";
import { ControlLink } from "./control-link.js";
import { ReadCredit } from "./credit.js";
import { Inbound, type Received } from "./inbound.js";
import { lostError, lostPeerReason } from "./liveness.js";
import { PeerWatch } from "./peer-watch.js";
import { Purger } from "./purger.js";
import { ReceiveQueue } from "./receive-queue.js";
import type { PeerTerms, TunnelPlan } from "./tunnel-plan.js";
import { Writer } from "./writer.js";

/** What the tunnel ends of one connection share, beside the runtime. */
export interface TunnelShared {
  /** The tunnels stream. */
  stream: ManagedStream;
  publisher: Publisher;
  /** Message bytes sent and received by the connection's tunnels (metrics), and wire input dropped. */
  traffic: { sent: number; received: number; malformed: number };
  /** Called once a tunnel has ended. */
  forget(tun: TunnelEnd): void;
}

export class TunnelEnd implements Tunnel {
  readonly id: string;
  readonly cluster: string;
  readonly closed: Promise<Error | undefined>;
  /** Wire input of this tunnel that was dropped. */
  malformed = 0;
  readonly #rt: Runtime;
  readonly #shared: TunnelShared;
  readonly #plan: TunnelPlan;
  readonly #consumer: PullConsumer;
  readonly #inbound: Inbound;
  readonly #watch: PeerWatch;
  readonly #badInput: ThrottledWarning;
  readonly #control: ControlLink;
  #resolveClosed!: (reason: Error | undefined) => void;
  /** Set once this end has ended: why calls now fail. */
  #ended: JetmeshError | undefined;
  /** The other end closed or was lost: messages already here are still read, then this. */
  #remoteEnd: JetmeshError | undefined;
  /** Why the tunnel ended without either end closing it (the other end gone, a message not stored). */
  #lost: JetmeshError | undefined;
  #closing: Promise<void> | undefined;
  #releasing: Promise<void> | undefined;

  readonly #writer: Writer;
  /** Set once the other end is there (set-up done). */
  #begun = false;

  // receiving
  readonly #queue = new ReceiveQueue((r) => this.#took(r));
  readonly #read: ReadCredit;
  readonly #purger: Purger;

  constructor(rt: Runtime, shared: TunnelShared, plan: TunnelPlan) {
    this.#rt = rt;
    this.#shared = shared;
    this.#plan = plan;
    this.id = plan.id;
    this.cluster = plan.cluster;
    this.#writer = new Writer(
      {
        stopped: () => ((this.#ended ?? this.#remoteEnd) ? this.#closedError("send") : undefined),
        publish: (frame) => this.#publish(frame),
        broken: (err) => this.#broken(err),
        traffic: shared.traffic,
      },
      { maxMessage: plan.maxMessage, maxChunk: plan.maxChunk },
    );
    this.#read = new ReadCredit(plan.window);
    this.#purger = new Purger(() => shared.stream.manager(), plan.stream, plan.inSubject, plan.window);
    const end = this;
    this.#watch = new PeerWatch(
      {
        get over() {
          return (end.#ended ?? end.#remoteEnd) !== undefined;
        },
        beat: () => {
          this.#sendControl(true);
          if (this.#writer.frames > 0) this.#control.send(encodeSent(this.#writer.frames));
        },
        get waitingOnGap() {
          return end.#inbound.waitingOnGap;
        },
        get highestSeen() {
          return end.#inbound.highestSeen;
        },
        get hasRoom() {
          return end.#queue.bytes <= plan.window / 2;
        },
        refreshConsumer: (why) => this.#consumer.refresh(why),
        closedThere: () => this.#closedThere(),
        lost: (why, bound) => this.#lostPeer(why, bound),
      },
      plan,
    );
    this.#badInput = new ThrottledWarning(rt.logger, "malformed tunnel input dropped");
    this.#control = new ControlLink(rt.nc, plan, {
      get open() {
        return end.#ended === undefined;
      },
      control: (c) => this.#onControl(c),
      malformed: (why) => this.#malformed(why),
      warn: (context, message) => this.#warn({ tunnel: this.id, ...context }, message),
    });
    this.closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
    this.#inbound = new Inbound(plan.maxMessage, plan.window, {
      deliver: (r) => this.#queue.put(r),
      release: (n) => this.#releaseBytes(n),
      closed: () => {
        this.#remoteEnd = new ClosedError("the tunnel was closed by the other end");
        this.#endRemote();
      },
      malformed: (why) => this.#malformed(why),
    });
    const room = this;
    this.#consumer = new PullConsumer({
      rt,
      stream: shared.stream,
      plan: { stream: plan.stream, subject: plan.inSubject, start: undefined, shared: undefined },
      limits: { threads: 1, memory: plan.window, maxEvent: plan.maxEvent },
      room: {
        // frames waiting for their turn are bounded by the writer's credit; counting them
        // here could stop the pull that brings the one they wait for
        get queuedBytes() {
          return room.#queue.bytes;
        },
        get queued() {
          return room.#queue.length;
        },
        running: 0,
      },
      deliver: (d) => this.#onFrame(d.msg.data, d.seq),
      streamRenewed: () => this.#streamLost(),
    });
  }

  /** Starts listening: control messages, and the incoming messages from now on. */
  async listen(): Promise<void> {
    this.#control.listen();
    try {
      await this.#consumer.start();
    } catch (err) {
      throw fromJetStreamError(err, `tunnel "${this.id}": reading its messages`);
    }
  }

  /** The other end is there, with its terms: start sending and heartbeats. */
  begin(peer: PeerTerms): void {
    if (this.#ended ?? this.#remoteEnd) return;
    this.#begun = true;
    this.#writer.begin(peer);
    this.#sendControl();
    this.#watch.start();
  }

  send(message: Uint8Array, options?: SendOptions): Promise<void> {
    try {
      const { timeout, signal } = checkSend(message, options, this.#rt.timeout, this.#writer.maxMessage);
      if (this.#ended ?? this.#remoteEnd) throw this.#closedError("send");
      if (signal?.aborted) return Promise.reject(signal.reason);
      return this.#writer.send(message, performance.now() + timeout, timeout, signal);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  recv(options?: RecvOptions): Promise<Uint8Array> {
    try {
      const { timeout, signal } = checkRecv(options);
      if (this.#ended) throw this.#closedError("recv");
      const next = this.#queue.take();
      if (next !== undefined) return Promise.resolve(next);
      if (this.#remoteEnd) throw this.#remoteEnd;
      if (signal?.aborted) return Promise.reject(signal.reason);
      return this.#queue.wait(timeout, signal);
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
          await settlesWithin(this.#writer.close(), this.#rt.drainTimeout);
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
    this.#watch.liveness.down(performance.now());
  }

  /** The connection came back: pulls may be gone, and acks of messages sent (the publisher re-sends those). */
  reconnected(): void {
    this.#watch.liveness.up(performance.now());
    this.#consumer.reconnected();
    // tell the other end at once that this end is back, and how far it may send
    if (this.#begun && !(this.#ended ?? this.#remoteEnd)) this.#sendControl();
  }

  // --- sending ---

  #publish(frame: Uint8Array): Promise<unknown> {
    // acks are awaited in the background, through outages up to the bound; one that fails breaks the tunnel
    const ackTimeout = this.#plan.outageTimeout + Math.max(10_000, this.#rt.timeout);
    return this.#shared.publisher.publish(this.#plan.outSubject, this.id, frame, ackTimeout, undefined, null);
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
    return lostError(why, this.#writer.unconfirmed, cause);
  }

  // --- receiving ---

  /** A delivery from the consumer (inside its subscription callback: never throws). */
  #onFrame(data: Uint8Array, streamSeq: number): void {
    try {
      if (this.#ended) return;
      this.#watch.frameArrived();
      this.#inbound.frame(data, streamSeq);
    } catch (err) {
      this.#warn({ tunnel: this.id, err }, "tunnel frame could not be handled");
    }
  }

  /** The application has a message: its bytes leave the window, and a large one lets the next in. */
  #took(r: Received): void {
    this.#shared.traffic.received += r.bytes.byteLength;
    this.#releaseBytes(r.release);
    if (r.big) this.#inbound.bigTaken();
    this.#consumer.poke();
  }

  #releaseBytes(n: number): void {
    if (this.#read.release(n)) this.#sendControl();
  }

  /** Tells the other end how far it may send (also its heartbeat); also drops what was read from the stream. */
  #sendControl(force = false): void {
    this.#control.send(encodeGrant(this.#read.grant()));
    this.#purger.maybe(this.#inbound.lastStreamSeq, this.#read.released, force);
  }

  /** Tells the other end this end broke the tunnel, so it need not wait out the silence. */
  #tellBroken(): void {
    if (this.#begun && this.#remoteEnd === undefined) this.#control.send(BROKE);
  }

  /** A control message of the other end (inside a subscription callback: the link catches what throws). */
  #onControl(c: Control): void {
    if (c.kind === "grant") {
      if (this.#writer.grant(c.credit) === "invalid") {
        this.#malformed(`a grant of ${c.credit} bytes beyond what was sent`);
        return;
      }
    } else if (c.kind === "sent") {
      this.#watch.peerSent(c.frames);
    } else if (this.#begun && !this.#remoteEnd) {
      this.#lost = this.#lostError("the other end broke the tunnel");
      this.#remoteEnd = this.#lost;
      this.#endRemote();
      return;
    }
    this.#watch.heard();
  }

  #malformed(why: string): void {
    this.malformed++;
    this.#shared.traffic.malformed++;
    try {
      this.#badInput.note({ tunnel: this.id, why });
    } catch {
      // a logger that throws must not stop the tunnel
    }
  }

  #warn(context: object, message: string): void {
    try {
      this.#rt.logger.warn(context, message);
    } catch {
      // a logger that throws must not stop the tunnel
    }
  }

  /** The watch says the tunnel cannot go on. */
  #lostPeer(why: "outage" | "silent" | "gap", bound: number): void {
    if (this.#ended ?? this.#remoteEnd) return;
    if (why === "gap") {
      this.#broken(new Error(`message ${this.#inbound.expected} of the tunnel never arrived within ${bound} ms`));
      return;
    }
    this.#lost = this.#lostError(lostPeerReason(why, bound));
    this.#remoteEnd = this.#lost;
    if (why === "outage") this.#tellBroken();
    this.#endRemote();
  }

  /** Whether the last message the other end stored is its close. */
  #closedThere(): Promise<boolean> {
    return this.#purger.lastIsClose();
  }

  /** The stream was made anew (memory storage and a server restart): what was on the way is lost. */
  #streamLost(): void {
    this.#broken(new Error("the tunnels stream was lost (a server restart with memory storage)"));
  }

  // --- ending ---

  /** The other end closed or is gone: sends fail now, messages here stay readable, then `recv` fails. */
  #endRemote(): void {
    const reason = this.#remoteEnd;
    this.#writer.stop(this.#closedError("send"));
    if (this.#queue.length === 0) this.#queue.rejectWaiting(reason);
    this.#stopTimers();
    void this.#releaseOnce();
  }

  /** Ends this end: every waiting call rejects with `err`, and what was received is dropped. */
  #end(err: JetmeshError): void {
    if (this.#ended) return;
    this.#ended = err;
    this.#writer.stop(err);
    this.#queue.clear(err);
    this.#inbound.end();
    this.#stopTimers();
  }

  #stopTimers(): void {
    this.#watch.stop();
  }

  #releaseOnce(): Promise<void> {
    this.#releasing ??= this.#release();
    return this.#releasing;
  }

  /** Releases what the tunnel holds on the server: the consumer, the control subscription, what is left to read. */
  async #release(): Promise<void> {
    this.#control.stop();
    await this.#consumer.stop();
    const subjects = [this.#plan.inSubject];
    if (this.#remoteEnd) {
      // nobody reads what this end sent: drop it too, once it is stored
      await settlesWithin(Promise.allSettled([...this.#writer.inflight]), this.#rt.drainTimeout);
      subjects.push(this.#plan.outSubject);
    }
    await settlesWithin(this.#purger.purgeAll(subjects), this.#rt.drainTimeout);
    this.#shared.forget(this);
    this.#resolveClosed(this.#lost);
  }

  #closedError(what: string): JetmeshError {
    const why = this.#ended ?? this.#remoteEnd;
    return new ClosedError(`${what}: ${why?.message ?? "the tunnel is closed"}`, { cause: why });
  }
}
