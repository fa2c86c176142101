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
