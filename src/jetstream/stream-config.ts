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
 * words, empty when it can.
 */
export function incompatibilities(t: StreamSettings, subject: string, existing: StreamConfig, kind: string): string[] {
  const wanted = streamConfig(t, subject);
  const out: string[] = [];
  if (!existing.subjects?.includes(subject)) {
    out.push(`its subjects are ${JSON.stringify(existing.subjects ?? [])}, not including "${subject}"`);
  }
  if (existing.retention !== RetentionPolicy.Limits) {
    out.push(`its retention is "${existing.retention}", jetmesh needs "limits"`);
  }
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
    if (have !== want)
      out.push(`its ${field} is ${JSON.stringify(have)}, ${kind}.${option} asks for ${JSON.stringify(want)}`);
  }
  return out;
}
