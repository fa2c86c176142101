/**
 * A JetStream pull consumer driven by the subscriber's room, not by arrivals:
 * a pull asks for at most the bytes the subscription's queue can still hold,
 * and the next pull goes out only when that one has ended and the queue has
 * room again. So a slow subscriber stops pulling (back-pressure) and nothing
 * is dropped. (The client's `consume()` re-pulls as messages arrive, before the
 * handler has run, which cannot bound memory.)
 *
 * Two kinds:
 * - ordered: an ephemeral consumer without acks, recreated from the last
 *   stream sequence seen whenever a delivery is missing, heartbeats stop, or
 *   the connection comes back; so nothing is lost and nothing handed twice.
 * - shared: a named consumer with explicit acks (durable, or a group that
 *   the server removes after a time without members), which the server
 *   redelivers from after a crash and load-shares between its subscribers.
 */
import {
  AckPolicy,
  type ConsumerConfig,
  type ConsumerInfo,
  type ConsumerUpdateConfig,
  DeliverPolicy,
  type JetStreamManager,
  ReplayPolicy,
} from "@nats-io/jetstream";
import { createInbox, type Msg, millis, type NatsConnection, nanos, nuid, type Subscription } from "@nats-io/nats-core";
import type { Logger } from "../api/index.js";
import { settlesWithin } from "../flow/index.js";
import { safeCallback } from "../logging/index.js";
import { HEADER } from "../wire/index.js";
import { API, isApiError } from "./api-errors.js";

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

export interface ConsumerHost {
  nc: NatsConnection;
  jsm(): Promise<JetStreamManager>;
  /** Makes sure the stream exists (it may have been lost with a server's memory storage). */
  ensureStream(): Promise<void>;
  /** Told when the stream turns out to have been made anew (what was in it is gone). */
  streamRenewed?: () => void;
  logger: Logger;
  inboxPrefix: string | undefined;
  drainTimeout: number;
}

export interface ConsumerLimits {
  threads: number;
  memory: number;
  /** The largest event the server can carry, with its subject and headers. */
  maxEvent: number;
}

/** Pull requests end after this long without a message (the server then says so, and we pull again). */
const EXPIRES_MS = 30_000;
/** The server sends a heartbeat on an open pull after this long without a message. */
const HEARTBEAT_MS = 5_000;
/** A pull is presumed lost after this long without a message, status or heartbeat. */
const SILENCE_MS = 2 * HEARTBEAT_MS + 1_000;
/**
 * Most events one pull asks for. Ordered: many (the bytes asked for bound
 * memory). Shared: events held (running, queued or asked for) stay within
 * twice the handlers, so that a member does not hoard events its group could
 * be handling, nor hold them unacknowledged for long.
 */
const ORDERED_BATCH = 16_384;
const SHARED_HELD_PER_THREAD = 2;
/** An ordered consumer the client forgot (crash) is removed by the server after this long. */
const ORDERED_INACTIVE_MS = 5 * 60_000;
/** How many bytes shorter the next delivery's reply subject may be (its pending count has fewer digits). */
const REPLY_SLACK = 8;
/** Waits between tries to (re)create a consumer, in ms. */
const RESET_MIN_MS = 100;
const RESET_MAX_MS = 2_000;

/**
 * How long each step of re-creating an ordered consumer (the stream check,
 * the create) may take before it is tried again (a create under a new name).
 * In a JetStream cluster an R1 consumer is placed on one of the stream's
 * peers, and one placed on a peer that is down never answers; while a
 * stream has no leader, nothing does (the API's own time-out is 5 s), in ms.
 */
const RECREATE_MS = 1_500;

/** Resolves as `work` does, or rejects once `ms` passed without an answer (`work` is then ignored). */
function answeredWithin<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  work.catch(() => {});
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

/** A delivery's size as the server counts it against a pull's bytes: subject, reply, headers and payload. */
function wireSize(msg: Msg): number {
  const sized = msg as Msg & { size?: () => number };
  if (typeof sized.size === "function") return sized.size();
  return msg.subject.length + (msg.reply?.length ?? 0) + msg.data.byteLength;
}

/** A publish time in ns since the epoch. */
const TIMESTAMP = /^[0-9]{1,20}$/;

/** Dot positions of the ack subject being parsed (parsing is synchronous, so one array serves all). */
const DOTS = new Int32Array(12);

function digits(s: string, from: number, to: number): number {
  if (from >= to || to - from > 15) return Number.NaN;
  let n = 0;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return Number.NaN;
    n = n * 10 + c;
  }
  return n;
}

/**
 * Parses `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending>`
 * (and the longer form with domain and account hash), on every delivery, so
 * without splitting it into strings.
 */
export function parseAckSubject(
  reply: string,
): { consumer: string; deliveries: number; seq: number; dseq: number; timestamp: string } | undefined {
  if (!reply.startsWith("$JS.ACK.")) return undefined;
  let n = 0;
  for (let i = reply.indexOf("."); i !== -1 && n < DOTS.length; i = reply.indexOf(".", i + 1)) DOTS[n++] = i;
  const tokens = n + 1;
  const o = tokens === 9 ? 2 : tokens >= 11 ? 4 : -1;
  if (o < 0) return undefined;
  // token k runs from DOTS[k-1]+1 to DOTS[k]
  const start = (k: number) => (DOTS[k - 1] ?? -1) + 1;
  const end = (k: number) => (k < n ? (DOTS[k] ?? reply.length) : reply.length);
  const deliveries = digits(reply, start(o + 2), end(o + 2));
  const seq = digits(reply, start(o + 3), end(o + 3));
  const dseq = digits(reply, start(o + 4), end(o + 4));
  if (!(deliveries >= 1 && seq >= 1 && dseq >= 1) || end(o + 1) <= start(o + 1)) return undefined;
  const timestamp = reply.slice(start(o + 5), end(o + 5));
  if (!TIMESTAMP.test(timestamp)) return undefined;
  return { consumer: reply.slice(start(o + 1), end(o + 1)), deliveries, seq, dseq, timestamp };
}

export class PullConsumer {
  readonly #host: ConsumerHost;
  readonly #plan: ConsumerPlan;
  readonly #limits: ConsumerLimits;
  readonly #room: Room;
  readonly #deliver: (d: Delivery) => void;
  readonly #requestTail: string;

  #sub: Subscription | undefined;
  #inbox = "";
  #consumer: string | undefined;
  /** The pull in flight: its reply token, how many events and bytes it asked for and got (as the server counts them). */
  #pull: { id: string; batch: number; maxBytes: number; got: number; bytes: number } | undefined;
  #pullSeq = 0;
  /** The next event did not fit the last pull's bytes: pull it alone once the queue is empty. */
  #big = false;
  /** Ordered: the last stream sequence handed on (known), and the last delivery sequence of this consumer. */
  #cursor = 0;
  #cursorKnown = false;
  #dseq = 0;
  #lastHeard = performance.now();
  #watchdog: ReturnType<typeof setInterval> | undefined;
  #resetting: Promise<void> | undefined;
  #resetTries = 0;
  #resetWait: { timer: ReturnType<typeof setTimeout>; done: () => void } | undefined;
  #started = false;
  /** A reconnect happened while starting: reset once started. */
  #staleAtStart = false;
  #stopped = false;
  /** The stream had to be made again: a shared consumer recreated with it reads all of it. */
  #streamRenewed = false;
  /** Deliveries that could not be read (counted for the subscription's stats). */
  malformed = 0;
  /** A shared consumer's settings in force (set once bound). */
  inForce: SharedInForce | undefined;

  constructor(
    host: ConsumerHost,
    plan: ConsumerPlan,
    limits: ConsumerLimits,
    room: Room,
    deliver: (d: Delivery) => void,
  ) {
    this.#host = host;
    this.#plan = plan;
    this.#limits = limits;
    this.#room = room;
    this.#deliver = deliver;
    this.#requestTail = `,"expires":${nanos(EXPIRES_MS)},"idle_heartbeat":${nanos(HEARTBEAT_MS)}}`;
    if (plan.start && "seq" in plan.start) {
      this.#cursor = plan.start.seq - 1;
      this.#cursorKnown = true;
    }
  }

  /**
   * Creates (or binds) the consumer and sends the first pull; resolves once
   * events published from now on will arrive (a shared consumer's settings
   * are then in `inForce`). On failure nothing is left behind.
   */
  async start(): Promise<void> {
    try {
      await this.#open();
    } catch (err) {
      await this.stop();
      throw err;
    }
    this.#started = true;
    if (this.#stopped) {
      // stopped while the consumer was being made: stop() could not delete it then
      await this.#deleteOrdered();
      return;
    }
    this.#watchdog = setInterval(() => this.#checkSilence(), HEARTBEAT_MS);
    this.#watchdog.unref?.();
    if (this.#staleAtStart) this.#reset("reconnected while starting");
    else this.poke();
  }

  /** The queue has more room (or a free handler): pull if a pull can go out. */
  poke(): void {
    if (this.#pull !== undefined || this.#stopped || this.#resetting !== undefined || this.#consumer === undefined) {
      return;
    }
    const room = this.#room;
    const { memory, threads } = this.#limits;
    let batch = ORDERED_BATCH;
    let maxBytes: number;
    if (this.#big) {
      // an event larger than the room: take it alone, when it can start at once
      if (room.queued > 0 || room.running >= threads) return;
      this.#big = false;
      batch = 1;
      maxBytes = Math.max(memory, this.#limits.maxEvent);
    } else {
      maxBytes = memory - room.queuedBytes;
      // wait for half the room, so that a nearly full queue does not pull one event at a time
      if (room.queued > 0 && maxBytes < memory / 2) return;
      if (this.#plan.shared) {
        batch = SHARED_HELD_PER_THREAD * threads - room.queued - room.running;
        if (batch < 1 || (room.queued > 0 && batch < threads)) return;
      }
    }
    const id = (this.#pullSeq++).toString(36);
    this.#pull = { id, batch, maxBytes, got: 0, bytes: 0 };
    this.#lastHeard = performance.now();
    try {
      this.#host.nc.publish(
        `$JS.API.CONSUMER.MSG.NEXT.${this.#plan.stream}.${this.#consumer}`,
        `{"batch":${batch},"max_bytes":${maxBytes}${this.#requestTail}`,
        { reply: `${this.#inbox}.${id}` },
      );
    } catch (err) {
      this.#pull = undefined;
      this.#host.logger.warn({ subject: this.#plan.subject, err }, "pull request failed");
      this.#reset("pull request failed");
    }
  }

  /** The connection is back: pulls in flight may be gone, and an ordered consumer with them. */
  reconnected(): void {
    if (this.#started) this.#reset("reconnected");
    else this.#staleAtStart = true;
  }

  /**
   * Makes an ordered consumer anew from the last sequence seen (binds a
   * shared one again), as after a reconnect: for a caller that knows
   * deliveries stopped coming (the consumer's server is gone) before the
   * pull's heartbeats say so.
   */
  refresh(why: string): void {
    if (this.#started) this.#reset(why);
  }

  /** Stops pulling; an ordered consumer is deleted, a shared one stays for its other members or a restart. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearInterval(this.#watchdog);
    if (this.#resetWait) {
      clearTimeout(this.#resetWait.timer);
      this.#resetWait.done();
    }
    this.#unsubscribe();
    await this.#resetting;
    await this.#deleteOrdered();
  }

  /** Deletes an ordered consumer on the server (a shared one stays). */
  async #deleteOrdered(): Promise<void> {
    const name = this.#consumer;
    if (name !== undefined && this.#plan.shared === undefined) {
      await settlesWithin(
        this.#host.jsm().then((jsm) => jsm.consumers.delete(this.#plan.stream, name)),
        this.#host.drainTimeout,
      );
    }
  }

  #unsubscribe(): void {
    try {
      this.#sub?.unsubscribe();
    } catch {
      // the connection is closed already
    }
    this.#sub = undefined;
  }

  /** A fresh inbox (pulls sent to an earlier one are ignored), and the consumer created or bound. */
  async #open(): Promise<void> {
    this.#unsubscribe();
    this.#pull = undefined;
    this.#inbox = createInbox(this.#host.inboxPrefix);
    this.#sub = this.#host.nc.subscribe(`${this.#inbox}.*`, {
      callback: safeCallback(this.#host.logger, "consumer delivery", (err, msg) => this.#onMsg(err, msg)),
    });
    const jsm = await this.#host.jsm();
    const shared = this.#plan.shared;
    if (shared) {
      await this.#bindShared(jsm, shared);
      return;
    }
    const old = this.#consumer;
    this.#consumer = undefined;
    if (old !== undefined) jsm.consumers.delete(this.#plan.stream, old).catch(() => {});
    if (this.#started && this.#cursorKnown) await this.#checkCursor(jsm);
    const creating = this.#create(jsm, () => this.#orderedConfig());
    // made anew: in a cluster, a create placed on a peer that is down never answers; try again sooner
    const info = this.#started ? await answeredWithin(creating, RECREATE_MS) : await creating;
    this.#consumer = info.name;
    this.#dseq = 0;
    if (!this.#cursorKnown && this.#plan.start === undefined) {
      // "new events": the consumer starts after the stream's last sequence now
      this.#cursor = info.delivered.stream_seq;
      this.#cursorKnown = true;
    }
    return undefined;
  }

  /**
   * Before recreating an ordered consumer: a stream whose last sequence is
   * below the cursor was made anew (memory storage and a server restart), so
   * everything in it is new to this subscription.
   */
  async #checkCursor(jsm: JetStreamManager): Promise<void> {
    let state: { first_seq: number; last_seq: number } | undefined;
    try {
      state = (await answeredWithin(jsm.streams.info(this.#plan.stream), RECREATE_MS)).state;
    } catch (err) {
      if (!isApiError(err, API.streamNotFound)) throw err;
    }
    if (state !== undefined && state.last_seq >= this.#cursor) return;
    this.#host.logger.warn(
      { subject: this.#plan.subject, cursor: this.#cursor, lastSeq: state?.last_seq },
      "the stream was made anew; reading it from its start",
    );
    this.#host.streamRenewed?.();
    this.#cursor = Math.max(0, (state?.first_seq ?? 1) - 1);
  }

  #orderedConfig(): Partial<ConsumerConfig> {
    const config: Partial<ConsumerConfig> = {
      name: `jm_${nuid.next()}`,
      filter_subject: this.#plan.subject,
      ack_policy: AckPolicy.None,
      replay_policy: ReplayPolicy.Instant,
      mem_storage: true,
      num_replicas: 1,
      inactive_threshold: nanos(ORDERED_INACTIVE_MS),
    };
    return { ...config, ...this.#startConfig() };
  }

  #startConfig(): Partial<ConsumerConfig> {
    if (this.#cursorKnown) return { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: this.#cursor + 1 };
    const start = this.#plan.start;
    if (start && "time" in start) {
      return { deliver_policy: DeliverPolicy.StartTime, opt_start_time: start.time.toISOString() };
    }
    return { deliver_policy: DeliverPolicy.New };
  }

  /**
   * Binds the named consumer, creating it if missing. An existing one keeps
   * its settings, except the ackWait / maxDeliver given explicitly, which are
   * updated; the settings in force are returned.
   */
  async #bindShared(jsm: JetStreamManager, shared: SharedPlan): Promise<void> {
    const stream = this.#plan.stream;
    let info: ConsumerInfo | undefined;
    try {
      info = await jsm.consumers.info(stream, shared.name);
    } catch (err) {
      if (!isApiError(err, API.consumerNotFound) && !isApiError(err, API.streamNotFound)) throw err;
    }
    if (info !== undefined) {
      const update: Partial<ConsumerUpdateConfig> = {};
      if (shared.given.ackWait && info.config.ack_wait !== nanos(shared.ackWait))
        update.ack_wait = nanos(shared.ackWait);
      if (shared.given.maxDeliver && info.config.max_deliver !== shared.maxDeliver) {
        update.max_deliver = shared.maxDeliver;
      }
      if (Object.keys(update).length > 0) {
        this.#host.logger.info({ consumer: shared.name, update }, "updating the settings of an existing subscription");
        info = await jsm.consumers.update(stream, shared.name, update);
      }
    } else {
      if (this.#started) {
        this.#host.logger.warn(
          { consumer: shared.name },
          "the subscription's consumer is gone from the server; recreating it",
        );
      }
      const config = (): Partial<ConsumerConfig> => {
        const c: Partial<ConsumerConfig> = {
          durable_name: shared.name,
          filter_subject: this.#plan.subject,
          ack_policy: AckPolicy.Explicit,
          ack_wait: nanos(shared.ackWait),
          max_deliver: shared.maxDeliver,
          replay_policy: ReplayPolicy.Instant,
          // a stream made anew is new to the consumer too: all of it
          ...(this.#streamRenewed ? { deliver_policy: DeliverPolicy.All } : this.#startConfig()),
        };
        if (shared.inactiveThreshold !== undefined) c.inactive_threshold = nanos(shared.inactiveThreshold);
        return c;
      };
      // several members creating it at once with the same settings all succeed
      info = await this.#create(jsm, config);
    }
    this.#consumer = info.name;
    const maxDeliver = info.config.max_deliver ?? -1;
    this.inForce = {
      ackWait: Math.max(1, Math.round(millis(info.config.ack_wait ?? nanos(shared.ackWait)))),
      maxDeliver: maxDeliver > 0 ? maxDeliver : Number.POSITIVE_INFINITY,
    };
  }

  /** Creates the consumer; when the stream is gone (memory storage and a server restart), makes it again first. */
  async #create(jsm: JetStreamManager, config: () => Partial<ConsumerConfig>): Promise<ConsumerInfo> {
    try {
      return await jsm.consumers.add(this.#plan.stream, config());
    } catch (err) {
      if (!isApiError(err, API.streamNotFound)) throw err;
    }
    await this.#host.ensureStream();
    this.#streamRenewed = true;
    this.#host.streamRenewed?.();
    if (this.#cursorKnown) this.#cursor = 0;
    return jsm.consumers.add(this.#plan.stream, config());
  }

  /** Recreates (ordered) or re-binds (shared) the consumer, retrying until it works or the consumer stops. */
  #reset(why: string): void {
    if (this.#stopped || this.#resetting !== undefined) return;
    this.#pull = undefined;
    this.#host.logger.debug({ subject: this.#plan.subject, why }, "resetting consumer");
    this.#resetting = (async () => {
      while (!this.#stopped) {
        // resets without a delivery in between wait longer each time, so a server
        // that keeps refusing is not asked in a tight loop
        if (this.#resetTries > 0) {
          await new Promise<void>((done) => {
            const timer = setTimeout(done, Math.min(RESET_MAX_MS, RESET_MIN_MS * 2 ** this.#resetTries));
            this.#resetWait = { timer, done };
          });
          this.#resetWait = undefined;
          if (this.#stopped) return;
        }
        this.#resetTries++;
        try {
          await this.#open();
          return;
        } catch (err) {
          if (this.#stopped) return;
          this.#host.logger.warn({ subject: this.#plan.subject, why, err }, "consumer reset failed; retrying");
        }
      }
    })().finally(() => {
      this.#resetting = undefined;
      this.#lastHeard = performance.now();
      this.poke();
    });
  }

  #checkSilence(): void {
    if (this.#pull === undefined || this.#resetting !== undefined || this.#host.nc.isClosed()) return;
    if (performance.now() - this.#lastHeard > SILENCE_MS) this.#reset("no heartbeat from the server");
  }

  #onMsg(err: Error | null, msg: Msg): void {
    if (this.#stopped) return;
    if (err) {
      this.#host.logger.error({ subject: this.#plan.subject, err }, "consumer subscription failed");
      this.#reset("subscription failed");
      return;
    }
    this.#lastHeard = performance.now();
    if (msg.reply) this.#onDelivery(msg, msg.reply);
    else this.#onStatus(msg);
  }

  #onDelivery(msg: Msg, reply: string): void {
    this.#count(msg);
    const ack = parseAckSubject(reply);
    if (ack === undefined) {
      this.malformed++;
      this.#host.logger.warn({ subject: msg.subject, reply }, "delivery without a JetStream ack subject dropped");
      return;
    }
    if (this.#plan.shared === undefined) {
      if (ack.consumer !== this.#consumer) return; // from a consumer replaced since
      if (ack.dseq !== this.#dseq + 1) {
        this.#reset(`delivery ${ack.dseq} after ${this.#dseq}: a gap`);
        return;
      }
      this.#dseq = ack.dseq;
      if (ack.seq <= this.#cursor && this.#cursorKnown) return; // handed on already
      this.#cursor = ack.seq;
      this.#cursorKnown = true;
    }
    this.#resetTries = 0;
    this.#deliver({ msg, seq: ack.seq, deliveries: ack.deliveries, timestamp: ack.timestamp });
    if (this.#pull === undefined) this.poke();
  }

  /**
   * Counts a delivery against the pull in flight, as the server counts it
   * (subject, reply, headers and payload). The server ends a pull silently
   * when its events are used up, or its bytes are too few for another event;
   * then the next pull may go out.
   */
  #count(msg: Msg): void {
    const pull = this.#pull;
    if (pull === undefined) return;
    const size = wireSize(msg);
    pull.got++;
    pull.bytes += size;
    // the next event needs at least this one's subject, reply and headers (a reply may be a few bytes shorter)
    const leastNext = size - msg.data.byteLength - REPLY_SLACK;
    if (pull.got >= pull.batch || pull.maxBytes - pull.bytes < leastNext) this.#pull = undefined;
  }

  #onStatus(msg: Msg): void {
    const h = msg.headers;
    const code = h?.code ?? 0;
    if (code === 100) {
      // idle heartbeat: for an ordered consumer it also says what was last delivered
      const last = Number(h?.get(HEADER.lastConsumerSeq) ?? 0);
      if (this.#plan.shared === undefined && last > this.#dseq) {
        this.#reset(`heartbeat says ${last} delivered, ${this.#dseq} arrived`);
      }
      return;
    }
    const pull = this.#pull;
    if (pull === undefined || msg.subject !== `${this.#inbox}.${pull.id}`) return; // an earlier pull
    this.#pull = undefined;
    const description = h?.description ?? "";
    if (code === 409 && /consumer deleted/i.test(description)) {
      this.#reset("the consumer was deleted");
      return;
    }
    if (code === 409 && /exceeds maxbytes/i.test(description) && pull.got === 0) this.#big = true;
    if (code === 503 || code === 400) {
      this.#reset(`pull answered ${code} ${description}`);
      return;
    }
    // 408 (expired), 409 (bytes or batch used up, leader changed, ...): pull again
    this.poke();
  }
}
