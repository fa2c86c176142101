/**
 * The topics of one connection: the stream, the publisher, and the
 * subscriptions (one per topic), all made on first use.
 */
import { createHash } from "node:crypto";
import { type MsgHdrs, MsgHdrsImpl, nuid } from "@nats-io/nats-core";
import type {
  EventHandler,
  PublishAck,
  SubscribeOptions,
  Subscription,
  TopicHandler,
  TopicLimits,
} from "../api/index.js";
import {
  DEFAULTS,
  validateLimits,
  validateName,
  validateOptions,
  validateSignal,
  validateTimeout,
} from "../config/index.js";
import { type Runtime, watchConnection } from "../core/index.js";
import { InvalidArgumentError, type JetmeshError, TimeoutError } from "../errors/index.js";
import { withDeadline } from "../flow/index.js";
import { type ConsumerPlan, ManagedStream, Publisher, type StartAt } from "../jetstream/index.js";
import { ATTR, endSpan, type Observer, SpanKind } from "../telemetry/index.js";
import { HEADER, maxPayload } from "../wire/index.js";
import type { ResolvedTopics } from "./settings.js";
import { type SharedSettings, type SubscriptionPlan, TopicSubscription } from "./topic-subscription.js";

/** The default topic limits: 4 x CPU count handlers and 64 MiB, as in Iris. */
export const DEFAULT_TOPIC_LIMITS: Readonly<TopicLimits> = Object.freeze({
  eventThreads: DEFAULTS.threads,
  eventMemory: DEFAULTS.memory,
});

const SUBSCRIBE_KEYS = [
  "eventThreads",
  "eventMemory",
  "durable",
  "group",
  "from",
  "ackWait",
  "maxDeliver",
  "retryDelay",
  "onDeadLetter",
  "timeout",
  "signal",
  // wrapped around the handler by the connection
  "interceptors",
] as const;
const SHARED_ONLY = ["ackWait", "maxDeliver", "retryDelay", "onDeadLetter"] as const;

const SHARED_DEFAULTS = { ackWait: 30_000, maxDeliver: 5, retryDelay: 1_000 } as const;
/**
 * A group is forgotten by the server this long after its last pull, in ms.
 * A member pulls whenever it has a free handler, so this only passes once the
 * group has no members (or every handler of every member ran this long).
 */
const GROUP_INACTIVE_MS = 24 * 60 * 60_000;
/** Consumer names longer than this are hashed (they name directories in the server's store). */
const MAX_CONSUMER_NAME = 200;

/** A subscription as planned before its stream is known. */
type PlannedSubscription = Omit<SubscriptionPlan, "consumer"> & { consumer: Omit<ConsumerPlan, "stream"> };

export class Topics {
  readonly #rt: Runtime;
  readonly #stream: ManagedStream;
  #publisher: Publisher | undefined;
  /** Subscriptions by topic; `null` while one is starting. */
  readonly #subs = new Map<string, TopicSubscription | null>();
  #stopWatch: (() => void) | undefined;

  constructor(rt: Runtime, settings: ResolvedTopics) {
    this.#rt = rt;
    this.#stream = new ManagedStream(rt.nc, settings, rt.subjects.topics, "topics");
  }

  /**
   * Publishes (validated by the caller); resolves with JetStream's ack.
   * `extra`: headers to send besides the `Nats-Msg-Id` (an interceptor's).
   */
  publish(
    topic: string,
    payload: Uint8Array,
    timeout: number,
    signal: AbortSignal | undefined,
    extra?: MsgHdrs,
  ): Promise<PublishAck> {
    let publisher = this.#publisher;
    if (publisher === undefined) {
      publisher = new Publisher(this.#rt, this.#stream, "topic");
      this.#publisher = publisher;
      this.#watch();
    }
    const subject = this.#rt.subjects.topic(topic);
    const t = this.#rt.telemetry;
    if (!t.tracing) {
      return publisher.publish(subject, topic, payload, timeout, signal, extra && withMsgId(extra, nuid.next()));
    }
    const span = t.start("publish", topic, SpanKind.PRODUCER, {
      [ATTR.destination]: subject,
      [ATTR.operationType]: "send",
      [ATTR.bodySize]: payload.byteLength,
      [ATTR.topic]: topic,
    });
    const id = nuid.next();
    const h = extra ?? new MsgHdrsImpl();
    h.set(HEADER.msgId, id);
    // trace context that would push the event over the max payload is left out
    if (t.injectFitting(span, h, payload, maxPayload(this.#rt.nc))) span.setAttribute(ATTR.messageId, id);
    const header = (h as MsgHdrsImpl).encode();
    return publisher.publish(subject, topic, payload, timeout, signal, header).then(
      (ack) => {
        span.setAttribute(ATTR.seq, ack.seq);
        span.end();
        return ack;
      },
      (err: unknown) => {
        endSpan(span, err);
        throw err;
      },
    );
  }

  /** Reports the subscriptions' counters as metrics. */
  readonly report: Observer = (observe) => {
    for (const sub of this.#subs.values()) {
      if (!sub) continue;
      const s = sub.stats();
      const a = { [ATTR.topic]: sub.topic, [ATTR.kind]: "event" };
      observe("handlersActive", s.running, a);
      observe("queuedBytes", s.queuedBytes, a);
      observe("events", s.events, { [ATTR.topic]: sub.topic });
    }
  };

  async subscribe(name: unknown, handler: unknown, options: unknown): Promise<Subscription> {
    const topic = validateName("topic", name);
    const { call, ...plan } = this.#plan(topic, handler, options);
    if (this.#subs.has(topic)) {
      throw new InvalidArgumentError(`topic "${topic}" is already subscribed on this connection`);
    }
    call.signal?.throwIfAborted();
    this.#subs.set(topic, null);
    try {
      const sub = await withDeadline(
        this.#start(plan),
        call.timeout,
        call.signal,
        () => new TimeoutError(`subscribe to topic "${topic}" timed out after ${call.timeout} ms`),
        // set up after the caller gave up: nobody holds it
        (late) => void late.unsubscribe(),
      );
      this.#subs.set(topic, sub);
      return sub;
    } catch (err) {
      if (this.#subs.get(topic) === null) this.#subs.delete(topic);
      throw err;
    }
  }

  /** Makes the stream if need be, and the subscription's consumer; resolves once events reach it. */
  async #start(plan: PlannedSubscription): Promise<TopicSubscription> {
    await this.#stream.ensure();
    const sub = new TopicSubscription(
      this.#rt,
      this.#stream,
      { ...plan, consumer: { ...plan.consumer, stream: this.#stream.name } },
      (s) => {
        if (this.#subs.get(s.topic) === s) this.#subs.delete(s.topic);
      },
    );
    this.#watch();
    await sub.start();
    return sub;
  }

  async unsubscribe(name: unknown): Promise<void> {
    const topic = validateName("topic", name);
    const sub = this.#subs.get(topic);
    if (!sub) throw new InvalidArgumentError(`topic "${topic}" is not subscribed on this connection`);
    await sub.unsubscribe();
  }

  /** Rejects every publish waiting for its ack. */
  rejectAll(err: JetmeshError): void {
    this.#publisher?.rejectAll(err);
  }

  /** Stops every subscription and the publisher. */
  async close(): Promise<void> {
    this.#stopWatch?.();
    const subs = [...this.#subs.values()].filter((s): s is TopicSubscription => s !== null);
    await Promise.all(subs.map((s) => s.unsubscribe()));
    this.#publisher?.close();
  }

  /** Watches for reconnects: publishes may have lost their acks, and pulls their consumers. */
  #watch(): void {
    this.#stopWatch ??= watchConnection(this.#rt.nc, this.#rt.logger, {
      up: () => {
        this.#publisher?.resendAll();
        for (const sub of this.#subs.values()) sub?.reconnected();
      },
    });
  }

  /** Validates subscribe()'s handler and options into a plan (the stream is filled in later). */
  #plan(topic: string, handler: unknown, options: unknown) {
    const handle = toEventHandler(handler);
    const o = validateOptions<SubscribeOptions>("options", options, SUBSCRIBE_KEYS);
    const { eventThreads, eventMemory } = o;
    const limits = validateLimits("options", { eventThreads, eventMemory }, { ...DEFAULT_TOPIC_LIMITS });
    if (o.durable !== undefined) validateName("options.durable", o.durable);
    if (o.group !== undefined) validateName("options.group", o.group);
    if (o.durable !== undefined && o.group !== undefined) {
      throw new InvalidArgumentError(
        "options.durable and options.group exclude each other: a durable subscription is shared by its subscribers already",
      );
    }
    const sharedName = o.durable ?? o.group;
    if (sharedName === undefined) {
      const extra = SHARED_ONLY.find((k) => o[k] !== undefined);
      if (extra) throw new InvalidArgumentError(`options.${extra} applies only to durable or group subscriptions`);
    }
    let shared: SharedSettings | undefined;
    if (sharedName !== undefined) {
      if (o.onDeadLetter !== undefined && typeof o.onDeadLetter !== "function") {
        throw new InvalidArgumentError("options.onDeadLetter must be a function");
      }
      const maxDeliver = o.maxDeliver ?? SHARED_DEFAULTS.maxDeliver;
      if (!Number.isSafeInteger(maxDeliver) || maxDeliver < 1) {
        throw new InvalidArgumentError(`options.maxDeliver must be a positive integer, got ${maxDeliver}`);
      }
      const retryDelay = o.retryDelay ?? SHARED_DEFAULTS.retryDelay;
      if (retryDelay !== 0) validateTimeout("options.retryDelay", retryDelay, 0);
      shared = {
        ackWait: validateTimeout("options.ackWait", o.ackWait, SHARED_DEFAULTS.ackWait),
        maxDeliver,
        retryDelay,
        onDeadLetter: o.onDeadLetter,
      };
    }
    return {
      call: {
        timeout: validateTimeout("options.timeout", o.timeout, this.#rt.timeout),
        signal: validateSignal(o.signal),
      },
      topic,
      handler: handle,
      limits,
      shared,
      consumer: {
        subject: this.#rt.subjects.topic(topic),
        start: startAt(o.from),
        shared:
          shared && sharedName !== undefined
            ? {
                name: consumerName(o.durable !== undefined ? "durable" : "group", topic, sharedName),
                ackWait: shared.ackWait,
                maxDeliver: shared.maxDeliver,
                given: { ackWait: o.ackWait !== undefined, maxDeliver: o.maxDeliver !== undefined },
                inactiveThreshold: o.group !== undefined ? GROUP_INACTIVE_MS : undefined,
              }
            : undefined,
      },
    };
  }
}

function toEventHandler(handler: unknown): EventHandler {
  if (typeof handler === "function") return handler as EventHandler;
  if (typeof handler === "object" && handler !== null && typeof (handler as TopicHandler).handleEvent === "function") {
    const h = handler as TopicHandler;
    return (event, ctx) => h.handleEvent(event, ctx);
  }
  throw new InvalidArgumentError("handler must be a function (event, ctx) or an object with handleEvent(event, ctx)");
}

function startAt(from: unknown): StartAt {
  if (from === undefined) return undefined;
  const o = validateOptions<{ seq: number; time: Date | number }>("options.from", from, ["seq", "time"]);
  if (o.seq !== undefined && o.time === undefined) {
    if (!Number.isSafeInteger(o.seq) || o.seq < 1) {
      throw new InvalidArgumentError(`options.from.seq must be a stream sequence (integer >= 1), got ${o.seq}`);
    }
    return { seq: o.seq };
  }
  if (o.time !== undefined && o.seq === undefined) {
    const time = o.time instanceof Date ? o.time : typeof o.time === "number" ? new Date(o.time) : undefined;
    if (time === undefined || Number.isNaN(time.getTime())) {
      throw new InvalidArgumentError("options.from.time must be a Date or ms since the epoch");
    }
    return { time };
  }
  throw new InvalidArgumentError("options.from must be { seq } or { time }");
}

/** The JetStream consumer name of a durable or group subscription (names cannot contain `~`, so these never collide). */
function consumerName(kind: "durable" | "group", topic: string, name: string): string {
  const full = `${kind}~${topic}~${name}`;
  if (full.length <= MAX_CONSUMER_NAME) return full;
  return `${kind}~${createHash("sha256").update(`${topic}~${name}`).digest("hex").slice(0, 40)}`;
}

/** `h` with the de-duplication id `id`, encoded (a publish sent again is stored once). */
function withMsgId(h: MsgHdrs, id: string): Uint8Array {
  h.set(HEADER.msgId, id);
  // every MsgHdrs the client makes is one (an interceptor's come from the connection)
  return (h as MsgHdrsImpl).encode();
}
