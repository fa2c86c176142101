/** The configuration of a stream jetmesh manages, and how an existing one differs from it. */
import { DiscardPolicy, RetentionPolicy, StorageType, type StreamConfig } from "@nats-io/jetstream";
import { type NatsConnection, nanos } from "@nats-io/nats-core";
import semver from "semver";

/** A stream jetmesh manages (topics, tunnels): its settings, validated, and which of them the user gave. */
export interface StreamSettings<K extends string = string> {
  stream: string;
  storage: "file" | "memory";
  replicas: number;
  maxAge: number;
  maxBytes: number;
  discard: "old" | "new";
  duplicateWindow: number;
  /** The settings the user gave, checked against an existing stream. */
  given: ReadonlySet<K>;
}

/**
 * The stream configuration these settings ask for; `metadata` tags the
 * stream as jetmesh's (nats-server 2.10 and later keep it; leave it out for
 * older ones).
 */
export function streamConfig(
  t: StreamSettings,
  subject: string,
  metadata?: Record<string, string>,
): Partial<StreamConfig> & { name: string } {
  return {
    name: t.stream,
    subjects: [subject],
    retention: RetentionPolicy.Limits,
    storage: t.storage === "file" ? StorageType.File : StorageType.Memory,
    num_replicas: t.replicas,
    max_age: nanos(t.maxAge),
    max_bytes: t.maxBytes === 0 ? -1 : t.maxBytes,
    discard: t.discard === "old" ? DiscardPolicy.Old : DiscardPolicy.New,
    duplicate_window: nanos(t.duplicateWindow),
    ...(metadata === undefined ? {} : { metadata }),
  };
}

/** Whether the server `nc` is connected to keeps stream metadata (nats-server 2.10 and later). */
export function keepsMetadata(nc: NatsConnection): boolean {
  const version = semver.coerce(nc.info?.version ?? "");
  return version !== null && semver.gte(version, "2.10.0");
}

/**
 * Why an existing stream cannot serve these settings: each difference in
 * words, empty when it can. Each names the option as the user gives it
 * (`topics.maxAge`) and both values in its units (ms, bytes), not the
 * server's (nanoseconds, -1 for unlimited).
 */
export function incompatibilities(t: StreamSettings, subject: string, existing: StreamConfig, kind: string): string[] {
  const out: string[] = [];
  if (!existing.subjects?.includes(subject)) {
    out.push(`its subjects are ${JSON.stringify(existing.subjects ?? [])}, not including "${subject}"`);
  }
  if (existing.retention !== RetentionPolicy.Limits) {
    out.push(`its retention is "${existing.retention}", jetmesh needs "limits"`);
  }
  // compared as the server keeps them; shown as the user gives them (ms, bytes), naming the
  // option as the user writes it and the stream's field as `nats stream info` shows it
  const wanted = streamConfig(t, subject);
  const shown: Record<string, (v: unknown) => string> = {
    max_age: (v) => duration(Number(v) / 1e6, "forever"),
    duplicate_window: (v) => duration(Number(v) / 1e6, "none"),
    max_bytes: (v) => bytes(Number(v)),
  };
  const compare: Array<[string, keyof StreamConfig]> = [
    ["storage", "storage"],
    ["replicas", "num_replicas"],
    ["maxAge", "max_age"],
    ["maxBytes", "max_bytes"],
    ["discard", "discard"],
    ["duplicateWindow", "duplicate_window"],
  ];
  for (const [option, field] of compare) {
    if (!t.given.has(option)) continue;
    const have = existing[field];
    const want = wanted[field];
    if (have === want) continue;
    const show = shown[field] ?? ((v: unknown) => JSON.stringify(v));
    out.push(`${kind}.${option} asks for ${show(want)}, the stream's ${field} is ${show(have)}`);
  }
  return out;
}

const UNITS: ReadonlyArray<readonly [number, string]> = [
  [86_400_000, "d"],
  [3_600_000, "h"],
  [60_000, "min"],
  [1_000, "s"],
];

/** A duration in ms as the user writes it, with the largest whole unit beside it: `3600000 ms (1 h)`. */
function duration(ms: number, zero: string): string {
  if (!Number.isFinite(ms) || ms <= 0) return `0 (${zero})`;
  const whole = Number.isInteger(ms) ? ms : Number(ms.toFixed(3));
  const unit = UNITS.find(([size]) => whole % size === 0);
  return unit ? `${whole} ms (${whole / unit[0]} ${unit[1]})` : `${whole} ms`;
}

const SIZES: ReadonlyArray<readonly [number, string]> = [
  [1024 ** 3, "GiB"],
  [1024 ** 2, "MiB"],
  [1024, "KiB"],
];

/** A byte count as the user writes it, with the largest whole binary unit beside it; 0 or less is unlimited. */
function bytes(n: number): string {
  if (n <= 0) return "0 (unlimited)";
  const unit = SIZES.find(([size]) => n % size === 0);
  return unit ? `${n} bytes (${n / unit[0]} ${unit[1]})` : `${n} bytes`;
}
