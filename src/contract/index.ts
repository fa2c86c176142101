export { byteHandler, clientOf, contract, type DecodedRequest, isContract, topicContract } from "./contract.js";
export { schema } from "./schema.js";
