/**
 * The reading half of a tunnel end: an ordered consumer of the other end's
 * subject, its frames put back in order and joined ({@link Inbound}),
 * messages waiting for `recv` ({@link ReceiveQueue}), the credit granted to
 * the writer ({@link ReadCredit}), and the purge of what was read.
 */
import type { Runtime } from "../core/index.js";
import type { JetmeshError } from "../errors/index.js";
import { type ManagedStream, PullConsumer } from "../jetstream/index.js";
import { encodeGrant } from "./control.js";
import { ReadCredit } from "./credit.js";
import { Inbound, type Received } from "./inbound.js";
import { Purger } from "./purger.js";
import { ReceiveQueue } from "./receive-queue.js";
import type { TunnelPlan } from "./tunnel-plan.js";

/** What the reader tells its tunnel end, and asks of it. */
export interface ReaderEvents {
  /** Whether the end has ended: frames arriving now are dropped. */
  readonly ended: boolean;
  /** A frame arrived: the other end is alive. */
  frameArrived(): void;
  /** The other end's close arrived, in order: nothing follows. */
  closed(): void;
  /** The other end's end (half-close) arrived, in order: no message follows, only its close may. */
  endedThere(): void;
  /** The stream was made anew (memory storage and a server restart): what was on the way is lost. */
  streamLost(): void;
  /** The server refuses a read the end needs (a `PermissionError`): the end cannot go on. */
  refused(err: JetmeshError): void;
  /** Something that cannot be right was dropped. */
  malformed(why: string): void;
  /** Something went wrong that the end cannot act on (logged). */
  warn(context: object, message: string): void;
  /** Sends a control message to the other end. */
  control(text: string): void;
  /** A message of `bytes` was handed to the application. */
  received(bytes: number): void;
}

export class Reader {
  /** Messages waiting for `recv`. */
  readonly queue = new ReceiveQueue((r) => this.#took(r));
  readonly inbound: Inbound;
  readonly consumer: PullConsumer;
  readonly #read: ReadCredit;
  readonly #purger: Purger;

  constructor(
    rt: Runtime,
    stream: ManagedStream,
    plan: TunnelPlan,
    private readonly events: ReaderEvents,
  ) {
    this.#read = new ReadCredit(plan.window);
    this.#purger = new Purger(
      () => stream.manager(),
      plan.stream,
      plan.inSubject,
      plan.window,
      (err) =>
        events.warn({ err }, "the server refuses to purge what this tunnel end read; the tunnels stream will fill"),
    );
    this.inbound = new Inbound(plan.maxMessage, plan.window, {
      deliver: (r) => this.queue.put(r),
      release: (n) => this.#release(n),
      closed: () => events.closed(),
      ended: () => events.endedThere(),
      malformed: (why) => events.malformed(why),
    });
    const queue = this.queue;
    this.consumer = new PullConsumer({
      rt,
      stream,
      plan: { stream: plan.stream, subject: plan.inSubject, start: undefined, shared: undefined },
      limits: { threads: 1, memory: plan.window, maxEvent: plan.maxEvent },
      room: {
        // frames waiting for their turn are bounded by the writer's credit; counting them
        // here could stop the pull that brings the one they wait for
        get queuedBytes() {
          return queue.bytes;
        },
        get queued() {
          return queue.length;
        },
        running: 0,
      },
      deliver: (d) => this.#onFrame(d.msg.data, d.seq),
      streamRenewed: () => events.streamLost(),
      refused: (err) => events.refused(err),
    });
  }

  /** Tells the other end how far it may send (also its heartbeat); also drops what was read from the stream. */
  grant(force = false): void {
    this.events.control(encodeGrant(this.#read.grant()));
    this.#purger.maybe(this.inbound.lastStreamSeq, this.#read.released, force);
  }

  /** Whether the last message the other end stored is its close or its end, and which. */
  finalThere(): Promise<"close" | "end" | undefined> {
    return this.#purger.lastFinal();
  }

  /** Drops everything on `subjects` (the tunnel's, as it ends). */
  purgeAll(subjects: string[]): Promise<void> {
    return this.#purger.purgeAll(subjects);
  }

  /** A delivery from the consumer (inside its subscription callback: never throws). */
  #onFrame(data: Uint8Array, streamSeq: number): void {
    try {
      if (this.events.ended) return;
      this.events.frameArrived();
      this.inbound.frame(data, streamSeq);
    } catch (err) {
      this.events.warn({ err }, "tunnel frame could not be handled");
    }
  }

  /** The application has a message: its bytes leave the window, and a large one lets the next in. */
  #took(r: Received): void {
    this.events.received(r.bytes.byteLength);
    this.#release(r.release);
    if (r.big) this.inbound.bigTaken();
    this.consumer.poke();
  }

  #release(n: number): void {
    if (this.#read.release(n)) this.grant();
  }
}
