/**
 * jetmesh: the messaging patterns of the Iris cloud messaging framework
 * (request/reply and broadcast to clusters, publish/subscribe on topics stored
 * in JetStream, tunnels to one member of a cluster, with in-process limits) on NATS.
 *
 * @packageDocumentation
 */
export {
  type Connection,
  type ConnectionSettings,
  type ConnectionStatus,
  type ConnectOptions,
  connect,
  type DiscoverOptions,
  fromNats,
  type Member,
  type MemberStats,
  type RequestOptions,
  register,
} from "./client/index.js";
export {
  type CodecName,
  type ContractHandler,
  type ContractSpec,
  contract,
  type FromJsonSchema,
  type Infer,
  type JsonSchema,
  type Schema,
  type ServiceClient,
  type ServiceContract,
  type StandardSchemaV1,
  schema,
  type TopicClient,
  type TopicContract,
  type TopicContractSpec,
  type TypedEventHandler,
  type TypedSchema,
  type TypedTopicHandler,
  topicContract,
} from "./contract/index.js";
export {
  ClosedError,
  ConfigurationError,
  ConnectionError,
  consoleLogger,
  type ErrorCode,
  InvalidArgumentError,
  JetmeshError,
  type Logger,
  MemberLeftError,
  NoRespondersError,
  OverloadedError,
  PayloadTooLargeError,
  PermissionError,
  RemoteError,
  silentLogger,
  type TelemetryOptions,
  TimeoutError,
} from "./internal/index.js";
export {
  type BroadcastContext,
  DEFAULT_SERVICE_LIMITS,
  type MicroEndpoint,
  type MicroEndpointStats,
  type RequestContext,
  type Service,
  type ServiceHandler,
  type ServiceInfo,
  type ServiceLimits,
  type ServiceOptions,
  type ServiceStats,
} from "./service/index.js";
export {
  DEFAULT_TOPIC_LIMITS,
  type EventContext,
  type EventHandler,
  type PublishAck,
  type PublishOptions,
  type SubscribeOptions,
  type Subscription,
  type SubscriptionStats,
  TOPICS_DEFAULTS,
  type TopicHandler,
  type TopicLimits,
  type TopicsOptions,
} from "./topics/index.js";
export {
  type RecvOptions,
  type SendOptions,
  TUNNELS_DEFAULTS,
  type Tunnel,
  type TunnelOptions,
  type TunnelsOptions,
} from "./tunnel/index.js";
