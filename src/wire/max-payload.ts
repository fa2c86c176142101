import type { NatsConnection } from "@nats-io/nats-core";

const known = new WeakMap<NatsConnection, number>();

/**
 * The server's max payload. `nc.info` is undefined while the client
 * reconnects, so the last value seen is kept and used then.
 */
export function maxPayload(nc: NatsConnection): number | undefined {
  const current = nc.info?.max_payload;
  if (current !== undefined) {
    known.set(nc, current);
    return current;
  }
  return known.get(nc);
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
