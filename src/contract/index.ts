export { CODECS, type CodecName } from "./codec.js";
export {
  byteHandler,
  type ContractHandler,
  type ContractSpec,
  clientOf,
  contract,
  isContract,
  type ServiceClient,
  type ServiceContract,
  type TopicClient,
  type TopicContract,
  type TopicContractSpec,
  type TypedEventHandler,
  type TypedTopicHandler,
  topicContract,
} from "./contract.js";
export {
  type FromJsonSchema,
  type Infer,
  type JsonSchema,
  type Schema,
  type StandardSchemaV1,
  schema,
  type TypedSchema,
} from "./schema.js";
