/**
 * Maps errors from the NATS client to the jetmesh family, keeping the original
 * as `cause`. Nothing raw from the client reaches the user.
 */
import { errors } from "@nats-io/nats-core";
import {
  ClosedError,
  ConnectionError,
  JetmeshError,
  NoRespondersError,
  PayloadTooLargeError,
  PermissionError,
  TimeoutError,
} from "./errors.js";

export function fromNatsError(err: unknown, what: string): JetmeshError {
  if (err instanceof JetmeshError) return err;
  const cause = err;
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof errors.ClosedConnectionError || err instanceof errors.DrainingConnectionError) {
    return new ClosedError(`${what}: the connection is closed`, { cause });
  }
  const denied = permissionViolation(err);
  if (denied) {
    const op = denied.operation === "subscription" ? "subscribe to" : "publish to";
    return new PermissionError(
      `${what}: the server does not permit this user to ${op} "${denied.subject}"`,
      denied.subject,
      {
        cause,
      },
    );
  }
  if (err instanceof errors.TimeoutError) return new TimeoutError(`${what}: timed out`, { cause });
  if (err instanceof errors.NoRespondersError) return new NoRespondersError(`${what}: no responders`, { cause });
  if (err instanceof errors.RequestError && err.isNoResponders()) {
    return new NoRespondersError(`${what}: no responders`, { cause });
  }
  if (/max.?payload/i.test(message)) return new PayloadTooLargeError(`${what}: ${message}`, { cause });
  if (err instanceof errors.AuthorizationError || err instanceof errors.UserAuthenticationExpiredError) {
    return new ConnectionError(`${what}: authentication failed (${message})`, { cause, retryable: false });
  }
  return new ConnectionError(`${what}: ${message}`, { cause });
}

/** The first of `err` and its causes (a few deep) that `matches`, if any. */
export function findCause<T extends Error>(err: unknown, matches: (e: Error) => e is T): T | undefined;
export function findCause(err: unknown, matches: (e: Error) => boolean): Error | undefined;
export function findCause(err: unknown, matches: (e: Error) => boolean): Error | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (matches(e)) return e;
  }
  return undefined;
}

/** The permission violation `err` is or was caused by, if any. */
function permissionViolation(err: unknown): InstanceType<typeof errors.PermissionViolationError> | undefined {
  return findCause(
    err,
    (e): e is InstanceType<typeof errors.PermissionViolationError> => e instanceof errors.PermissionViolationError,
  );
}

/**
 * `err` as a `PermissionError` (for `what`) when the server refused a
 * permission it needed, whatever wraps it (a JetStream call's error, say);
 * undefined otherwise.
 */
export function permissionRefusal(err: unknown, what: string): PermissionError | undefined {
  if (err instanceof PermissionError) return err;
  return permissionViolation(err) ? (fromNatsError(err, what) as PermissionError) : undefined;
}
