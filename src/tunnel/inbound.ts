/**
 * The receiving half of a tunnel end: frames, as JetStream hands them over,
 * put back in the tunnel's own order (frames sent again after a reconnect or
 * a leader change arrive twice, or late), and split messages joined again.
 * Frames come from the wire: whatever cannot be right is dropped and
 * reported, never thrown.
 */
import { copyBytes } from "../wire/index.js";
import { unfilledBytes } from "./byte-buffers.js";
import { FRAME_COST } from "./chunking.js";
import { decodeFrame, type Frame, KIND } from "./frame.js";

/** A received message waiting for `recv`; `release` is what taking it frees of the window. */
export interface Received {
  bytes: Uint8Array;
  release: number;
  big: boolean;
  /** `bytes` view the NATS client's buffer: copied if the message has to wait for a `recv`. */
  view: boolean;
}

export interface InboundSink {
  /** The next message, in order. */
  deliver(r: Received): void;
  /** `n` bytes left the window (a chunk copied into the message being joined). */
  release(n: number): void;
  /** The writer's close, in order: nothing follows. */
  closed(): void;
  /** The writer's end (half-close), in order: no message follows, only its close may. */
  ended?(): void;
  /** Something that cannot be right was dropped. */
  malformed(why: string): void;
}

/** Frames further ahead than the window could hold, plus this many, are not from an honest writer. */
const AHEAD_SLACK = 1024;

export class Inbound {
  #expected = 0;
  /** Frames that arrived ahead of their turn, or wait behind a large message not yet read. */
  readonly #pending = new Map<number, { frame: Frame; streamSeq: number; size: number }>();
  #pendingBytes = 0;
  /** A large message is delivered and unread: the next one waits until it is read. */
  #bigQueued = false;
  #assembly: { buf: Uint8Array; at: number } | undefined;
  #lastStreamSeq = 0;
  #highestSeen = -1;
  #ended = false;
  /** The writer's END frame was handled: only its close may follow. */
  #writerEnded = false;

  constructor(
    private readonly maxMessage: number,
    private readonly window: number,
    private readonly sink: InboundSink,
  ) {}

  /** The stream sequence of the last frame handled in order (what may be purged). */
  get lastStreamSeq(): number {
    return this.#lastStreamSeq;
  }

  /** Frames wait for one that has not come. */
  get waitingOnGap(): boolean {
    return this.#pending.size > 0 && !this.#pending.has(this.#expected);
  }

  /** The highest sequence that has arrived (-1: none). */
  get highestSeen(): number {
    return this.#highestSeen;
  }

  /** The next frame in the tunnel's order that has not arrived. */
  get expected(): number {
    return this.#expected;
  }

  /** One frame from the stream; `data` may view the socket buffer (it is copied where kept). */
  frame(data: Uint8Array, streamSeq: number): void {
    if (this.#ended) return;
    const f = decodeFrame(data);
    if (typeof f === "string") {
      this.sink.malformed(f);
      return;
    }
    if (f.seq < this.#expected || this.#pending.has(f.seq)) return; // sent again: had it
    if (f.seq - this.#expected > this.window / FRAME_COST + AHEAD_SLACK) {
      this.sink.malformed(`frame ${f.seq} is far ahead of ${this.#expected}`);
      return;
    }
    this.#highestSeen = Math.max(this.#highestSeen, f.seq);
    if (f.seq === this.#expected && this.#pending.size === 0 && !(f.kind === KIND.first && this.#bigQueued)) {
      // its turn, as nearly always: handled at once, copied only where it is kept
      this.#expected++;
      this.#lastStreamSeq = Math.max(this.#lastStreamSeq, streamSeq);
      this.#handle(f, false);
      return;
    }
    if (this.#pendingBytes > 2 * this.window) {
      this.sink.malformed(`frame ${f.seq} does not fit the frames waiting for their turn`);
      return;
    }
    // kept for later: copied, as the bytes view the socket buffer
    const copy = copyBytes(data);
    const kept = decodeFrame(copy) as Frame;
    this.#pending.set(f.seq, { frame: kept, streamSeq, size: copy.byteLength });
    this.#pendingBytes += copy.byteLength;
    this.#drain();
  }

  /** The large message delivered last was read: the next may be joined. */
  bigTaken(): void {
    this.#bigQueued = false;
    this.#drain();
  }

  /** Nothing more is handled; what is held is dropped. */
  end(): void {
    this.#ended = true;
    this.#pending.clear();
    this.#pendingBytes = 0;
    this.#assembly = undefined;
  }

  /** Handles the frames that are next in order, stopping at a large message while one is unread. */
  #drain(): void {
    for (let p = this.#pending.get(this.#expected); p !== undefined; p = this.#pending.get(this.#expected)) {
      if (p.frame.kind === KIND.first && this.#bigQueued) return;
      this.#pending.delete(this.#expected);
      this.#pendingBytes -= p.size;
      this.#expected++;
      this.#lastStreamSeq = Math.max(this.#lastStreamSeq, p.streamSeq);
      this.#handle(p.frame, true);
      if (this.#ended) return;
    }
  }

  /** Acts on one frame in its turn; `owned`: its bytes are a copy already (else they view the socket buffer). */
  #handle(f: Frame, owned: boolean): void {
    if (this.#writerEnded && f.kind !== KIND.close) {
      // an honest writer sends nothing but its close after its end
      this.sink.malformed(`a frame of kind ${f.kind} after the writer's end`);
      return;
    }
    switch (f.kind) {
      case KIND.whole: {
        if (f.payload.byteLength > this.maxMessage) {
          this.sink.malformed(`a message of ${f.payload.byteLength} bytes is above the maximum`);
          return;
        }
        // a view is copied only where it is kept: most go straight to a waiting recv
        this.sink.deliver({ bytes: f.payload, release: f.payload.byteLength + FRAME_COST, big: false, view: !owned });
        return;
      }
      case KIND.first:
        if (this.#assembly !== undefined) this.sink.malformed("a message started before the last one ended");
        this.#assembly = undefined;
        if (f.total > this.maxMessage) {
          this.sink.malformed(`a message of ${f.total} bytes is above the maximum`);
          this.sink.release(f.payload.byteLength + FRAME_COST);
          return;
        }
        // its chunks fill it all before it is delivered (one that ends short is dropped)
        this.#assembly = { buf: unfilledBytes(f.total), at: 0 };
        this.#append(f.payload);
        return;
      case KIND.more:
      case KIND.last: {
        const a = this.#assembly;
        if (a === undefined) {
          // its start was dropped with an abort (or as malformed): its bytes still leave the window
          this.sink.release(f.payload.byteLength + FRAME_COST);
          return;
        }
        this.#append(f.payload);
        if (f.kind === KIND.last && this.#assembly === a) {
          this.#assembly = undefined;
          if (a.at !== a.buf.byteLength) {
            this.sink.malformed(`a message of ${a.buf.byteLength} bytes ended after ${a.at}`);
            return;
          }
          this.#bigQueued = true;
          this.sink.deliver({ bytes: a.buf, release: 0, big: true, view: false });
        }
        return;
      }
      case KIND.abort:
        this.#assembly = undefined;
        return;
      case KIND.close:
        this.sink.closed();
        return;
      case KIND.end:
        if (this.#assembly !== undefined) this.sink.malformed("the writer ended in the middle of a message");
        this.#assembly = undefined;
        this.#writerEnded = true;
        this.sink.ended?.();
        return;
    }
  }

  /** Copies a chunk into the message being joined; its bytes leave the window. */
  #append(chunk: Uint8Array): void {
    const a = this.#assembly;
    if (a === undefined) return;
    this.sink.release(chunk.byteLength + FRAME_COST);
    if (a.at + chunk.byteLength > a.buf.byteLength) {
      this.sink.malformed(`the chunks of a message of ${a.buf.byteLength} bytes exceed its size`);
      this.#assembly = undefined;
      return;
    }
    a.buf.set(chunk, a.at);
    a.at += chunk.byteLength;
  }
}
