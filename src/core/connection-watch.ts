import type { NatsConnection, QueuedIterator, Status } from "@nats-io/nats-core";
import type { Logger } from "../api/index.js";

/** What a watcher is told of the connection. */
export interface ConnectionEvents {
  /** The connection was lost (reconnecting begins). */
  down?(): void;
  /** The connection is back. */
  up(): void;
}

/**
 * Tells `on.down` each time the connection is lost and `on.up` each time it
 * is back, until the returned stop() or the connection closes. What they
 * throw is logged, never thrown into the status loop.
 */
export function watchConnection(nc: NatsConnection, logger: Logger, on: ConnectionEvents): () => void {
  const status = nc.status() as QueuedIterator<Status>;
  (async () => {
    for await (const s of status) {
      try {
        if (s.type === "disconnect") on.down?.();
        else if (s.type === "reconnect") on.up();
      } catch (err) {
        logger.warn({ err }, "a connection status change could not be handled");
      }
    }
  })().catch((err: unknown) => logger.debug({ err }, "status watch ended"));
  return () => status.stop();
}
