/** Parsers of option and argument values, for commander: each throws a UsageError on a bad value. */
import { UsageError } from "./usage-error.js";

/** A whole number of 1 or more. */
export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`expected a positive integer, got "${value}"`);
  return n;
}

/** The nodes of a development cluster, 2 to 9. */
export function clusterSize(value: string): number {
  const n = positiveInt(value);
  if (n < 2 || n > 9) throw new UsageError(`a cluster has 2 to 9 nodes, got ${n}`);
  return n;
}

/** A TCP port, 1 to 65535. */
export function port(value: string): number {
  const n = positiveInt(value);
  if (n > 65535) throw new UsageError(`a port is 1 to 65535, got ${n}`);
  return n;
}

/** A repeatable option: each value is added to the ones before it. */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** The `--meta key=value` flags, as a metadata object. */
export function metadataFlags(list: readonly string[] | undefined): Record<string, string> {
  const metadata: Record<string, string> = {};
  for (const kv of list ?? []) {
    const at = kv.indexOf("=");
    if (at < 1) throw new UsageError(`--meta takes key=value, got "${kv}"`);
    metadata[kv.slice(0, at)] = kv.slice(at + 1);
  }
  return metadata;
}
