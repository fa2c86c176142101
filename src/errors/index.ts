/** The error family: JetmeshError, its subclasses with stable codes, and the mapping of the NATS client's errors. */
export {
  CancelledError,
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
export { findCause, fromNatsError, permissionRefusal } from "./from-nats-error.js";
