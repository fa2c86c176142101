import type { NatsConnection } from "@nats-io/nats-core";
import type { Connection, ConnectionSettings } from "../api/index.js";
import { ClosedError } from "../errors/index.js";
import { resolveSettings } from "./connect-options.js";
import { JetmeshConnection } from "./connection.js";

/**
 * Builds a jetmesh {@link Connection} over a NATS connection you already have
 * (any transport). Closing the jetmesh connection closes its services and
 * requests but leaves `nc` open: it stays yours. jetmesh's replies come under
 * `settings.inboxPrefix`, else the client's own `inboxPrefix` (connect() uses
 * `_INBOX_<namespace>`: give your client that to use `jetmesh permissions`).
 *
 * @example
 * ```ts
 * import { connect as natsConnect } from "@nats-io/transport-node";
 * const nc = await natsConnect({ servers: url });
 * const conn = fromNats(nc, { namespace: "shop" });
 * ```
 */
export function fromNats(nc: NatsConnection, settings?: ConnectionSettings & { inboxPrefix?: string }): Connection {
  const { inboxPrefix, ...rest } = settings ?? {};
  if (nc.isClosed()) throw new ClosedError("fromNats: the NATS connection is closed");
  // replies come where the client's own do (its permissions were granted for them)
  const own = (nc as { options?: { inboxPrefix?: unknown } }).options?.inboxPrefix;
  const prefix = inboxPrefix ?? (typeof own === "string" ? own : undefined);
  return new JetmeshConnection(nc, { ...resolveSettings(rest), inboxPrefix: prefix }, false);
}
