/** The public interfaces and option types (types only). */
export type {
  GatherOptions,
  GatherReply,
  IncomingCall,
  IncomingKind,
  Interceptor,
  OutgoingCall,
  OutgoingKind,
  RetryOptions,
} from "./calls.js";
export type {
  Connection,
  ConnectionSettings,
  ConnectionStatus,
  ConnectOptions,
  DiscoverOptions,
  Member,
  MemberStats,
  RequestOptions,
} from "./connection.js";
export type {
  CodecName,
  ContractHandler,
  ContractHandlerOf,
  ContractSpec,
  MethodCall,
  MethodCallOptions,
  MethodClients,
  MethodHandlers,
  MethodSpec,
  MethodTypes,
  NoMethods,
  ServiceClient,
  ServiceClientOf,
  ServiceContract,
  TopicClient,
  TopicContract,
  TopicContractSpec,
  TypedEventHandler,
  TypedTopicHandler,
} from "./contract.js";
export type { Logger } from "./logger.js";
export type { PermissionsOptions, UserPermissions } from "./permissions.js";
export type {
  FromJsonSchema,
  Infer,
  InferInput,
  JsonSchema,
  Schema,
  StandardResult,
  StandardSchemaV1,
  TypedSchema,
} from "./schema.js";
export type {
  BroadcastContext,
  MethodStats,
  MicroEndpoint,
  MicroEndpointStats,
  RequestContext,
  RequestHandler,
  Service,
  ServiceHandler,
  ServiceInfo,
  ServiceLimits,
  ServiceOptions,
  ServiceStats,
} from "./service.js";
export type { TelemetryOptions } from "./telemetry.js";
export type {
  EventContext,
  EventHandler,
  PublishAck,
  PublishOptions,
  SubscribeOptions,
  Subscription,
  SubscriptionStats,
  TopicHandler,
  TopicLimits,
  TopicsOptions,
} from "./topics.js";
export type { RecvOptions, SendOptions, Tunnel, TunnelOptions, TunnelsOptions } from "./tunnel.js";
