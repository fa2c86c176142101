/** Typed contracts over an injected request function. */
export { contract, isContract, topicContract } from "./contract.js";
export { schema } from "./schema.js";
export { clientOf, type DecodedRequest } from "./typed-client.js";
export { byteHandler } from "./typed-handler.js";
