/**
 * jetmesh: the messaging patterns of the Iris cloud messaging framework
 * (request/reply and broadcast to clusters, with in-process limits) on NATS.
 *
 * @packageDocumentation
 */
export {
  type Connection,
  type ConnectionSettings,
  type ConnectionStatus,
  type ConnectOptions,
  connect,
  fromNats,
  type RequestOptions,
  register,
} from "./client/index.js";
export {
  ClosedError,
  ConnectionError,
  consoleLogger,
  type ErrorCode,
  InvalidArgumentError,
  JetmeshError,
  type Logger,
  NoRespondersError,
  OverloadedError,
  PayloadTooLargeError,
  RemoteError,
  silentLogger,
  TimeoutError,
} from "./internal/index.js";
export {
  type BroadcastContext,
  DEFAULT_SERVICE_LIMITS,
  type RequestContext,
  type Service,
  type ServiceHandler,
  type ServiceLimits,
  type ServiceStats,
} from "./service/index.js";
