import type { TopicsOptions } from "../api/index.js";
import { validateOptions } from "../config/index.js";
import { InvalidArgumentError } from "../errors/index.js";
import type { StreamSettings } from "../jetstream/index.js";

/** The topics stream's settings, validated. */
export type ResolvedTopics = StreamSettings<keyof TopicsOptions>;

const KEYS = ["stream", "storage", "replicas", "maxAge", "maxBytes", "discard", "duplicateWindow"] as const;

export const TOPICS_DEFAULTS = {
  storage: "file",
  replicas: 1,
  maxAge: 24 * 60 * 60 * 1000,
  maxBytes: 1024 * 1024 * 1024,
  discard: "old",
  duplicateWindow: 2 * 60 * 1000,
} as const;

const STREAM_NAME = /^[A-Za-z0-9_-]{1,128}$/;

function integer(what: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(`options.topics.${what} must be an integer from ${min} to ${max}, got ${value}`);
  }
  return value;
}

function oneOf<T extends string>(what: string, value: unknown, allowed: readonly T[]): T {
  if (!allowed.includes(value as T)) {
    throw new InvalidArgumentError(`options.topics.${what} must be ${allowed.map((a) => `"${a}"`).join(" or ")}`);
  }
  return value as T;
}

/** Validates `connect({ topics })`, filling in defaults. */
export function resolveTopics(namespace: string, value: unknown): ResolvedTopics {
  const o = validateOptions<TopicsOptions>("options.topics", value, KEYS);
  const given = new Set(KEYS.filter((k) => o[k] !== undefined));
  const stream = o.stream ?? `JETMESH_TOPICS_${namespace.replaceAll(".", "_")}`;
  if (typeof stream !== "string" || !STREAM_NAME.test(stream)) {
    throw new InvalidArgumentError("options.topics.stream must be 1-128 characters of [A-Za-z0-9_-]");
  }
  const maxAge = o.maxAge === undefined ? TOPICS_DEFAULTS.maxAge : integer("maxAge", o.maxAge, 0);
  const duplicateWindow =
    o.duplicateWindow === undefined
      ? Math.min(TOPICS_DEFAULTS.duplicateWindow, maxAge || Number.POSITIVE_INFINITY)
      : integer("duplicateWindow", o.duplicateWindow, 1);
  if (maxAge !== 0 && duplicateWindow > maxAge) {
    throw new InvalidArgumentError("options.topics.duplicateWindow must not exceed options.topics.maxAge");
  }
  return {
    stream,
    storage: o.storage === undefined ? TOPICS_DEFAULTS.storage : oneOf("storage", o.storage, ["file", "memory"]),
    replicas: o.replicas === undefined ? TOPICS_DEFAULTS.replicas : integer("replicas", o.replicas, 1, 5),
    maxAge,
    maxBytes: o.maxBytes === undefined ? TOPICS_DEFAULTS.maxBytes : integer("maxBytes", o.maxBytes, 0),
    discard: o.discard === undefined ? TOPICS_DEFAULTS.discard : oneOf("discard", o.discard, ["old", "new"]),
    duplicateWindow,
    given,
  };
}
