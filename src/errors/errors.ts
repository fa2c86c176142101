/**
 * The jetmesh error family. Every error jetmesh raises is a {@link JetmeshError}
 * with a stable string `code`; errors from the NATS client are mapped to one of
 * these and kept as `cause`.
 */

const BRAND = Symbol.for("jetmesh.error");

/** The stable codes carried by {@link JetmeshError.code}. */
export type ErrorCode =
  | "TIMEOUT"
  | "CLOSED"
  | "REMOTE"
  | "NO_RESPONDERS"
  | "OVERLOADED"
  | "INVALID_ARGUMENT"
  | "PAYLOAD_TOO_LARGE"
  | "CONNECTION"
  | "CONFIGURATION"
  | "MEMBER_LEFT"
  | "PERMISSION"
  | "CANCELLED";

/**
 * Base class of every error jetmesh raises.
 *
 * `instanceof JetmeshError` works across duplicate installs of the package.
 *
 * @example
 * ```ts
 * import { JetmeshError } from "jetmesh";
 * try { await conn.request("echo", bytes); }
 * catch (err) { if (err instanceof JetmeshError && err.retryable) { ... } }
 * ```
 */
export class JetmeshError extends Error {
  /** A stable, machine-readable code. */
  readonly code: ErrorCode;
  /** Whether the same operation may safely be tried again. */
  readonly retryable: boolean;
  /** How many attempts a request with `retry` made before failing with this error (unset: one). */
  attempts?: number;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; retryable?: boolean }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options?.retryable ?? false;
    this.name = new.target.name;
  }

  /** Brand check, so that errors from another copy of jetmesh still match. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the subclass on the right of instanceof
    return isInstance(this, value);
  }
}
Object.defineProperty(JetmeshError.prototype, BRAND, { value: true });

function isInstance(cls: abstract new (...args: never[]) => unknown, value: unknown): boolean {
  if (typeof value !== "object" || value === null) return false;
  if (Function.prototype[Symbol.hasInstance].call(cls, value)) return true;
  if ((value as Record<symbol, unknown>)[BRAND] !== true) return false;
  return cls === JetmeshError || (value as Error).name === cls.name;
}

type ErrorOptions = { cause?: unknown };

/** A request, tunnel set-up, send or recv ran past its time-out. */
export class TimeoutError extends JetmeshError {
  constructor(message: string, options?: ErrorOptions) {
    super("TIMEOUT", message, { ...options, retryable: true });
  }
}

/** The connection, service, subscription or tunnel was closed. */
export class ClosedError extends JetmeshError {
  constructor(message: string, options?: ErrorOptions) {
    super("CLOSED", message, options);
  }
}

/**
 * The remote handler failed. `message` is the remote message; `remoteCode` is
 * always set: the code the handler gave (an `Error` with a `code` property),
 * jetmesh's own for a reply it refused (`BAD_REQUEST`, `BAD_REPLY`,
 * `REPLY_TOO_LARGE`), else `"500"`.
 */
export class RemoteError extends JetmeshError {
  /**
   * The code sent by the remote side (`Jetmesh-Error-Code`, else
   * `Nats-Service-Error-Code`); `"500"` when it sent none.
   */
  readonly remoteCode: string;

  constructor(message: string, remoteCode?: string, options?: ErrorOptions) {
    super("REMOTE", message, options);
    this.remoteCode = remoteCode || "500";
  }
}

/** No member of the cluster exists: NATS answered at once that nobody listens. */
export class NoRespondersError extends JetmeshError {
  constructor(message: string, options?: ErrorOptions) {
    super("NO_RESPONDERS", message, { ...options, retryable: true });
  }
}

/** The chosen member's limits were full. Safe to retry. */
export class OverloadedError extends JetmeshError {
  constructor(message: string, options?: ErrorOptions) {
    super("OVERLOADED", message, { ...options, retryable: true });
  }
}

/**
 * The member that took a request left (unregistered, or its process is
 * stopping) before answering it. `retryable` is true when the request was
 * still queued and never reached a handler, so another member may take it;
 * false when its handler was already running (it may have had effects).
 */
export class MemberLeftError extends JetmeshError {
  constructor(message: string, options?: ErrorOptions & { retryable?: boolean }) {
    super("MEMBER_LEFT", message, { ...options, retryable: options?.retryable ?? true });
  }
}

/**
 * The caller of a request gave up on it (its signal aborted, or its
 * connection closed): the reason a handler's `ctx.signal` aborts with.
 */
export class CancelledError extends JetmeshError {
  constructor(message: string, options?: ErrorOptions) {
    super("CANCELLED", message, options);
  }
}

/**
 * The NATS server refused a publish or a subscription this connection's user
 * has no permission for. Not retryable: the server's permissions must change.
 * `subject` is the subject refused.
 */
export class PermissionError extends JetmeshError {
  readonly subject: string;
  constructor(message: string, subject: string, options?: ErrorOptions) {
    super("PERMISSION", message, options);
    this.subject = subject;
  }
}

/** A bad argument: name, time-out, payload, handler, limits or options. */
export class InvalidArgumentError extends JetmeshError {
  constructor(message: string, options?: ErrorOptions) {
    super("INVALID_ARGUMENT", message, options);
  }
}

/** A payload larger than the server's max payload (or the tunnel maximum). */
export class PayloadTooLargeError extends JetmeshError {
  constructor(message: string, options?: ErrorOptions) {
    super("PAYLOAD_TOO_LARGE", message, options);
  }
}

/**
 * No server could be reached within the connect time-out (retryable), or
 * authentication failed (not retryable).
 */
export class ConnectionError extends JetmeshError {
  constructor(message: string, options?: ErrorOptions & { retryable?: boolean }) {
    super("CONNECTION", message, { ...options, retryable: options?.retryable ?? true });
  }
}

/**
 * The NATS server is not set up the way the operation needs, and retrying will
 * not help until it is: JetStream disabled, an existing topics stream whose
 * settings differ from the ones asked for, or JetStream out of resources. The
 * message names the fix.
 */
export class ConfigurationError extends JetmeshError {
  constructor(message: string, options?: ErrorOptions) {
    super("CONFIGURATION", message, options);
  }
}

/**
 * Data from the wire that does not match its contract (see `contract()`).
 * Internal: the typed layer throws it from inside a handler, and the
 * dispatchers turn it into the answer the caller gets (a `RemoteError` with
 * this code), a count and a warning, without calling the user's handler.
 */
export class ContractViolation extends Error {
  constructor(
    /** `BAD_REQUEST`: a request or message that does not match; `BAD_REPLY`: a handler's reply that does not. */
    readonly code: "BAD_REQUEST" | "BAD_REPLY",
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "ContractViolation";
  }
}
