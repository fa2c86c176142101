export { findNatsServer } from "./binary.js";
export type { NatsServer, StartNatsOptions } from "./nats-server.js";
export { startNats } from "./start-nats.js";
