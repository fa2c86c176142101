import type { Authenticator, ConnectionOptions, TlsOptions } from "@nats-io/nats-core";
import {
  DEFAULTS,
  defaultLogger,
  guardedLogger,
  InvalidArgumentError,
  type Logger,
  type TelemetryOptions,
  validateNamespace,
  validateOptions,
  validateSignal,
  validateTimeout,
} from "../internal/index.js";
import { type ResolvedTopics, resolveTopics, type TopicsOptions } from "../topics/index.js";
import { type ResolvedTunnels, resolveTunnels, type TunnelsOptions } from "../tunnel/index.js";

/**
 * Options of {@link connect}. Every field is optional.
 *
 * @example
 * ```ts
 * const conn = await connect({ servers: ["nats://a:4222", "nats://b:4222"], namespace: "shop", timeout: 2000 });
 * ```
 */
export interface ConnectOptions {
  /** Server URL(s). Default `nats://127.0.0.1:4222`. */
  servers?: string | string[];
  /** Connection name shown by the server (monitoring, `nats server report`). */
  name?: string;
  /** Subject namespace, so applications can share a NATS deployment. Default `jetmesh`. */
  namespace?: string;
  /** Default time-out of request (and of later tunnel set-up, publish and send), in ms. Default 10 000. */
  timeout?: number;
  /** How long connect() keeps trying to reach a server before a `ConnectionError`, in ms. Default 5 000. */
  connectTimeout?: number;
  /** How long `unregister()`/`close()` wait for running handlers, in ms. Default 5 000. */
  drainTimeout?: number;
  /** Reconnect attempts per server after a disconnect; -1 (the default) reconnects forever. */
  maxReconnectAttempts?: number;
  /** Wait between reconnect attempts to one server, in ms (NATS client default 2 000). */
  reconnectTimeWait?: number;
  /** User name (with `pass`). */
  user?: string;
  /** Password (with `user`). */
  pass?: string;
  /** Authentication token. */
  token?: string;
  /** Path of a NATS `.creds` file (JWT + nkey seed). */
  credsFile?: string;
  /** Any NATS client authenticator(s) (nkeys, JWT, ...). */
  authenticator?: Authenticator | Authenticator[];
  /** TLS options passed to the NATS client. */
  tls?: TlsOptions | null;
  /**
   * A pino-compatible logger (`debug`/`info`/`warn`/`error`, each taking a
   * context object and a message). Default: quiet, unless the `JETMESH_LOG`
   * environment variable names a level, then the console at that level.
   */
  logger?: Logger;
  /** Where traces and metrics go. Default: the global OpenTelemetry providers (see {@link TelemetryOptions}). */
  telemetry?: TelemetryOptions;
  /** Settings of the JetStream stream that stores this namespace's topics (see {@link TopicsOptions}). */
  topics?: TopicsOptions;
  /** Settings of tunnels: their stream, window, largest message and heartbeat (see {@link TunnelsOptions}). */
  tunnels?: TunnelsOptions;
  /** Any other NATS client connection option, passed through as is. */
  nats?: Partial<ConnectionOptions>;
  /** Aborts connect() while it is still trying; it rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** Options of a Connection built over an existing NATS connection. */
export type ConnectionSettings = Pick<
  ConnectOptions,
  "namespace" | "timeout" | "drainTimeout" | "logger" | "telemetry" | "topics" | "tunnels"
>;

export interface ResolvedSettings {
  /** The NATS client's inbox prefix, where one is set (reply subjects must match permissions). */
  inboxPrefix?: string | undefined;
  namespace: string;
  timeout: number;
  drainTimeout: number;
  logger: Logger;
  telemetry: TelemetryOptions;
  topics: ResolvedTopics;
  tunnels: ResolvedTunnels;
}

const CONNECT_KEYS = [
  "servers",
  "name",
  "namespace",
  "timeout",
  "connectTimeout",
  "drainTimeout",
  "maxReconnectAttempts",
  "reconnectTimeWait",
  "user",
  "pass",
  "token",
  "credsFile",
  "authenticator",
  "tls",
  "logger",
  "telemetry",
  "topics",
  "tunnels",
  "nats",
  "signal",
] as const;

const SETTINGS_KEYS = ["namespace", "timeout", "drainTimeout", "logger", "telemetry", "topics", "tunnels"] as const;
const TELEMETRY_KEYS = ["tracerProvider", "meterProvider"] as const;

export function resolveSettings(value: unknown, known: readonly string[] = SETTINGS_KEYS): ResolvedSettings {
  const o = validateOptions<ConnectOptions>("options", value, known);
  const logger = o.logger ?? defaultLogger();
  for (const m of ["debug", "info", "warn", "error"] as const) {
    if (typeof logger[m] !== "function") throw new InvalidArgumentError(`options.logger.${m} must be a function`);
  }
  const telemetry = validateOptions<TelemetryOptions>("options.telemetry", o.telemetry, TELEMETRY_KEYS);
  if (telemetry.tracerProvider !== undefined && typeof telemetry.tracerProvider.getTracer !== "function") {
    throw new InvalidArgumentError("options.telemetry.tracerProvider must be an OpenTelemetry TracerProvider");
  }
  if (telemetry.meterProvider !== undefined && typeof telemetry.meterProvider.getMeter !== "function") {
    throw new InvalidArgumentError("options.telemetry.meterProvider must be an OpenTelemetry MeterProvider");
  }
  const namespace = o.namespace === undefined ? DEFAULTS.namespace : validateNamespace(o.namespace);
  return {
    namespace,
    topics: resolveTopics(namespace, o.topics),
    tunnels: resolveTunnels(namespace, o.tunnels),
    timeout: validateTimeout("options.timeout", o.timeout, DEFAULTS.timeout),
    drainTimeout: validateTimeout("options.drainTimeout", o.drainTimeout, DEFAULTS.drainTimeout),
    logger: guardedLogger(logger),
    telemetry,
  };
}

export interface ResolvedConnectOptions extends ResolvedSettings {
  connectTimeout: number;
  signal: AbortSignal | undefined;
  credsFile: string | undefined;
  nats: ConnectionOptions;
}

/** Validates connect()'s argument (a URL or options) once, filling in defaults. */
export function resolveConnectOptions(value: unknown): ResolvedConnectOptions {
  const given: unknown = typeof value === "string" ? { servers: value } : value;
  const o = validateOptions<ConnectOptions>("options", given, CONNECT_KEYS);
  const settings = resolveSettings(given, CONNECT_KEYS);
  const servers = o.servers ?? "nats://127.0.0.1:4222";
  const list = Array.isArray(servers) ? servers : [servers];
  if (list.length === 0 || list.some((s) => typeof s !== "string" || s.trim() === "")) {
    throw new InvalidArgumentError(`options.servers must be a non-empty URL or list of URLs, got ${String(servers)}`);
  }
  const maxReconnectAttempts = o.maxReconnectAttempts ?? DEFAULTS.maxReconnectAttempts;
  if (!Number.isInteger(maxReconnectAttempts) || maxReconnectAttempts < -1) {
    throw new InvalidArgumentError(
      `options.maxReconnectAttempts must be an integer >= -1 (-1: forever), got ${maxReconnectAttempts}`,
    );
  }
  if (o.credsFile !== undefined && typeof o.credsFile !== "string") {
    throw new InvalidArgumentError("options.credsFile must be a file path");
  }
  const nats: ConnectionOptions = {
    // jetmesh never needs the client's per-call async stack capture; it costs on every request
    noAsyncTraces: true,
    ...o.nats,
    servers: list,
    maxReconnectAttempts,
  };
  if (o.name !== undefined) nats.name = o.name;
  if (o.reconnectTimeWait !== undefined) {
    nats.reconnectTimeWait = validateTimeout("options.reconnectTimeWait", o.reconnectTimeWait, 0);
  }
  if (o.user !== undefined) nats.user = o.user;
  if (o.pass !== undefined) nats.pass = o.pass;
  if (o.token !== undefined) nats.token = o.token;
  if (o.authenticator !== undefined) nats.authenticator = o.authenticator;
  if (o.tls !== undefined) nats.tls = o.tls;
  if (o.nats !== undefined && (typeof o.nats !== "object" || o.nats === null)) {
    throw new InvalidArgumentError("options.nats must be an object of NATS client options");
  }
  return {
    ...settings,
    inboxPrefix: o.nats?.inboxPrefix,
    signal: validateSignal(o.signal),
    connectTimeout: validateTimeout("options.connectTimeout", o.connectTimeout, DEFAULTS.connectTimeout),
    credsFile: o.credsFile,
    nats,
  };
}
