export { findNatsServer } from "./binary.js";
export { startNats } from "./start-nats.js";
export type { NatsServer, StartNatsOptions } from "./types.js";
