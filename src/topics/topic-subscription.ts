/**
 * One subscription: a {@link PullConsumer} feeding a {@link BoundedQueue} that
 * runs the handler within the topic limits. Shared (durable, group)
 * subscriptions acknowledge each event once its handler has finished.
 */
import { type Msg, type MsgHdrs, nanos } from "@nats-io/nats-core";
import type { EventContext, EventHandler, Subscription, SubscriptionStats, TopicLimits } from "../api/index.js";
import type { Runtime } from "../core/index.js";
import { ContractViolation, type JetmeshError } from "../errors/index.js";
import { BoundedQueue, settlesWithin } from "../flow/index.js";
import {
  type ConsumerPlan,
  type Delivery,
  fromJetStreamError,
  type ManagedStream,
  PullConsumer,
} from "../jetstream/index.js";
import { ThrottledWarning } from "../logging/index.js";
import { ATTR, runInSpan } from "../telemetry/index.js";
import { copyBytes, maxDelivery } from "../wire/index.js";

/** Acknowledgement bodies (the JetStream protocol's own). */
const ACK = "+ACK";
const TERM = "+TERM";
const IN_PROGRESS = "+WPI";
const NAK = "-NAK";

export interface SharedSettings {
  /** As asked for; an existing consumer's own may be in force instead (see PullConsumer.inForce). */
  ackWait: number;
  maxDeliver: number;
  retryDelay: number;
  onDeadLetter: ((event: Uint8Array, ctx: EventContext, error: unknown) => unknown) | undefined;
}

export interface SubscriptionPlan {
  topic: string;
  handler: EventHandler;
  limits: Readonly<TopicLimits>;
  consumer: ConsumerPlan;
  /** Acks and redelivery; absent for an ordered subscription. */
  shared: SharedSettings | undefined;
}

/**
 * A delivery as the queue holds it. One that starts at once keeps its NATS
 * message; one that waits keeps only what it needs (the NATS message's bytes
 * view the socket buffer, which would stay pinned): its headers, decoded,
 * and a copy of its data, so the bytes held are the bytes counted.
 */
interface Held {
  msg: Msg | undefined;
  subject: string;
  /** Where its acknowledgement goes (shared subscriptions). */
  reply: string;
  headers: MsgHdrs | undefined;
  data: Uint8Array;
  seq: number;
  deliveries: number;
  timestamp: string;
  /** Shared: when it arrived (performance.now()). */
  arrived: number;
}

/** A message's headers; undefined when it has none or they cannot be read. */
function headersOf(msg: Msg): MsgHdrs | undefined {
  try {
    return msg.headers;
  } catch {
    return undefined;
  }
}

class EventContextImpl implements EventContext {
  constructor(
    readonly topic: string,
    private readonly d: Held,
  ) {}
  get subject(): string {
    return this.d.subject;
  }
  get headers(): EventContext["headers"] {
    return this.d.msg ? headersOf(this.d.msg) : this.d.headers;
  }
  get seq(): number {
    return this.d.seq;
  }
  get deliveries(): number {
    return this.d.deliveries;
  }
  get time(): Date {
    return new Date(Number(BigInt(this.d.timestamp) / 1_000_000n));
  }
}

export class TopicSubscription implements Subscription {
  readonly topic: string;
  readonly limits: Readonly<TopicLimits>;
  readonly #rt: Runtime;
  readonly #forget: (sub: TopicSubscription) => void;
  readonly #handler: EventHandler;
  readonly #shared: SharedSettings | undefined;
  readonly #queue: BoundedQueue<Held>;
  readonly #consumer: PullConsumer;
  readonly #failures: ThrottledWarning;
  readonly #malformedWarning: ThrottledWarning;
  /** Shared: deliveries not yet acknowledged, kept alive while they wait or run. */
  readonly #unacked = new Set<Held>();
  #keepAlive: ReturnType<typeof setInterval> | undefined;
  #events = 0;
  #errors = 0;
  #deadLetters = 0;
  /** Events that did not match the subscription's contract. */
  #refused = 0;
  /** The shared consumer's name (durable or group), for spans. */
  readonly #group: string | undefined;
  /** The subject events are stored under (for warnings). */
  readonly #subject: string;
  #stopping: Promise<void> | undefined;
  /** Why the subscription ended by itself (a permission the server refuses), if it did. */
  #endedBy: JetmeshError | undefined;
  #resolveClosed!: (err: JetmeshError | undefined) => void;
  readonly closed: Promise<JetmeshError | undefined> = new Promise((resolve) => {
    this.#resolveClosed = resolve;
  });

  /** `forget` is called once the subscription has stopped. */
  constructor(rt: Runtime, stream: ManagedStream, plan: SubscriptionPlan, forget: (sub: TopicSubscription) => void) {
    this.#rt = rt;
    this.#forget = forget;
    this.topic = plan.topic;
    this.limits = plan.limits;
    this.#handler = plan.handler;
    this.#shared = plan.shared;
    this.#group = plan.consumer.shared?.name;
    this.#subject = plan.consumer.subject;
    this.#failures = new ThrottledWarning(rt.logger, "event handler threw");
    this.#malformedWarning = new ThrottledWarning(rt.logger, "event does not match the contract; not handled");
    const { eventThreads, eventMemory } = plan.limits;
    this.#queue = new BoundedQueue<Held>(
      eventThreads,
      eventMemory,
      this.#shared ? (d) => this.#runShared(d) : (d) => this.#run(d),
      (err) => this.#threw(err),
      (d) => {
        // in place: the same object is tracked until its ack
        if (d.msg) d.headers = headersOf(d.msg);
        d.msg = undefined;
        d.data = copyBytes(d.data);
        return d;
      },
      () => this.#consumer.poke(),
    );
    this.#consumer = new PullConsumer({
      rt,
      stream,
      plan: plan.consumer,
      limits: { threads: eventThreads, memory: eventMemory, maxEvent: maxDelivery(rt.nc) },
      room: this.#queue,
      deliver: (d) => this.#arrive(d),
      refused: (err) => {
        this.#endedBy = err;
        void this.unsubscribe();
      },
    });
  }

  /** Resolves once events published from now on reach the handler. */
  async start(): Promise<void> {
    try {
      await this.#consumer.start();
    } catch (err) {
      this.#queue.close();
      throw fromJetStreamError(err, `subscribe to topic "${this.topic}"`);
    }
    const inForce = this.#consumer.inForce;
    if (inForce) {
      const every = Math.max(100, Math.floor(inForce.ackWait / 3));
      this.#keepAlive = setInterval(() => this.#stillWorking(every), every);
      this.#keepAlive.unref?.();
    }
  }

  stats(): SubscriptionStats {
    return {
      events: this.#events,
      errors: this.#errors,
      deadLetters: this.#deadLetters,
      malformed: this.#consumer.malformed + this.#refused,
      running: this.#queue.running,
      queuedBytes: this.#queue.queuedBytes,
      peakQueuedBytes: this.#queue.peakQueuedBytes,
    };
  }

  unsubscribe(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.unsubscribe();
  }

  /** A connection that came back: pulls in flight may be gone. */
  reconnected(): void {
    this.#consumer.reconnected();
  }

  async #stop(): Promise<void> {
    // nothing starts from here on: the queue refuses, and what waits is taken
    this.#queue.close();
    const consumerStopped = this.#consumer.stop();
    // never handled here: another member of the group may take them at once
    for (const d of this.#queue.takeQueued()) this.#settle(d, NAK);
    await consumerStopped;
    await settlesWithin(this.#queue.idle(), this.#rt.drainTimeout);
    clearInterval(this.#keepAlive);
    this.#forget(this);
    this.#resolveClosed(this.#endedBy);
  }

  #arrive(d: Delivery): void {
    const { msg } = d;
    const held: Held = {
      msg,
      subject: msg.subject,
      reply: msg.reply ?? "",
      headers: undefined,
      data: msg.data,
      seq: d.seq,
      deliveries: d.deliveries,
      timestamp: d.timestamp,
      arrived: 0,
    };
    if (this.#shared) {
      held.arrived = performance.now();
      this.#unacked.add(held);
    }
    // the pull was sized to the room left, so this never exceeds the limit by more than one event
    if (!this.#queue.offer(held, held.data.byteLength, true) && this.#shared) this.#settle(held, NAK);
  }

  #run(d: Held): unknown {
    this.#events++;
    return this.#handle(d, new EventContextImpl(this.topic, d));
  }

  async #runShared(d: Held): Promise<void> {
    this.#events++;
    const ctx = new EventContextImpl(this.topic, d);
    try {
      await this.#handle(d, ctx);
    } catch (err) {
      this.#threw(err);
      await this.#failed(d, ctx, err);
      return;
    }
    this.#settle(d, ACK);
  }

  /** Calls the handler; in a span linked to the publisher's when tracing. */
  #handle(d: Held, ctx: EventContextImpl): unknown {
    const t = this.#rt.telemetry;
    if (!t.tracing) return this.#handler(d.data, ctx);
    const group = this.#group;
    const span = t.startConsumer(
      this.topic,
      { headers: ctx.headers },
      {
        [ATTR.destination]: d.subject,
        [ATTR.bodySize]: d.data.byteLength,
        [ATTR.topic]: this.topic,
        [ATTR.seq]: d.seq,
        [ATTR.deliveries]: d.deliveries,
        ...(group === undefined ? {} : { [ATTR.consumerGroup]: group }),
      },
    );
    return runInSpan(span, () => this.#handler(d.data, ctx));
  }

  async #failed(d: Held, ctx: EventContext, err: unknown): Promise<void> {
    const shared = this.#shared;
    if (shared === undefined) return;
    // an event that does not match the contract never will: it is given up at once
    const hopeless = err instanceof ContractViolation;
    // the consumer's own limit: an existing durable may have been made with another
    if (!hopeless && d.deliveries < (this.#consumer.inForce?.maxDeliver ?? shared.maxDeliver)) {
      this.#settle(d, this.#nak());
      return;
    }
    this.#deadLetters++;
    this.#settle(d, TERM);
    this.#rt.logger.warn(
      { topic: this.topic, subject: d.subject, seq: d.seq, deliveries: d.deliveries, err },
      hopeless ? "event does not match the contract; given up" : "event given up after maxDeliver failed deliveries",
    );
    try {
      await shared.onDeadLetter?.(d.data, ctx, err);
    } catch (hookErr) {
      this.#rt.logger.warn({ topic: this.topic, seq: d.seq, err: hookErr }, "onDeadLetter threw");
    }
  }

  /** A negative ack after a failed handler: delivered again after retryDelay. */
  #nak(): string {
    const delay = this.#shared?.retryDelay ?? 0;
    return delay > 0 ? `${NAK} {"delay":${nanos(delay)}}` : NAK;
  }

  /** Sends a shared delivery's ack (`+ACK`, `-NAK`, `+TERM`). */
  #settle(d: Held, body: string): void {
    if (!this.#unacked.delete(d)) return;
    this.#reply(d, body);
  }

  #reply(d: Held, body: string): void {
    const reply = d.reply;
    if (!reply) return;
    try {
      this.#rt.nc.publish(reply, body);
    } catch (err) {
      // closed connection: the server delivers it again after ackWait
      this.#rt.logger.debug({ topic: this.topic, seq: d.seq, err }, "ack not sent");
    }
  }

  /** Tells the server that events held longer than `age` are still being worked on, so it does not deliver them again. */
  #stillWorking(age: number): void {
    const before = performance.now() - age;
    for (const d of this.#unacked) if (d.arrived <= before) this.#reply(d, IN_PROGRESS);
  }

  #threw(err: unknown): void {
    if (err instanceof ContractViolation) {
      this.#refused++;
      this.#malformedWarning.note({
        topic: this.topic,
        subject: this.#subject,
        err: err.message,
        total: this.#refused,
      });
      return;
    }
    this.#errors++;
    this.#failures.note({ topic: this.topic, subject: this.#subject, err, total: this.#errors });
  }
}
