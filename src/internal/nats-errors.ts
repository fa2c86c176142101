/**
 * Maps errors from the NATS client to the jetmesh family, keeping the original
 * as `cause`. Nothing raw from the client reaches the user.
 */
import { errors, type PermissionViolationError } from "@nats-io/nats-core";
import {
  ClosedError,
  ConfigurationError,
  ConnectionError,
  JetmeshError,
  NoRespondersError,
  PayloadTooLargeError,
  TimeoutError,
} from "./errors.js";

export function fromNatsError(err: unknown, what: string): JetmeshError {
  if (err instanceof JetmeshError) return err;
  const cause = err;
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof errors.ClosedConnectionError || err instanceof errors.DrainingConnectionError) {
    return new ClosedError(`${what}: the connection is closed`, { cause });
  }
  if (err instanceof errors.TimeoutError) return new TimeoutError(`${what}: timed out`, { cause });
  if (err instanceof errors.NoRespondersError) return new NoRespondersError(`${what}: no responders`, { cause });
  if (err instanceof errors.RequestError && err.isNoResponders()) {
    return new NoRespondersError(`${what}: no responders`, { cause });
  }
  if (/max.?payload/i.test(message)) return new PayloadTooLargeError(`${what}: ${message}`, { cause });
  const denied = permissionViolation(err);
  if (denied) {
    return new ConfigurationError(
      `${what}: permission denied: ${denied.operation} to "${denied.subject}" is not allowed for this user`,
      { cause },
    );
  }
  if (err instanceof errors.AuthorizationError || err instanceof errors.UserAuthenticationExpiredError) {
    return new ConnectionError(`${what}: authentication failed (${message})`, { cause, retryable: false });
  }
  return new ConnectionError(`${what}: ${message}`, { cause });
}

/** The permission violation behind `err` (itself, or the cause of a request that failed with it). */
function permissionViolation(err: unknown): PermissionViolationError | undefined {
  if (err instanceof errors.PermissionViolationError) return err;
  const cause = err instanceof Error ? err.cause : undefined;
  return cause instanceof errors.PermissionViolationError ? cause : undefined;
}
