/**
 * How much the next pull asks for: the bytes the subscriber's queue can still
 * hold, and for a shared consumer few enough events that a member does not
 * hoard what its group could be handling.
 */
import type { Msg } from "@nats-io/nats-core";
import type { ConsumerLimits, Room } from "./consumer-plan.js";

/**
 * Most events one pull asks for. Ordered: many (the bytes asked for bound
 * memory). Shared: events held (running, queued or asked for) stay within
 * twice the handlers, so that a member does not hoard events its group could
 * be handling, nor hold them unacknowledged for long.
 */
const ORDERED_BATCH = 16_384;
const SHARED_HELD_PER_THREAD = 2;

/** How many bytes shorter the next delivery's reply subject may be (its pending count has fewer digits). */
const REPLY_SLACK = 8;

/** One pull: at most `batch` events and `maxBytes` bytes. */
export interface PullSize {
  batch: number;
  maxBytes: number;
}

/** What the consumer knows when it sizes its next pull. */
export interface PullState {
  /** A shared consumer (acked, load-shared), else an ordered one. */
  shared: boolean;
  /** The next event is larger than the room: it is taken alone, once it can start at once. */
  big: boolean;
}

/** The next pull, or undefined when none should go out yet. */
export function nextPull(room: Room, limits: ConsumerLimits, state: PullState): PullSize | undefined {
  const { memory, threads } = limits;
  if (state.big) {
    if (room.queued > 0 || room.running >= threads) return undefined;
    return { batch: 1, maxBytes: Math.max(memory, limits.maxEvent) };
  }
  const maxBytes = memory - room.queuedBytes;
  // wait for half the room, so that a nearly full queue does not pull one event at a time
  if (room.queued > 0 && maxBytes < memory / 2) return undefined;
  if (!state.shared) return { batch: ORDERED_BATCH, maxBytes };
  const batch = SHARED_HELD_PER_THREAD * threads - room.queued - room.running;
  if (batch < 1 || (room.queued > 0 && batch < threads)) return undefined;
  return { batch, maxBytes };
}

/** A delivery's size as the server counts it against a pull's bytes: subject, reply, headers and payload. */
export function wireSize(msg: Msg): number {
  const sized = msg as Msg & { size?: () => number };
  if (typeof sized.size === "function") return sized.size();
  return msg.subject.length + (msg.reply?.length ?? 0) + msg.data.byteLength;
}

/**
 * Whether a pull that got `got` events of `bytes` is used up after a delivery
 * of `size` bytes carrying `data` payload bytes: the server ends a pull
 * silently when its events are used up, or its bytes are too few for another
 * event (which needs at least this one's subject, reply and headers).
 */
export function pullUsedUp(pull: PullSize & { got: number; bytes: number }, size: number, data: number): boolean {
  const leastNext = size - data - REPLY_SLACK;
  return pull.got >= pull.batch || pull.maxBytes - pull.bytes < leastNext;
}
