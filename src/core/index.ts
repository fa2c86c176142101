export { Correlator, type Pending } from "./correlator.js";
export { type ReplyDecoder, Requester } from "./requester.js";
export type { Runtime } from "./runtime.js";
export { observedRequest, tracedBroadcast } from "./traced-calls.js";
export { watchReconnects } from "./watch-reconnects.js";
