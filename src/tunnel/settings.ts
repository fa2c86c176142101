import type { TunnelsOptions } from "../api/index.js";
import { validateOptions } from "../config/index.js";
import { InvalidArgumentError } from "../errors/index.js";
import type { StreamSettings } from "../jetstream/index.js";

export interface ResolvedTunnels {
  stream: StreamSettings<keyof TunnelsOptions>;
  window: number;
  maxMessage: number;
  heartbeat: number;
  outageTimeout: number;
}

const KEYS = [
  "stream",
  "storage",
  "replicas",
  "maxBytes",
  "maxAge",
  "window",
  "maxMessage",
  "heartbeat",
  "outageTimeout",
] as const;
const STREAM_NAME = /^[A-Za-z0-9_-]{1,128}$/;

export const TUNNELS_DEFAULTS = {
  storage: "memory",
  replicas: 1,
  maxBytes: 512 * 1024 * 1024,
  maxAge: 60 * 60 * 1000,
  window: 8 * 1024 * 1024,
  maxMessage: 64 * 1024 * 1024,
  heartbeat: 1_000,
  outageTimeout: 30_000,
} as const;

/** The smallest window: a chunk must fit in it. */
export const MIN_WINDOW = 1024 * 1024;
/** The longest heartbeat, in ms. */
export const MAX_HEARTBEAT = 60_000;
/** The shortest and longest outage bound, in ms. */
export const MIN_OUTAGE = 1_000;
export const MAX_OUTAGE = 24 * 60 * 60 * 1000;

function integer(what: string, value: unknown, min: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min) {
    throw new InvalidArgumentError(`options.tunnels.${what} must be an integer >= ${min}, got ${String(value)}`);
  }
  return value;
}

/** Validates `connect({ tunnels })`, filling in defaults. */
export function resolveTunnels(namespace: string, value: unknown): ResolvedTunnels {
  const o = validateOptions<TunnelsOptions>("options.tunnels", value, KEYS);
  const stream = o.stream ?? `JETMESH_TUNNELS_${namespace.replaceAll(".", "_")}`;
  if (typeof stream !== "string" || !STREAM_NAME.test(stream)) {
    throw new InvalidArgumentError("options.tunnels.stream must be 1-128 characters of [A-Za-z0-9_-]");
  }
  if (o.storage !== undefined && o.storage !== "file" && o.storage !== "memory") {
    throw new InvalidArgumentError('options.tunnels.storage must be "file" or "memory"');
  }
  const replicas = integer("replicas", o.replicas, 1, TUNNELS_DEFAULTS.replicas);
  if (replicas > 5) throw new InvalidArgumentError("options.tunnels.replicas must be at most 5");
  const maxAge = integer("maxAge", o.maxAge, 1_000, TUNNELS_DEFAULTS.maxAge);
  const heartbeat = integer("heartbeat", o.heartbeat, 10, TUNNELS_DEFAULTS.heartbeat);
  if (heartbeat > MAX_HEARTBEAT) {
    throw new InvalidArgumentError(`options.tunnels.heartbeat must be at most ${MAX_HEARTBEAT} ms, got ${heartbeat}`);
  }
  const outageTimeout = integer("outageTimeout", o.outageTimeout, MIN_OUTAGE, TUNNELS_DEFAULTS.outageTimeout);
  if (outageTimeout > MAX_OUTAGE) {
    throw new InvalidArgumentError(
      `options.tunnels.outageTimeout must be at most ${MAX_OUTAGE} ms (a day), got ${outageTimeout}`,
    );
  }
  if (outageTimeout > maxAge) {
    // the stream drops what is older than maxAge: an outage longer than that could lose messages
    throw new InvalidArgumentError(
      `options.tunnels.outageTimeout (${outageTimeout} ms) must be at most options.tunnels.maxAge (${maxAge} ms)`,
    );
  }
  return {
    stream: {
      stream,
      storage: o.storage ?? TUNNELS_DEFAULTS.storage,
      replicas,
      maxAge,
      maxBytes: integer("maxBytes", o.maxBytes, MIN_WINDOW, TUNNELS_DEFAULTS.maxBytes),
      // a full stream refuses: a tunnel's messages are never dropped silently
      discard: "new",
      duplicateWindow: Math.min(2 * 60 * 1000, maxAge),
      given: new Set(KEYS.filter((k) => o[k] !== undefined)),
    },
    window: integer("window", o.window, MIN_WINDOW, TUNNELS_DEFAULTS.window),
    maxMessage: integer("maxMessage", o.maxMessage, 1, TUNNELS_DEFAULTS.maxMessage),
    heartbeat,
    outageTimeout,
  };
}
