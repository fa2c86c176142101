/**
 * `jetmesh/testing`: real NATS servers for your integration tests: one
 * server, or a JetStream cluster on loopback whose nodes can be killed.
 * @packageDocumentation
 */

export {
  type ClusterNode,
  findNatsServer,
  type NatsCluster,
  type NatsServer,
  type StartNatsClusterOptions,
  type StartNatsOptions,
  startNats,
  startNatsCluster,
} from "../devserver/index.js";
