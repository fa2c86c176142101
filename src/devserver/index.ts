/** Real NATS servers on loopback (binary or Docker), for jetmesh/testing and `jetmesh dev`. */
export { findNatsServer } from "./binary.js";
export { type ClusterNode, type NatsCluster, type StartNatsClusterOptions, startNatsCluster } from "./cluster.js";
export type { NatsServer, StartNatsOptions } from "./nats-server.js";
export { NatsServerStartError } from "./server-log.js";
export { startNats } from "./start-nats.js";
