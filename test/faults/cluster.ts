/** The 3-node JetStream cluster of the fault tests: jetmesh/testing's own. */
export {
  type ClusterNode,
  type NatsCluster,
  startNatsCluster as startCluster,
} from "../../src/testing/index.js";
