import type { MsgHdrs } from "@nats-io/nats-core";
import type { JetmeshError } from "../errors/index.js";
import type { Interceptor } from "./calls.js";

/**
 * Iris's topic limits: at most `eventThreads` handler calls run at once, and
 * at most `eventMemory` bytes of events wait to start. Unlike Iris, events are
 * never dropped: when the queue is full the subscription stops pulling from
 * JetStream until it has room again. Defaults: 4 x CPU count and 64 MiB.
 */
export interface TopicLimits {
  /** Event handlers running at once. With 1, events are handled one by one in stream order. */
  eventThreads: number;
  /** Bytes of events waiting for a handler; at most one more event beyond this is ever held. */
  eventMemory: number;
}

/** What an event handler gets besides the bytes. */
export interface EventContext {
  /** The topic the event was published to. */
  readonly topic: string;
  /** The NATS subject it was stored under. */
  readonly subject: string;
  /** The event's NATS headers, if any. */
  readonly headers: MsgHdrs | undefined;
  /** Its sequence in the topics stream: increasing in publish order. */
  readonly seq: number;
  /** When JetStream stored it. */
  readonly time: Date;
  /** How often it has been delivered: 1 the first time, more after a failure or a crash (durable and group subscriptions). */
  readonly deliveries: number;
}

/**
 * Handles one event; may be async. What it returns is ignored, except that a
 * promise is awaited (so `(e) => seen.push(e)` is a handler too). Throwing
 * (or a rejected promise) is logged and counted; a durable or group
 * subscription gets the event again.
 */
export type EventHandler = (event: Uint8Array, ctx: EventContext) => unknown;

/** Iris's topic handler shape, accepted as well as a function. What `handleEvent` returns is as for {@link EventHandler}. */
export interface TopicHandler {
  handleEvent(event: Uint8Array, ctx: EventContext): unknown;
}

/**
 * Options of `conn.subscribe`: the topic limits, plus where to start and how
 * the subscription is shared.
 *
 * @example
 * ```ts
 * await conn.subscribe("orders", handle, { durable: "billing", eventThreads: 1 });
 * ```
 */
export interface SubscribeOptions extends Partial<TopicLimits> {
  /**
   * A durable subscription of this name survives restarts: it resumes where it
   * left off, events are acknowledged once the handler has finished, and one
   * whose handler threw or whose process died is delivered again. Every
   * subscriber using the same name on the topic shares its events.
   */
  durable?: string;
  /**
   * A load-shared subscription: each event goes to one subscriber of the
   * group, with acks and redelivery as for `durable`. The group is forgotten
   * by the server 24 hours after its last subscriber left.
   */
  group?: string;
  /**
   * Replay from a stream sequence or a time instead of only new events. For
   * `durable` and `group`, applies when the subscription is first created.
   */
  from?: { seq: number } | { time: Date | number };
  /** Durable and group: how long a delivered event may go unacknowledged before it is delivered again, in ms. Default 30 000 (kept alive while its handler runs). */
  ackWait?: number;
  /** Durable and group: deliveries of one event before it is given up (dead-lettered). Default 5. */
  maxDeliver?: number;
  /** Durable and group: wait before an event whose handler threw is delivered again, in ms. Default 1 000. */
  retryDelay?: number;
  /**
   * How long set-up may take (making the stream and the consumer) before
   * `subscribe` rejects with `TimeoutError`, in ms. Default: the
   * connection's time-out.
   */
  timeout?: number;
  /** Aborts set-up: `subscribe` rejects with the signal's reason, and nothing is left subscribed. */
  signal?: AbortSignal;
  /** Durable and group: called with an event given up after `maxDeliver` failed deliveries, and the last error. */
  onDeadLetter?: (event: Uint8Array, ctx: EventContext, error: unknown) => unknown;
  /** Interceptors around this subscription's handler, inside the connection's (see {@link Interceptor}). */
  interceptors?: Interceptor[];
}

/** Counters of one subscription, since it started. */
export interface SubscriptionStats {
  /** Events handed to the handler. */
  events: number;
  /** Handler calls that threw. */
  errors: number;
  /** Events given up after `maxDeliver` deliveries (durable and group). */
  deadLetters: number;
  /** Deliveries that could not be read. */
  malformed: number;
  /** Handler calls running now. */
  running: number;
  /** Bytes of events waiting now. */
  queuedBytes: number;
  /** The most bytes of events ever waiting at once. */
  peakQueuedBytes: number;
}

/**
 * A live subscription to a topic, from `conn.subscribe`.
 *
 * @example
 * ```ts
 * await using sub = await conn.subscribe("news", (event) => console.log(event.length));
 * ```
 */
export interface Subscription extends AsyncDisposable {
  /** The topic subscribed to. */
  readonly topic: string;
  /** The limits in force (defaults filled in). */
  readonly limits: Readonly<TopicLimits>;
  /** Counters since the subscription started. */
  stats(): SubscriptionStats;
  /**
   * Resolves once the subscription has ended: with `undefined` after
   * `unsubscribe()` (or the connection's close), with the error when it ended
   * by itself: a `PermissionError` naming the subject when the server refuses
   * a read or an acknowledgement the subscription needs.
   */
  readonly closed: Promise<JetmeshError | undefined>;
  /**
   * Stops delivery at once: no handler call starts after this. Running
   * handlers finish (up to the connection's `drainTimeout`); events still
   * queued are not handed on (a durable or group subscription gets them again
   * later). Idempotent.
   */
  unsubscribe(): Promise<void>;
}

/** Options of `conn.publish`. */
export interface PublishOptions {
  /** How long to wait for JetStream's ack, riding out a disconnect, in ms. Default: the connection's `timeout`. */
  timeout?: number;
  /** Aborts the wait; the publish rejects with the signal's reason (the event may still be stored). */
  signal?: AbortSignal;
}

/**
 * Settings of the JetStream stream that stores a namespace's topics, given as
 * `connect({ topics: {...} })`. The stream is created with them on first use.
 * When it exists already, it is used as it is; a setting given here that
 * differs from it is a `ConfigurationError`, never a silent change.
 *
 * @example
 * ```ts
 * const conn = await connect({ servers: url, topics: { storage: "memory", maxAge: 60 * 60 * 1000 } });
 * ```
 */
export interface TopicsOptions {
  /** Stream name. Default `JETMESH_TOPICS_<namespace>` (dots become `_`). */
  stream?: string;
  /** `"file"` (default: events survive a server restart) or `"memory"`. */
  storage?: "file" | "memory";
  /** Copies kept in a JetStream cluster (1-5). Default 1. */
  replicas?: number;
  /** How long events are kept, in ms; 0 keeps them until `maxBytes` is reached. Default 24 h. */
  maxAge?: number;
  /** Most bytes the stream holds; 0: no limit but the server's. Default 1 GiB. */
  maxBytes?: number;
  /**
   * What happens when `maxAge`/`maxBytes` is reached: `"old"` (default) deletes
   * the oldest events, `"new"` refuses new ones (`publish` rejects `OverloadedError`).
   */
  discard?: "old" | "new";
  /** How long a publish's id is remembered, so a publish retried after a lost ack is stored once, in ms. Default 2 min. */
  duplicateWindow?: number;
}

/** What JetStream answered to a publish. */
export interface PublishAck {
  /** The event's sequence in the topics stream (usable as `subscribe(..., { from: { seq } })`). */
  seq: number;
  /** True when the stream already held this event (a publish sent again after a lost ack). */
  duplicate: boolean;
}
