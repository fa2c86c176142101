import type { NatsConnection, QueuedIterator, Status } from "@nats-io/nats-core";
import type { Logger } from "../api/index.js";

/**
 * Tells `down` each time the connection is lost and `up` each time it is
 * back, until the returned stop() or the connection closes. Never throws
 * into the status loop.
 */
export function watchConnection(nc: NatsConnection, logger: Logger, on: { down(): void; up(): void }): () => void {
  const status = nc.status() as QueuedIterator<Status>;
  (async () => {
    for await (const s of status) {
      try {
        if (s.type === "disconnect") on.down();
        else if (s.type === "reconnect") on.up();
      } catch (err) {
        logger.warn({ err }, "tunnels: a connection status change could not be handled");
      }
    }
  })().catch(() => {});
  return () => status.stop();
}
