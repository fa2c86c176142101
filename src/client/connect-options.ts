import type { ConnectionOptions } from "@nats-io/nats-core";
import type { ConnectOptions, Interceptor, Logger, TelemetryOptions } from "../api/index.js";
import {
  DEFAULTS,
  showValue,
  validateNamespace,
  validateOptions,
  validateSignal,
  validateTimeout,
} from "../config/index.js";
import { validateInterceptors } from "../core/index.js";
import { InvalidArgumentError } from "../errors/index.js";
import { type ResolvedRetry, resolveRetry } from "../flow/index.js";
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
  interceptors: Interceptor[];
  /** Requests' default retries; undefined: one attempt. */
  retry: ResolvedRetry | undefined;
}

const SETTINGS_KEYS = [
  "namespace",
  "timeout",
  "drainTimeout",
  "logger",
  "telemetry",
  "topics",
  "tunnels",
  "interceptors",
  "retry",
] as const;

const CONNECT_KEYS = [
  ...SETTINGS_KEYS,
  "servers",
  "name",
  "connectTimeout",
  "maxReconnectAttempts",
  "reconnectTimeWait",
  "user",
  "pass",
  "token",
  "credsFile",
  "authenticator",
  "tls",
  "nats",
  "signal",
] as const;

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
    interceptors: validateInterceptors("options.interceptors", o.interceptors),
    retry: o.retry === undefined ? undefined : resolveRetry("options.retry", o.retry),
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
    throw new InvalidArgumentError(
      `options.servers must be a non-empty URL or list of URLs, got ${showValue(servers)}`,
    );
  }
  for (const url of list) checkServerUrl(url);
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

/**
 * The schemes of a server URL the NATS client's Node transport dials. It
 * reads only the host and port (TLS comes from `options.tls`, or from a
 * server that asks for it), so anything else would be dialed as if it were
 * nats://, and a typo such as `nats:/host` as a host named "nats".
 */
const SCHEMES: ReadonlySet<string> = new Set(["nats", "tls"]);

const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//;

/** A server URL for messages, without the credentials it may carry. */
function withoutCredentials(url: string): string {
  return url.replace(/^((?:[A-Za-z][A-Za-z0-9+.-]*:\/\/)?)[^@/]*@/, "$1");
}

/**
 * Checks one server URL before anything touches the network: `nats://` or
 * `tls://` (or none: `host`, `host:port`), a host, and a port from 1 to
 * 65535 if one is given. Throws an `InvalidArgumentError` naming the URL
 * (credentials left out) and what is wrong with it.
 */
export function checkServerUrl(raw: string): void {
  const url = raw.trim();
  const bad = (why: string) =>
    new InvalidArgumentError(`options.servers: ${JSON.stringify(withoutCredentials(url))} is not a server URL: ${why}`);
  if (url.includes(",")) throw bad("give several servers as a list of URLs, one URL each");
  let rest = url;
  const scheme = SCHEME.exec(url);
  if (scheme) {
    const name = (scheme[1] as string).toLowerCase();
    if (name === "ws" || name === "wss") {
      throw bad(
        `connect() dials NATS over TCP and does not speak WebSocket (${name}://); ` +
          "use nats://host:4222, or make a WebSocket connection with @nats-io/nats-core's wsconnect() and pass it to fromNats()",
      );
    }
    if (!SCHEMES.has(name)) throw bad(`the scheme must be nats:// or tls://, not ${name}://`);
    rest = url.slice(scheme[0].length);
  } else if (url.includes("/")) {
    throw bad("write it nats://host:port (a scheme is followed by two slashes), or host:port");
  }
  if (rest.endsWith("/")) rest = rest.slice(0, -1);
  if (/[/?#]/.test(rest)) throw bad("a server URL has no path, query or fragment: nats://host:port");
  const hostPort = rest.slice(rest.lastIndexOf("@") + 1);
  let host: string;
  let port: string | undefined;
  if (hostPort.startsWith("[")) {
    const close = hostPort.indexOf("]");
    if (close < 0) throw bad("an IPv6 address in brackets lacks its closing ]");
    host = hostPort.slice(0, close + 1);
    const after = hostPort.slice(close + 1);
    if (after !== "" && !after.startsWith(":")) throw bad("after an IPv6 address in brackets comes :port");
    if (after !== "") port = after.slice(1);
  } else if (hostPort.split(":").length > 2 && /^[0-9A-Fa-f:.]+$/.test(hostPort)) {
    // a bare IPv6 address (the client brackets it itself); it has no port
    host = `[${hostPort}]`;
  } else {
    const parts = hostPort.split(":");
    if (parts.length > 2) throw bad("write it nats://host:port (a scheme is followed by two slashes), or host:port");
    host = parts[0] as string;
    port = parts[1];
  }
  if (host === "") throw bad("it names no host");
  if (!URL.canParse(`http://${host}`)) throw bad(`${JSON.stringify(host)} is not a host name or IP address`);
  if (port !== undefined) {
    const n = /^[0-9]{1,5}$/.test(port) ? Number(port) : Number.NaN;
    if (!(n >= 1 && n <= 65535)) throw bad(`the port must be 1 to 65535, got ${JSON.stringify(port)}`);
  }
}
