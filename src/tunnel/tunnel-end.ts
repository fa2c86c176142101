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
 *
 * Half-close: `end()` sends an END frame in order after every message sent
 * before it ({@link HalfClose}); the other end reads up to it, then its `recv`
 * rejects `ClosedError` and its iteration ends, while it may still send. Once
 * both ends have ended, each releases the tunnel by itself (nothing more to
 * tell: each purges what it read).
 */
import type { RecvOptions, SendOptions, Tunnel } from "../api/index.js";
import type { Runtime } from "../core/index.js";
import { ClosedError, ConfigurationError, type JetmeshError } from "../errors/index.js";
import { settlesWithin } from "../flow/index.js";
import { fromJetStreamError, type ManagedStream, type Publisher } from "../jetstream/index.js";
import { ThrottledWarning } from "../logging/index.js";
import { checkRecv, checkSend } from "./call-checks.js";
import { BROKE, type Control, encodeSent } from "./control.js";
import { ControlLink } from "./control-link.js";
import { HalfClose } from "./half-close.js";
import { lostError, lostPeerReason } from "./lost-reason.js";
import { PeerWatch } from "./peer-watch.js";
import { Reader } from "./reader.js";
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
  readonly #reader: Reader;
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
  /** Half-close: this end's `end()`, the other end's END, both. */
  readonly #half = new HalfClose();
  /** The other end reads END frames (it said so at set-up). */
  #peerReadsEnd = false;

  readonly #writer: Writer;
  /** Set once the other end is there (set-up done). */
  #begun = false;
  /** listen() has resolved: a refusal from now on breaks the tunnel. */
  #listening = false;
  /** What the server refused while listening began: listen() rejects with it. */
  #startRefusal: JetmeshError | undefined;

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
    const end = this;
    this.#watch = new PeerWatch(
      {
        get over() {
          return (end.#ended ?? end.#remoteEnd) !== undefined || end.#half.bothEnded;
        },
        beat: () => {
          this.#reader.grant(true);
          if (this.#writer.frames > 0) this.#control.send(encodeSent(this.#writer.frames));
        },
        get waitingOnGap() {
          return end.#reader.inbound.waitingOnGap;
        },
        get highestSeen() {
          return end.#reader.inbound.highestSeen;
        },
        get hasRoom() {
          return end.#reader.queue.bytes <= plan.window / 2;
        },
        refreshConsumer: (why) => this.#reader.consumer.refresh(why),
        doneThere: async () => this.#half.doneThere(await this.#reader.finalThere()),
        lost: (why, bound) => this.#lostPeer(why, bound),
      },
      plan,
    );
    this.#badInput = new ThrottledWarning(rt.logger, "malformed tunnel input dropped");
    this.#control = new ControlLink(rt, plan, {
      get open() {
        return end.#ended === undefined;
      },
      control: (c) => this.#onControl(c),
      malformed: (why) => this.#malformed(why),
      warn: (context, message) => this.#warn({ tunnel: this.id, ...context }, message),
      refused: (err) => this.#refused(err),
    });
    this.closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
    this.#reader = new Reader(rt, shared.stream, plan, {
      get ended() {
        return end.#ended !== undefined;
      },
      frameArrived: () => this.#watch.frameArrived(),
      closed: () => {
        this.#remoteEnd = new ClosedError("the tunnel was closed by the other end");
        this.#endRemote();
      },
      endedThere: () => this.#endedThere(),
      streamLost: () => this.#streamLost(),
      refused: (err) => this.#refused(err),
      malformed: (why) => this.#malformed(why),
      warn: (context, message) => this.#warn({ tunnel: this.id, ...context }, message),
      control: (text) => this.#control.send(text),
      received: (bytes) => {
        shared.traffic.received += bytes;
      },
    });
  }

  /** Starts listening: control messages, and the incoming messages from now on. */
  async listen(): Promise<void> {
    this.#control.listen();
    try {
      // its start flushes: a refused control subscription has been told by then too
      await this.#reader.consumer.start();
    } catch (err) {
      throw fromJetStreamError(err, `tunnel "${this.id}": reading its messages`);
    }
    this.#listening = true;
    if (this.#startRefusal) throw this.#startRefusal;
  }

  /** The server refuses something the tunnel needs: set-up fails with it, or the tunnel breaks. */
  #refused(err: JetmeshError): void {
    if (this.#listening) this.#broken(err);
    else this.#startRefusal ??= err;
  }

  /** The other end is there, with its terms: start sending and heartbeats. */
  begin(peer: PeerTerms): void {
    if (this.#ended ?? this.#remoteEnd) return;
    this.#begun = true;
    this.#peerReadsEnd = peer.halfClose === true;
    this.#writer.begin(peer);
    this.#reader.grant();
    this.#watch.start();
  }

  send(message: Uint8Array, options?: SendOptions): Promise<void> {
    try {
      const { timeout, signal } = checkSend(message, options, this.#rt.timeout, this.#writer.maxMessage);
      if (this.#ended ?? this.#remoteEnd) throw this.#closedError("send");
      if (this.#half.sendEnded) throw this.#half.sendError();
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
      const next = this.#reader.queue.take();
      if (next !== undefined) return Promise.resolve(next);
      // the other end's END came before whatever happened to it after: reading ended normally
      if (this.#half.endedThere) throw this.#half.endedThere;
      if (this.#remoteEnd) throw this.#remoteEnd;
      if (signal?.aborted) return Promise.reject(signal.reason);
      return this.#reader.queue.wait(timeout, signal);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Ends when the tunnel was closed (here or there) or the other end ended; rejects `ClosedError` when it broke. */
  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    while (true) {
      try {
        yield await this.recv();
      } catch (err) {
        if (err instanceof ClosedError && (this.#lost === undefined || err === this.#half.endedThere)) return;
        throw err;
      }
    }
  }

  end(): Promise<void> {
    if (this.#half.ending) return this.#half.ending;
    // closed (here or there): nothing more is sent anyway; broken: that is the answer
    if (this.#ended ?? this.#remoteEnd)
      return this.#lost ? Promise.reject(this.#closedError("end")) : Promise.resolve();
    if (!this.#peerReadsEnd) {
      return Promise.reject(
        new ConfigurationError(
          "end: the other end of the tunnel runs an earlier jetmesh that cannot half-close; close() the tunnel instead",
        ),
      );
    }
    this.#half.ending = this.#endHere();
    return this.#half.ending;
  }

  /**
   * Sends the END frame after what was sent before; once it is stored, a
   * tunnel ended at both ends closes. A tunnel closed meanwhile needs no END;
   * one that broke (a frame not stored, the other end gone) rejects.
   */
  async #endHere(): Promise<void> {
    try {
      await this.#writer.end();
    } catch (err) {
      if (this.#lost) throw this.#closedError("end");
      if (this.#ended ?? this.#remoteEnd) return;
      throw new ClosedError(`end: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    if (this.#half.stored()) this.#finish();
  }

  close(): Promise<void> {
    if (this.#ended === undefined) {
      // after both ends ended, each released the tunnel already: nothing to tell
      const tellPeer = this.#remoteEnd === undefined && !this.#half.bothEnded;
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
    this.#reader.consumer.reconnected();
    // tell the other end at once that this end is back, and how far it may send
    if (this.#begun && !(this.#ended ?? this.#remoteEnd)) this.#reader.grant();
  }

  // --- sending ---

  #publish(frame: Uint8Array): Promise<unknown> {
    // acks are awaited in the background, through outages up to the bound; one that fails breaks the tunnel
    const ackTimeout = this.#plan.outageTimeout + Math.max(10_000, this.#rt.timeout);
    // a send resolves before its ack: a loop of awaited sends is flushed once a turn, not once a frame
    this.#rt.coalescer.hold();
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

  /** Tells the other end this end broke the tunnel, so it need not wait out the silence. */
  #tellBroken(): void {
    if (this.#begun && this.#remoteEnd === undefined) this.#control.send(BROKE);
  }

  /** A control message of the other end (inside a subscription callback: the link catches what throws). */
  #onControl(c: Control): void {
    if (c.kind === "grant") {
      // the member's first grant may overtake its set-up answer: credit starts at the window the answer brings
      if (this.#begun && this.#writer.grant(c.credit) === "invalid") {
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
      this.#broken(
        new Error(`message ${this.#reader.inbound.expected} of the tunnel never arrived within ${bound} ms`),
      );
      return;
    }
    this.#lost = this.#lostError(lostPeerReason(why, bound));
    this.#remoteEnd = this.#lost;
    if (why === "outage") this.#tellBroken();
    this.#endRemote();
  }

  /** The stream was made anew (memory storage and a server restart): what was on the way is lost. */
  #streamLost(): void {
    this.#broken(new Error("the tunnels stream was lost (a server restart with memory storage)"));
  }

  // --- ending ---

  /** The other end's END arrived, in order: `recv` ends once what came before is read; sends go on. */
  #endedThere(): void {
    if (this.#ended ?? this.#remoteEnd) return;
    const both = this.#half.arrived();
    if (this.#reader.queue.length === 0) this.#reader.queue.rejectWaiting(this.#half.endedThere);
    if (both) this.#finish();
  }

  /** Both ends ended: the tunnel closes by itself; messages here stay readable, then `recv` ends. */
  #finish(): void {
    if (this.#ended ?? this.#remoteEnd) return;
    this.#stopTimers();
    void this.#releaseOnce();
  }

  /** The other end closed or is gone: sends fail now, messages here stay readable, then `recv` fails. */
  #endRemote(): void {
    const reason = this.#remoteEnd;
    this.#writer.stop(this.#closedError("send"));
    if (this.#reader.queue.length === 0) this.#reader.queue.rejectWaiting(reason);
    this.#stopTimers();
    void this.#releaseOnce();
  }

  /** Ends this end: every waiting call rejects with `err`, and what was received is dropped. */
  #end(err: JetmeshError): void {
    if (this.#ended) return;
    this.#ended = err;
    this.#writer.stop(err);
    this.#reader.queue.clear(err);
    this.#reader.inbound.end();
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
    await this.#reader.consumer.stop();
    const subjects = [this.#plan.inSubject];
    if (this.#remoteEnd) {
      // nobody reads what this end sent: drop it too, once it is stored
      await settlesWithin(Promise.allSettled([...this.#writer.inflight]), this.#rt.drainTimeout);
      subjects.push(this.#plan.outSubject);
    }
    await settlesWithin(this.#reader.purgeAll(subjects), this.#rt.drainTimeout);
    this.#shared.forget(this);
    this.#resolveClosed(this.#lost);
  }

  #closedError(what: string): JetmeshError {
    const why = this.#ended ?? this.#remoteEnd;
    return new ClosedError(`${what}: ${why?.message ?? "the tunnel is closed"}`, { cause: why });
  }
}
