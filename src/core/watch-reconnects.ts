import type { NatsConnection, QueuedIterator, Status } from "@nats-io/nats-core";
import type { Logger } from "../api/index.js";

/** Calls `onReconnect` each time the connection comes back, until the returned stop() or the connection closes. */
export function watchReconnects(nc: NatsConnection, logger: Logger, onReconnect: () => void): () => void {
  const status = nc.status() as QueuedIterator<Status>;
  (async () => {
    for await (const s of status) if (s.type === "reconnect") onReconnect();
  })().catch((err: unknown) => logger.debug({ err }, "status watch ended"));
  return () => status.stop();
}
