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
import { type ConsumerConfig, type ConsumerInfo, DeliverPolicy, type JetStreamManager } from "@nats-io/jetstream";
import { createInbox, type Msg, nanos, type Subscription } from "@nats-io/nats-core";
import type { Runtime } from "../core/index.js";
import { fromNatsError, type JetmeshError, PermissionError, permissionRefusal } from "../errors/index.js";
import { settlesWithin, withDeadline } from "../flow/index.js";
import { safeCallback } from "../logging/index.js";
import { HEADER, parseAckSubject, pullSubject } from "../wire/index.js";
import { API, isApiError } from "./api-errors.js";
import { orderedConfig, sharedConfig, startConfig } from "./consumer-config.js";
import type {
  ConsumerLimits,
  ConsumerPlan,
  Delivery,
  PullConsumerParts,
  Room,
  SharedInForce,
} from "./consumer-plan.js";
import type { ManagedStream } from "./managed-stream.js";
import { nextPull, pullUsedUp, wireSize } from "./pull-size.js";
import { bindShared } from "./shared-consumer.js";

/** Pull requests end after this long without a message (the server then says so, and we pull again). */
const EXPIRES_MS = 30_000;
/** The server sends a heartbeat on an open pull after this long without a message. */
const HEARTBEAT_MS = 1_000;
/**
 * An ordered consumer's pull is presumed lost after this long without a
 * message, status or heartbeat: the consumer (one replica) died with its
 * server, and nothing else says so.
 */
const SILENCE_MS = 2 * HEARTBEAT_MS + 1_000;
/**
 * A shared consumer's, after this long: when its leader dies, the leader its
 * replicas elect (4-9 s later, mostly within 7) answers the pulls it knows of
 * with 409 Leadership Change; re-binding sooner would wait for the election.
 */
const SHARED_SILENCE_MS = 8_000;
/** Waits between tries to (re)create a consumer, in ms. */
const RESET_MIN_MS = 100;
const RESET_MAX_MS = 2_000;

/**
 * How long each step of re-creating an ordered consumer (the stream check,
 * the create), or binding a shared one again, may take before it is tried
 * again (a create under a new name).
 * In a JetStream cluster an R1 consumer is placed on one of the stream's
 * peers, and one placed on a peer that is down never answers; while a
 * stream has no leader, nothing does (the API's own time-out is 5 s), in ms.
 */
const RECREATE_MS = 1_500;

const noAnswer = () => new Error(`no answer within ${RECREATE_MS} ms`);

export class PullConsumer {
  readonly #rt: Runtime;
  readonly #stream: ManagedStream;
  readonly #plan: ConsumerPlan;
  readonly #limits: ConsumerLimits;
  readonly #room: Room;
  readonly #deliver: (d: Delivery) => void;
  readonly #streamRenewedHook: (() => void) | undefined;
  readonly #refusedHook: ((err: JetmeshError) => void) | undefined;
  #unwatch: (() => void) | undefined;
  readonly #requestTail: string;

  #sub: Subscription | undefined;
  #inbox = "";
  #consumer: string | undefined;
  /** The pull in flight: its reply token, how many events and bytes it asked for and got (as the server counts them). */
  #pull: { id: string; batch: number; maxBytes: number; got: number; bytes: number; at: number } | undefined;
  #pullSeq = 0;
  /** The next event did not fit the last pull's bytes: pull it alone once the queue is empty. */
  #big = false;
  /** Ordered: the last stream sequence handed on (known), and the last delivery sequence of this consumer. */
  #cursor = 0;
  #cursorKnown = false;
  #dseq = 0;
  #lastHeard = performance.now();
  /** When the watchdog last looked. */
  #lastCheck = performance.now();
  #watchdog: ReturnType<typeof setInterval> | undefined;
  #resetting: Promise<void> | undefined;
  #resetTries = 0;
  #resetWait: { timer: ReturnType<typeof setTimeout>; done: () => void } | undefined;
  #started = false;
  /** A reconnect happened while starting: reset once started. */
  #staleAtStart = false;
  #stopped = false;
  /** start() has resolved: a refusal from now on ends the consumer and is told to its owner. */
  #live = false;
  /** What the server refused while starting: start() rejects with it. */
  #startRefusal: JetmeshError | undefined;
  /** The stream had to be made again: a shared consumer recreated with it reads all of it. */
  #streamRenewed = false;
  /** Deliveries that could not be read (counted for the subscription's stats). */
  malformed = 0;
  /** A shared consumer's settings in force (set once bound). */
  inForce: SharedInForce | undefined;

  constructor(parts: PullConsumerParts) {
    const { plan } = parts;
    this.#rt = parts.rt;
    this.#stream = parts.stream;
    this.#plan = plan;
    this.#limits = parts.limits;
    this.#room = parts.room;
    this.#deliver = parts.deliver;
    this.#streamRenewedHook = parts.streamRenewed;
    this.#refusedHook = parts.refused;
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
    // a pull or an ack the server refuses would otherwise go unnoticed: nothing comes, or comes again
    this.#unwatch = this.#rt.denials.watch(
      (subject) => this.#consumer !== undefined && isConsumerSubject(subject, this.#plan.stream, this.#consumer),
      (violation) => this.#refused(fromNatsError(violation, `read "${this.#plan.subject}"`)),
    );
    try {
      await this.#open();
      if (this.#startRefusal) throw this.#startRefusal;
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
    // a refused first pull is known once the server has answered what was sent before a ping
    // (and the connection's status stream, which tells of it, has been read)
    await this.#rt.nc.flush().catch(() => {});
    await new Promise((resolve) => setImmediate(resolve));
    if (this.#startRefusal) {
      await this.stop();
      throw this.#startRefusal;
    }
    this.#live = true;
  }

  /** The queue has more room (or a free handler): pull if a pull can go out. */
  poke(): void {
    if (this.#pull !== undefined || this.#stopped || this.#resetting !== undefined || this.#consumer === undefined) {
      return;
    }
    // an event larger than the room is taken alone, when it can start at once
    const size = nextPull(this.#room, this.#limits, { shared: this.#plan.shared !== undefined, big: this.#big });
    if (size === undefined) return;
    this.#big = false;
    const { batch, maxBytes } = size;
    const id = (this.#pullSeq++).toString(36);
    this.#pull = { id, batch, maxBytes, got: 0, bytes: 0, at: performance.now() };
    this.#lastHeard = performance.now();
    try {
      this.#rt.nc.publish(
        pullSubject(this.#plan.stream, this.#consumer),
        `{"batch":${batch},"max_bytes":${maxBytes}${this.#requestTail}`,
        { reply: `${this.#inbox}.${id}` },
      );
    } catch (err) {
      this.#pull = undefined;
      this.#rt.logger.warn({ subject: this.#plan.subject, err }, "pull request failed");
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
    this.#unwatch?.();
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
        this.#stream.manager().then((jsm) => jsm.consumers.delete(this.#plan.stream, name)),
        this.#rt.drainTimeout,
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
    this.#inbox = createInbox(this.#rt.inboxPrefix);
    this.#sub = this.#rt.nc.subscribe(`${this.#inbox}.*`, {
      callback: safeCallback(this.#rt.logger, "consumer delivery", (err, msg) => this.#onMsg(err, msg)),
    });
    const jsm = await this.#stream.manager();
    const shared = this.#plan.shared;
    if (shared) {
      const binding = bindShared({
        jsm,
        stream: this.#plan.stream,
        shared,
        logger: this.#rt.logger,
        rebinding: this.#started,
        create: (config) => this.#create(jsm, config),
        // a stream made anew is new to the consumer too: all of it
        config: () =>
          sharedConfig(
            this.#plan.subject,
            shared,
            this.#streamRenewed ? { deliver_policy: DeliverPolicy.All } : this.#startConfig(),
          ),
      });
      // bound again: while the consumer has no leader, nothing answers; try again sooner
      const bound = this.#started ? await withDeadline(binding, RECREATE_MS, undefined, noAnswer) : await binding;
      this.#consumer = bound.name;
      this.inForce = bound.inForce;
      return;
    }
    const old = this.#consumer;
    this.#consumer = undefined;
    if (old !== undefined) jsm.consumers.delete(this.#plan.stream, old).catch(() => {});
    if (this.#started && this.#cursorKnown) await this.#checkCursor(jsm);
    const creating = this.#create(jsm, () => orderedConfig(this.#plan.subject, this.#startConfig()));
    // made anew: in a cluster, a create placed on a peer that is down never answers; try again sooner
    const info = this.#started ? await withDeadline(creating, RECREATE_MS, undefined, noAnswer) : await creating;
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
      state = (await withDeadline(jsm.streams.info(this.#plan.stream), RECREATE_MS, undefined, noAnswer)).state;
    } catch (err) {
      if (!isApiError(err, API.streamNotFound)) throw err;
    }
    if (state !== undefined && state.last_seq >= this.#cursor) return;
    this.#rt.logger.warn(
      { subject: this.#plan.subject, cursor: this.#cursor, lastSeq: state?.last_seq },
      "the stream was made anew; reading it from its start",
    );
    this.#streamRenewedHook?.();
    this.#cursor = Math.max(0, (state?.first_seq ?? 1) - 1);
  }

  #startConfig(): Partial<ConsumerConfig> {
    return startConfig(this.#cursorKnown ? this.#cursor : undefined, this.#plan.start);
  }

  /** Creates the consumer; when the stream is gone (memory storage and a server restart), makes it again first. */
  async #create(jsm: JetStreamManager, config: () => Partial<ConsumerConfig>): Promise<ConsumerInfo> {
    try {
      return await jsm.consumers.add(this.#plan.stream, config());
    } catch (err) {
      if (!isApiError(err, API.streamNotFound)) throw err;
    }
    this.#stream.recheck();
    await this.#stream.ensure();
    this.#streamRenewed = true;
    this.#streamRenewedHook?.();
    if (this.#cursorKnown) this.#cursor = 0;
    return jsm.consumers.add(this.#plan.stream, config());
  }

  /** Recreates (ordered) or re-binds (shared) the consumer, retrying until it works or the consumer stops. */
  #reset(why: string): void {
    if (this.#stopped || this.#resetting !== undefined) return;
    this.#pull = undefined;
    this.#rt.logger.debug({ subject: this.#plan.subject, why }, "resetting consumer");
    this.#resetting = (async () => {
      let tried: number | undefined;
      while (!this.#stopped) {
        // resets without a delivery in between wait longer each time, so a server
        // that keeps refusing is not asked in a tight loop (a try that waited for an answer has waited)
        if (this.#resetTries > 0) {
          const wait =
            Math.min(RESET_MAX_MS, RESET_MIN_MS * 2 ** this.#resetTries) -
            (tried === undefined ? 0 : performance.now() - tried);
          await new Promise<void>((done) => {
            const timer = setTimeout(done, Math.max(0, wait));
            this.#resetWait = { timer, done };
          });
          this.#resetWait = undefined;
          if (this.#stopped) return;
        }
        tried = performance.now();
        this.#resetTries++;
        try {
          await this.#open();
          return;
        } catch (err) {
          if (this.#stopped) return;
          const refusal = permissionRefusal(err, `read "${this.#plan.subject}"`);
          if (refusal) {
            this.#refused(refusal);
            return;
          }
          this.#rt.logger.warn({ subject: this.#plan.subject, why, err }, "consumer reset failed; retrying");
        }
      }
    })().finally(() => {
      this.#resetting = undefined;
      this.#lastHeard = performance.now();
      this.poke();
    });
  }

  /** The server refuses what the consumer needs: it stops for good, and its owner is told (or start() rejects). */
  #refused(err: JetmeshError): void {
    if (this.#stopped) return;
    if (!this.#live) {
      this.#startRefusal ??= err;
      return;
    }
    this.#rt.logger.error({ subject: this.#plan.subject, err }, "consumer stopped: the server refuses it a permission");
    void this.stop();
    this.#refusedHook?.(err);
  }

  #checkSilence(): void {
    const now = performance.now();
    // a late tick: the event loop was busy, and what arrived meanwhile may not have been read yet
    const late = now - this.#lastCheck > 1.5 * HEARTBEAT_MS;
    this.#lastCheck = now;
    if (late || this.#pull === undefined || this.#resetting !== undefined || this.#rt.nc.isClosed()) return;
    const silence = this.#plan.shared === undefined ? SILENCE_MS : SHARED_SILENCE_MS;
    if (now - this.#lastHeard > silence) this.#reset("no heartbeat from the server");
  }

  #onMsg(err: Error | null, msg: Msg): void {
    if (this.#stopped) return;
    if (err) {
      const why = fromNatsError(err, `read "${this.#plan.subject}"`);
      if (why instanceof PermissionError) {
        this.#refused(why);
        return;
      }
      this.#rt.logger.error({ subject: this.#plan.subject, err }, "consumer subscription failed");
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
      this.#rt.logger.warn({ subject: msg.subject, reply }, "delivery without a JetStream ack subject dropped");
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
    if (pullUsedUp(pull, size, msg.data.byteLength)) this.#pull = undefined;
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
    if (pull === undefined || msg.subject !== `${this.#inbox}.${pull.id}`) {
      // an earlier pull; but a consumer's new leader answers only the pulls it knew of, which may
      // miss the one out since before the election: that one is pulled again
      const stale = pull !== undefined && pull.got === 0 && performance.now() - pull.at > HEARTBEAT_MS;
      if (stale && code === 409 && /leadership change/i.test(h?.description ?? "")) {
        this.#pull = undefined;
        this.poke();
      }
      return;
    }
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

/** Whether `subject` is a pull or an ack of `consumer` of `stream` (acks in the short or the longer, v2 form). */
function isConsumerSubject(subject: string, stream: string, consumer: string): boolean {
  if (subject === pullSubject(stream, consumer)) return true;
  if (!subject.startsWith("$JS.ACK.")) return false;
  const t = subject.split(".");
  return (t[2] === stream && t[3] === consumer) || (t[4] === stream && t[5] === consumer);
}
