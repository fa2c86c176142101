/**
 * Liveness of a tunnel end, run on each heartbeat: sends this end's beat,
 * gives up when this end's own connection has been down past the outage
 * bound, takes the other end's silence (counted only while connected) past
 * that bound plus 5 heartbeats as its loss, ends a tunnel whose frames wait
 * for one that never comes, and makes the consumer anew when frames the
 * other end sent do not come (its server died with a stream leader).
 */
import { Liveness } from "./liveness.js";

/** A peer silent for this many heartbeats beyond the outage bound is gone. */
export const MISSED_HEARTBEATS = 5;
/**
 * Frames the other end sent that have not arrived after this long, while
 * this end has room for them, mean its consumer is gone: it is made anew,
 * at most this often, in ms.
 */
const STALL_MS = 3_000;

export interface PeerWatchHost {
  /** Whether the tunnel has ended (the watch then does nothing). */
  readonly over: boolean;
  /** Sends this end's heartbeat: its grant, and how many frames it sent. */
  beat(): void;
  /** Frames wait for one that has not come. */
  readonly waitingOnGap: boolean;
  /** The highest frame sequence that has arrived (-1: none). */
  readonly highestSeen: number;
  /** Whether this end has room for more frames (its consumer pulls). */
  readonly hasRoom: boolean;
  /** Makes the consumer anew. */
  refreshConsumer(why: string): void;
  /**
   * Whether the other end is done and need not be heard any more: the last
   * message it stored is its close, or its end while this end ended too
   * (then this end reads up to it).
   */
  doneThere(): Promise<boolean>;
  /** The tunnel cannot go on: `outage` of this end's connection, the other end `silent`, or a `gap` that never filled. */
  lost(why: "outage" | "silent" | "gap", bound: number): void;
}

export class PeerWatch {
  readonly liveness = new Liveness(performance.now());
  readonly #host: PeerWatchHost;
  readonly #heartbeat: number;
  readonly #outageTimeout: number;
  #timer: ReturnType<typeof setInterval> | undefined;
  #lastBeat = performance.now();
  /** The other end stored its close (or both ends their end): it stopped its heartbeats, and this end reads up to it. */
  #peerClosing = false;
  #checking = false;
  /** How long frames have waited for a missing one, in connected ms. */
  #gapMs = 0;
  #peerSent = 0;
  #lastFrameAt = performance.now();
  #lastRefresh = 0;

  constructor(host: PeerWatchHost, times: { heartbeat: number; outageTimeout: number }) {
    this.#host = host;
    this.#heartbeat = times.heartbeat;
    this.#outageTimeout = times.outageTimeout;
  }

  /** How long the other end may be silent: an outage of its connection, and a few heartbeats to come back. */
  get peerBound(): number {
    return this.#outageTimeout + MISSED_HEARTBEATS * this.#heartbeat;
  }

  start(): void {
    this.liveness.heard(performance.now());
    this.#timer = setInterval(() => this.#beat(), this.#heartbeat);
    this.#timer.unref?.();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** A control message came from the other end. */
  heard(): void {
    this.liveness.heard(performance.now());
  }

  /** A frame came from the other end. */
  frameArrived(): void {
    const now = performance.now();
    this.liveness.heard(now);
    this.#lastFrameAt = now;
  }

  /** The other end says it has sent `frames` frames. */
  peerSent(frames: number): void {
    this.#peerSent = Math.max(this.#peerSent, frames);
  }

  #beat(): void {
    if (this.#host.over) return;
    const now = performance.now();
    const late = now - this.#lastBeat > 2 * this.#heartbeat;
    this.#lastBeat = now;
    if (!this.liveness.connected) {
      // nothing can be heard or sent: give up only once the outage passes its bound
      if (this.liveness.outage(now) > this.#outageTimeout) this.#host.lost("outage", this.#outageTimeout);
      return;
    }
    this.#host.beat();
    // a beat that comes late means this process was stalled: what it has not read yet may say the other end lives
    if (late) return;
    this.#checkStall(now);
    // a gap that never fills ends the tunnel even when the other end's close is stored beyond it
    if (this.#waitingOnGap() || this.#peerClosing || this.#checking) return;
    if (this.liveness.silence(now) > this.peerBound) void this.#checkPeer();
  }

  #checkStall(now: number): void {
    if (this.#peerSent <= this.#host.highestSeen + 1 || !this.#host.hasRoom) return;
    if (now - this.#lastFrameAt < STALL_MS || now - this.#lastRefresh < STALL_MS) return;
    this.#lastRefresh = now;
    this.#host.refreshConsumer("frames the other end sent have not arrived");
  }

  /** Frames wait for one that never comes: after the bound, the tunnel cannot go on in order. */
  #waitingOnGap(): boolean {
    if (!this.#host.waitingOnGap) {
      this.#gapMs = 0;
      return false;
    }
    this.#gapMs += this.#heartbeat;
    if (this.#gapMs > this.peerBound) this.#host.lost("gap", this.peerBound);
    return true;
  }

  /**
   * The other end has been silent: if the last thing it stored is its close
   * (or its end, both ends having ended), it is done and this end has not read
   * that far yet (it will); else it is gone.
   */
  async #checkPeer(): Promise<void> {
    this.#checking = true;
    const doneThere = await this.#host.doneThere().catch(() => false);
    this.#checking = false;
    if (this.#host.over) return;
    if (doneThere) {
      this.#peerClosing = true;
      return;
    }
    if (this.liveness.silence(performance.now()) > this.peerBound) this.#host.lost("silent", this.peerBound);
  }
}
