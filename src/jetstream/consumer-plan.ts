/** What a pull consumer is asked to do: where it reads from and starts, alone (ordered) or shared, and within what room. */
import type { Msg } from "@nats-io/nats-core";
import type { Runtime } from "../core/index.js";
import type { JetmeshError } from "../errors/index.js";
import type { ManagedStream } from "./managed-stream.js";

/** Where a subscription starts: new events (default), a stream sequence, or a time. */
export type StartAt = { seq: number } | { time: Date } | undefined;

export interface SharedPlan {
  /** The consumer's name. */
  name: string;
  ackWait: number;
  maxDeliver: number;
  /** Whether ackWait / maxDeliver were given (then an existing consumer is updated to them; else its own are used). */
  given: { ackWait: boolean; maxDeliver: boolean };
  /** Set for a group: the server removes the consumer after this long without a member, in ms. */
  inactiveThreshold: number | undefined;
}

/** The settings a shared consumer runs with (an existing one's may differ from those asked for). */
export interface SharedInForce {
  ackWait: number;
  maxDeliver: number;
}

export interface ConsumerPlan {
  stream: string;
  subject: string;
  start: StartAt;
  /** A shared (acked) consumer; absent for an ordered one. */
  shared: SharedPlan | undefined;
}

/** One delivery, with what its ack subject says. */
export interface Delivery {
  msg: Msg;
  /** The event's stream sequence. */
  seq: number;
  /** How often it was delivered (1 the first time). */
  deliveries: number;
  /** Publish time, ns since the epoch, as JetStream wrote it. */
  timestamp: string;
}

/** What the consumer needs to know of the subscriber's queue. */
export interface Room {
  /** Bytes waiting to start. */
  readonly queuedBytes: number;
  /** Items waiting to start. */
  readonly queued: number;
  /** Handler calls running. */
  readonly running: number;
}

export interface ConsumerLimits {
  threads: number;
  memory: number;
  /** The largest event the server can carry, with its subject and headers. */
  maxEvent: number;
}

/** What a {@link PullConsumer} is made of. */
export interface PullConsumerParts {
  rt: Runtime;
  /** The stream it reads from: made again when it turns out to be gone. */
  stream: ManagedStream;
  plan: ConsumerPlan;
  limits: ConsumerLimits;
  /** The subscriber's queue, read before each pull. */
  room: Room;
  /** Called with each delivery, in order. */
  deliver: (d: Delivery) => void;
  /** Told when the stream turns out to have been made anew (what was in it is gone). */
  streamRenewed?: () => void;
  /**
   * Told, once, that the consumer stopped for good after starting: the server
   * refuses a subscription, pull or ack it needs (a `PermissionError` naming
   * the subject).
   */
  refused?: (err: JetmeshError) => void;
}
