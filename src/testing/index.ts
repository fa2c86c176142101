/**
 * `jetmesh/testing`: real NATS servers for your integration tests.
 * @packageDocumentation
 */

export type { NatsServer, StartNatsOptions } from "../devserver/index.js";
export { findNatsServer, startNats } from "../devserver/index.js";
