import { type MsgHdrs, MsgHdrsImpl, type NatsConnection } from "@nats-io/nats-core";
import { PayloadTooLargeError } from "../errors/index.js";

const known = new WeakMap<NatsConnection, number>();

/**
 * The server's max payload. `nc.info` is undefined while the client
 * reconnects, so the last value seen is kept and used then.
 */
export function maxPayload(nc: NatsConnection): number | undefined {
  const current = nc.info?.max_payload;
  if (current === undefined) return known.get(nc);
  // written only when it changes: this runs on every request and reply, and a WeakMap write costs more than a read
  if (known.get(nc) !== current) known.set(nc, current);
  return current;
}

/** The NATS default max payload, assumed before the server has said. */
const DEFAULT_MAX_PAYLOAD = 1024 * 1024;
/** Room for a delivery's subject, reply subject and headers besides its payload, in bytes. */
const DELIVERY_OVERHEAD = 4_096;

/** The server's max payload, or the NATS default before the server has said. */
export function payloadLimit(nc: NatsConnection): number {
  return maxPayload(nc) ?? DEFAULT_MAX_PAYLOAD;
}

/** The largest delivery the server can send, as a pull's bytes count it: max payload plus subject, reply and headers. */
export function maxDelivery(nc: NatsConnection): number {
  return payloadLimit(nc) + DELIVERY_OVERHEAD;
}

/**
 * Refuses `payload` when, with `overhead` bytes of headers jetmesh adds and
 * the headers `h` (an interceptor's), it would not fit the server's max
 * payload. `what` names the call: `request to cluster "x"`.
 */
export function checkPayloadSize(
  nc: NatsConnection,
  what: string,
  payload: Uint8Array,
  overhead = 0,
  h?: MsgHdrs,
): void {
  const max = maxPayload(nc);
  if (max === undefined) return;
  let extra = overhead;
  // headers are encoded to be measured only when they could matter
  if (h instanceof MsgHdrsImpl && h.size() > 0 && payload.byteLength + overhead + headerBound(h) > max) {
    extra += h.encode().byteLength;
  }
  if (payload.byteLength + extra > max) {
    throw new PayloadTooLargeError(
      `${what}: payload is ${payload.byteLength} bytes, the server's max is ${max - extra}` +
        (extra ? ` (its max payload ${max} less ${extra} bytes of headers)` : ""),
    );
  }
}

/** At least the bytes `h` encodes to: every key and value as UTF-8 at its widest, with the framing. */
function headerBound(h: MsgHdrsImpl): number {
  let n = 16;
  for (const key of h.keys()) {
    for (const value of h.values(key)) n += 3 * (key.length + value.length) + 4;
  }
  return n;
}
