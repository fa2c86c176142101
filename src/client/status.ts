import type { Status } from "@nats-io/nats-core";
import { fromNatsError, type JetmeshError } from "../internal/index.js";

/**
 * A change in the connection's state, from {@link Connection.status}.
 * `disconnect`/`reconnecting`/`reconnect` follow the link to the server;
 * `error` is an asynchronous server error; `slowConsumer` means a
 * subscription fell behind; `ldm` means the server asked clients to move
 * (lame-duck mode); `update` lists servers added to or removed from the cluster.
 */
export type ConnectionStatus =
  | { type: "disconnect"; server: string }
  | { type: "reconnecting" }
  | { type: "reconnect"; server: string }
  | { type: "error"; error: JetmeshError }
  | { type: "slowConsumer"; subject: string; pending: number }
  | { type: "ldm"; server: string }
  | { type: "stale" }
  | { type: "update"; added: string[]; deleted: string[] };

export function toConnectionStatus(s: Status): ConnectionStatus | undefined {
  switch (s.type) {
    case "disconnect":
    case "reconnect":
    case "ldm":
      return { type: s.type, server: s.server };
    case "reconnecting":
      return { type: "reconnecting" };
    case "error":
      return { type: "error", error: fromNatsError(s.error, "server error") };
    case "slowConsumer":
      return { type: "slowConsumer", subject: s.sub.getSubject(), pending: s.pending };
    case "staleConnection":
      return { type: "stale" };
    case "update":
      return { type: "update", added: s.added ?? [], deleted: s.deleted ?? [] };
    default:
      return undefined;
  }
}
