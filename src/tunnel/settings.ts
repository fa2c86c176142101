import { InvalidArgumentError, type StreamSettings, validateOptions } from "../internal/index.js";

/**
 * Settings of tunnels, given as `connect({ tunnels: {...} })`: the stream
 * that carries their messages, and each tunnel's window, largest message and
 * heartbeat.
 *
 * @example
 * ```ts
 * const conn = await connect({ servers: url, tunnels: { window: 16 * 1024 * 1024 } });
 * ```
 */
export interface TunnelsOptions {
  /** Stream name. Default `JETMESH_TUNNELS_<namespace>` (dots become `_`). */
  stream?: string;
  /** `"memory"` (default) or `"file"`. */
  storage?: "file" | "memory";
  /** Copies kept in a JetStream cluster (1-5). Default 1. */
  replicas?: number;
  /**
   * Most bytes the stream holds for all tunnels together. Each direction of a
   * busy tunnel holds up to 1.5 windows; when the stream is full, sends fail and
   * the tunnel ends. Default 512 MiB (about 40 tunnels sending at full speed at
   * once with the default window).
   */
  maxBytes?: number;
  /** How long a message left behind (its reader gone) is kept, in ms. Default 1 h. */
  maxAge?: number;
  /** Bytes a sender may have on the way to a reader that has not read them. Default 8 MiB. */
  window?: number;
  /** Largest message; larger ones are `PayloadTooLargeError`. Default 64 MiB. */
  maxMessage?: number;
  /** How often each end tells the other it is alive, in ms (the opener's value holds for both ends). Default 1 000. */
  heartbeat?: number;
  /**
   * How long a tunnel rides out an outage, in ms (the opener's value holds
   * for both ends): an end whose own connection is down keeps the tunnel this
   * long, and the other end waits as long (plus 5 heartbeats) before it takes
   * the silence as the end's loss. Messages sent meanwhile are delivered, in
   * order, once both ends are back. Default 30 000; at least 1 000.
   */
  outageTimeout?: number;
}

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
