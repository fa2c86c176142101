/**
 * The least NATS permissions one namespace needs, for a user of the NATS
 * server's `authorization` block (or of an account): everything jetmesh
 * publishes and subscribes to, for a member or for a client, and nothing of
 * another namespace. `jetmesh permissions` prints it as configuration.
 */
import type { PermissionsOptions, UserPermissions } from "../api/index.js";
import { validateNamespace, validateOptions } from "../config/index.js";
import { InvalidArgumentError } from "../errors/index.js";
import { resolveTopics } from "../topics/index.js";
import { resolveTunnels } from "../tunnel/index.js";
import { pullSubject, subjects } from "../wire/index.js";
import { namespaceInbox } from "./connect-options.js";

const KEYS = ["role", "topicsStream", "tunnelsStream", "micro", "inboxPrefix"] as const;

/** What one JetStream stream needs: its check and create, its consumers, their pulls and acks; `extra` API verbs. */
function streamSubjects(stream: string, extra: string[] = []): string[] {
  return [
    `$JS.API.STREAM.INFO.${stream}`,
    `$JS.API.STREAM.CREATE.${stream}`,
    ...extra.map((verb) => `$JS.API.STREAM.${verb}.${stream}`),
    `$JS.API.CONSUMER.CREATE.${stream}.>`,
    `$JS.API.CONSUMER.INFO.${stream}.*`,
    `$JS.API.CONSUMER.DELETE.${stream}.*`,
    pullSubject(stream, "*"),
    `$JS.ACK.${stream}.>`,
    // the longer ack subjects newer servers may send: $JS.ACK.<domain>.<account hash>.<stream>...
    `$JS.ACK.*.*.${stream}.>`,
  ];
}

/**
 * The permissions a connection of `namespace` needs, as a NATS user's
 * `permissions` block. A `member` serves clusters (requests, broadcasts,
 * tunnels, discovery); a `client` only calls them, publishes, subscribes and
 * opens tunnels. Neither may read another namespace's subjects or streams.
 *
 * @example
 * ```ts
 * const perms = permissions("shop", { role: "client" });
 * // { publish: { allow: ["shop.>", "$JS.API.INFO", ...] }, subscribe: { allow: ["_INBOX_shop.>", ...] } }
 * ```
 */
export function permissions(namespace: string, options?: PermissionsOptions): UserPermissions {
  validateNamespace(namespace);
  const o = validateOptions<PermissionsOptions>("options", options, KEYS);
  const role = o.role ?? "member";
  if (role !== "member" && role !== "client") {
    throw new InvalidArgumentError(`options.role must be "member" or "client", got ${String(role)}`);
  }
  if (o.micro !== undefined && typeof o.micro !== "boolean") {
    throw new InvalidArgumentError(`options.micro must be a boolean, got ${String(o.micro)}`);
  }
  if (o.inboxPrefix !== undefined && (typeof o.inboxPrefix !== "string" || !/^[^\s*>]+$/.test(o.inboxPrefix))) {
    throw new InvalidArgumentError("options.inboxPrefix must be a subject prefix without wildcards");
  }
  const topics = resolveTopics(namespace, o.topicsStream === undefined ? {} : { stream: o.topicsStream });
  const tunnels = resolveTunnels(namespace, o.tunnelsStream === undefined ? {} : { stream: o.tunnelsStream });
  const s = subjects(namespace);
  const inbox = `${o.inboxPrefix ?? namespaceInbox(namespace)}.>`;
  const publish = [
    `${namespace}.>`,
    // replies to the namespace's own callers
    ...(role === "member" ? [inbox] : []),
    "$JS.API.INFO",
    ...streamSubjects(topics.stream),
    // a tunnel's end drops what was read, and checks whether the other end's last message was its close
    ...streamSubjects(tunnels.stream.stream, ["PURGE", "MSG.GET"]),
  ];
  const subscribe =
    role === "member"
      ? [`${namespace}.>`, inbox]
      : // a tunnel's opener takes its control messages on its own subject
        [inbox, s.tunnelControl("*", "o")];
  if (o.micro) {
    // NATS micro tools (`nats micro ls`): a member answers $SRV, a client asks it (discover({ foreign: true }))
    if (role === "member") subscribe.push("$SRV.>");
    else publish.push("$SRV.>");
  }
  return {
    publish: { allow: publish },
    subscribe: { allow: subscribe },
    // a member answers requests whose reply subjects are other clients' inboxes (the nats CLI, micro clients)
    ...(role === "member" ? { allow_responses: true } : {}),
  };
}

/** `perms` as a NATS server configuration block (`permissions: { ... }`). */
export function permissionsConfig(perms: UserPermissions): string {
  const list = (subjects: string[]) => `[\n${subjects.map((x) => `      ${JSON.stringify(x)}`).join("\n")}\n    ]`;
  return [
    "permissions: {",
    `  publish: {\n    allow: ${list(perms.publish.allow)}\n  }`,
    `  subscribe: {\n    allow: ${list(perms.subscribe.allow)}\n  }`,
    ...(perms.allow_responses ? ["  allow_responses: true"] : []),
    "}",
  ].join("\n");
}
