import type { Status } from "@nats-io/nats-core";
import type { ConnectionStatus } from "../api/index.js";
import { fromNatsError } from "../errors/index.js";

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
