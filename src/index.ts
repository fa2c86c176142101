/**
 * jetmesh: the messaging patterns of the Iris cloud messaging framework
 * (request/reply and broadcast to clusters, publish/subscribe on topics stored
 * in JetStream, tunnels to one member of a cluster, with in-process limits) on NATS.
 *
 * @packageDocumentation
 */
export type {
  BroadcastContext,
  CodecName,
  Connection,
  ConnectionSettings,
  ConnectionStatus,
  ConnectOptions,
  ContractHandler,
  ContractSpec,
  DiscoverOptions,
  EventContext,
  EventHandler,
  FromJsonSchema,
  Infer,
  JsonSchema,
  Logger,
  Member,
  MemberStats,
  MicroEndpoint,
  MicroEndpointStats,
  PermissionsOptions,
  PublishAck,
  PublishOptions,
  RecvOptions,
  RequestContext,
  RequestOptions,
  Schema,
  SendOptions,
  Service,
  ServiceClient,
  ServiceContract,
  ServiceHandler,
  ServiceInfo,
  ServiceLimits,
  ServiceOptions,
  ServiceStats,
  StandardSchemaV1,
  SubscribeOptions,
  Subscription,
  SubscriptionStats,
  TelemetryOptions,
  TopicClient,
  TopicContract,
  TopicContractSpec,
  TopicHandler,
  TopicLimits,
  TopicsOptions,
  Tunnel,
  TunnelOptions,
  TunnelsOptions,
  TypedEventHandler,
  TypedSchema,
  TypedTopicHandler,
  UserPermissions,
} from "./api/index.js";
export { connect, fromNats, permissions, register } from "./client/index.js";
export { contract, schema, topicContract } from "./contract/index.js";
export {
  ClosedError,
  ConfigurationError,
  ConnectionError,
  type ErrorCode,
  InvalidArgumentError,
  JetmeshError,
  MemberLeftError,
  NoRespondersError,
  OverloadedError,
  PayloadTooLargeError,
  PermissionError,
  RemoteError,
  TimeoutError,
} from "./errors/index.js";
export { consoleLogger, silentLogger } from "./logging/index.js";
export { DEFAULT_SERVICE_LIMITS } from "./service/index.js";
export { DEFAULT_TOPIC_LIMITS, TOPICS_DEFAULTS } from "./topics/index.js";
export { TUNNELS_DEFAULTS } from "./tunnel/index.js";
