export { fastAck, PUBLISH_HEADER_BYTES, type PublishAck, Publisher } from "./acked-publisher.js";
export { BoundedQueue } from "./bounded-queue.js";
export { settlesWithin, withDeadline } from "./bounded-wait.js";
export { copyBytes } from "./copy-bytes.js";
export { Correlator, type Pending } from "./correlator.js";
export { Deadlines } from "./deadlines.js";
export { DEFAULTS } from "./defaults.js";
export {
  ClosedError,
  ConfigurationError,
  ConnectionError,
  ContractViolation,
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
} from "./errors.js";
export { FrozenHeaders } from "./frozen-headers.js";
export { ERROR_KIND, HEADER, NO_RESPONDERS_STATUS } from "./headers.js";
export { consoleLogger, defaultLogger, guardedLogger, type Logger, silentLogger } from "./logger.js";
export {
  API,
  fromJetStreamError,
  incompatibilities,
  isApiError,
  ManagedStream,
  type StreamSettings,
  streamConfig,
} from "./managed-stream.js";
export { maxDelivery, maxPayload, payloadLimit } from "./max-payload.js";
export { fromNatsError } from "./nats-errors.js";
export {
  type ConsumerHost,
  type ConsumerPlan,
  type Delivery,
  PullConsumer,
  parseAckSubject,
  type Room,
  type SharedInForce,
  type StartAt,
} from "./pull-consumer.js";
export { watchReconnects } from "./reconnects.js";
export { codeOf, type ErrorKind, errorHeaders, errorOfReply } from "./reply-errors.js";
export { safeCallback } from "./safe-callback.js";
export { type Subjects, subjects } from "./subjects.js";
export {
  ATTR,
  endSpan,
  errorType,
  fitsWith,
  type Observer,
  runInSpan,
  SpanKind,
  Telemetry,
  type TelemetryOptions,
  withSpan,
} from "./telemetry.js";
export { ThrottledWarning } from "./throttled-log.js";
export { parseTimeoutHeader } from "./timeout-header.js";
export {
  validateHandler,
  validateLimits,
  validateName,
  validateNamespace,
  validateOptions,
  validatePayload,
  validateSignal,
  validateTimeout,
} from "./validate.js";
export { VERSION } from "./version.js";
