export { connect } from "./connect.js";
export type { Connection, RequestOptions } from "./connection.js";
export type { DiscoverOptions, Member, MemberStats } from "./discover.js";
export { fromNats } from "./from-nats.js";
export type { ConnectionSettings, ConnectOptions } from "./options.js";
export { register } from "./register.js";
export type { ConnectionStatus } from "./status.js";
