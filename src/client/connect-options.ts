import type { ConnectionOptions } from "@nats-io/nats-core";
import type { ConnectOptions, Logger, TelemetryOptions } from "../api/index.js";
import { DEFAULTS, validateNamespace, validateOptions, validateSignal, validateTimeout } from "../config/index.js";
import { InvalidArgumentError } from "../errors/index.js";
import { defaultLogger, guardedLogger } from "../logging/index.js";
import { type ResolvedTopics, resolveTopics } from "../topics/index.js";
import { type ResolvedTunnels, resolveTunnels } from "../tunnel/index.js";

/** The inbox prefix of a namespace's connections: `_INBOX_<namespace>`. */
export function namespaceInbox(namespace: string): string {
  return `_INBOX_${namespace}`;
}

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
    // replies come under the namespace, so one permission prefix covers a tenant's inboxes
    inboxPrefix: namespaceInbox(settings.namespace),
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
    inboxPrefix: nats.inboxPrefix,
    signal: validateSignal(o.signal),
    connectTimeout: validateTimeout("options.connectTimeout", o.connectTimeout, DEFAULTS.connectTimeout),
    credsFile: o.credsFile,
    nats,
  };
}
