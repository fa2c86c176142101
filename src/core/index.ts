/** The runtime every part of a connection shares, request correlation, traced calls, and connection watching. */
export { watchConnection } from "./connection-watch.js";
export { Correlator, type Pending } from "./correlator.js";
export { Denials } from "./denials.js";
export {
  headersOf,
  incomingCall,
  intercepted,
  type OutgoingChain,
  outgoingCall,
  outgoingChain,
  validateInterceptors,
} from "./interceptors.js";
export { type ReplyDecoder, Requester } from "./requester.js";
export type { Runtime } from "./runtime.js";
export { type OutgoingRequest, observedRequest, tracedBroadcast } from "./traced-calls.js";
export type { Wiring } from "./wiring.js";
export { protocolOf, WriteCoalescer } from "./write-coalescing.js";
