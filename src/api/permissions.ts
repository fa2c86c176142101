/** Options of `permissions(namespace, options)`. */
export interface PermissionsOptions {
  /**
   * `member` (default): serves clusters (requests, broadcasts, tunnels,
   * discovery) and does all a client does. `client`: calls, broadcasts,
   * publishes, subscribes, opens tunnels and discovers, but cannot take a
   * cluster's requests.
   */
  role?: "member" | "client";
  /** The topics stream's name, when `topics.stream` is set. Default `JETMESH_TOPICS_<ns>`. */
  topicsStream?: string;
  /** The tunnels stream's name, when `tunnels.stream` is set. Default `JETMESH_TUNNELS_<ns>`. */
  tunnelsStream?: string;
  /**
   * Also `$SRV.>`, the NATS micro protocol's subjects: a member then shows in
   * `nats micro ls`, a client can `discover({ foreign: true })`. They cannot be
   * scoped to a namespace, so tenants who have them see each other's cluster
   * names. Default false: jetmesh's discovery uses `<ns>.srv.*`.
   */
  micro?: boolean;
  /** The connection's inbox prefix, when `nats.inboxPrefix` is set. Default `_INBOX_<ns>`. */
  inboxPrefix?: string;
}

/** A NATS user's `permissions` block: subjects it may publish and subscribe to. */
export interface UserPermissions {
  publish: { allow: string[] };
  subscribe: { allow: string[] };
  /** May publish to the reply subject of each message it received (once): a member answering other clients. */
  allow_responses?: boolean;
}
