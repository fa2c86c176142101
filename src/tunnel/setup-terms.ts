/**
 * The set-up messages of a tunnel, read from the wire: the opener's request
 * (its id, window, heartbeat, largest message, outage bound and max payload)
 * and the member's answer (its window, largest message and max payload).
 * Anything out of range is refused (undefined), never thrown; fields a
 * peer of an earlier version leaves out take the reader's own values.
 * `halfClose: true` says the end reads END frames (`tun.end()`); an earlier
 * version leaves it out (and ignores it), so an END frame never reaches it.
 */
import { MAX_HEARTBEAT, MAX_OUTAGE, MIN_OUTAGE, MIN_WINDOW } from "./settings.js";

const ID = /^[0-9a-f]{32}$/;
/** Frames carry sizes in 48 bits. */
const MAX_SIZE = 2 ** 48 - 1;
/** The smallest max payload a server may have and still carry a tunnel frame. */
const MIN_PAYLOAD = 1024;
/** The largest max payload a NATS server allows (64 MiB), with room. */
const MAX_PAYLOAD = 2 ** 30;

export interface SetUpRequest {
  id: string;
  window: number;
  heartbeat: number;
  maxMessage: number;
  outageTimeout: number;
  maxPayload: number;
  /** The opener reads END frames; left out by an earlier version. */
  halfClose?: boolean;
}

export interface SetUpAnswer {
  window: number;
  maxMessage: number;
  maxPayload: number;
  /** The member reads END frames; left out by an earlier version. */
  halfClose?: boolean;
}

const count = (n: unknown, min: number, max: number): n is number =>
  typeof n === "number" && Number.isSafeInteger(n) && n >= min && n <= max;

/** `halfClose` as read: set only when it is `true` (anything else, or nothing, is an end without it). */
const halfCloseOf = (v: Record<string, unknown>): { halfClose?: true } =>
  v.halfClose === true ? { halfClose: true } : {};

function parse(data: Uint8Array): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(new TextDecoder().decode(data));
    return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The opener's request, or undefined when it is not one; `own` fills in what an earlier version leaves out. */
export function readSetUpRequest(
  data: Uint8Array,
  own: { outageTimeout: number; maxPayload: number },
): SetUpRequest | undefined {
  const v = parse(data);
  if (v === undefined) return undefined;
  const { id, window, heartbeat, maxMessage } = v;
  const outageTimeout = v.outageTimeout ?? own.outageTimeout;
  const maxPayload = v.maxPayload ?? own.maxPayload;
  if (typeof id !== "string" || !ID.test(id)) return undefined;
  if (!count(window, MIN_WINDOW, MAX_SIZE) || !count(heartbeat, 10, MAX_HEARTBEAT)) return undefined;
  if (!count(maxMessage, 1, MAX_SIZE) || !count(outageTimeout, MIN_OUTAGE, MAX_OUTAGE)) return undefined;
  if (!count(maxPayload, MIN_PAYLOAD, MAX_PAYLOAD)) return undefined;
  return { id, window, heartbeat, maxMessage, outageTimeout, maxPayload, ...halfCloseOf(v) };
}

/** The member's answer, or undefined when it is not one. */
export function readSetUpAnswer(data: Uint8Array, own: { maxPayload: number }): SetUpAnswer | undefined {
  const v = parse(data);
  if (v === undefined) return undefined;
  const { window, maxMessage } = v;
  const maxPayload = v.maxPayload ?? own.maxPayload;
  if (!count(window, MIN_WINDOW, MAX_SIZE) || !count(maxMessage, 1, MAX_SIZE)) return undefined;
  if (!count(maxPayload, MIN_PAYLOAD, MAX_PAYLOAD)) return undefined;
  return { window, maxMessage, maxPayload, ...halfCloseOf(v) };
}

export function encodeTerms(terms: SetUpRequest | SetUpAnswer): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(terms));
}
