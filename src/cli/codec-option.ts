/**
 * `--codec`: how `request`, `broadcast`, `publish` and `subscribe` read their
 * data and show what they receive. `raw` sends the data's bytes as they are
 * and prints bytes (the default); `msgpack` and `json` read the data as JSON
 * text, encode it with the codec of jetmesh's typed contracts, and print each
 * value received as one line of JSON.
 */
import { Option } from "commander";
import type { CodecName } from "../api/index.js";
import { type Io, readAll } from "./io.js";
import { UsageError } from "./usage-error.js";

/** The values of `--codec`. */
export type CliCodec = "raw" | CodecName;

/** The `--codec` option. */
export function codecOption(): Option {
  return new Option(
    "--codec <codec>",
    "raw: the data's bytes as given, replies and events printed as bytes; " +
      "msgpack or json: the data is JSON text, encoded as a typed contract would, and what comes back is printed as JSON",
  )
    .choices(["raw", "msgpack", "json"])
    .default("raw");
}

/**
 * The value the data stands for: its JSON text (from the argument, or
 * standard input for `-`) parsed. A usage error when there is none, or it is
 * not JSON.
 */
export async function dataValue(data: string | undefined, io: Io, codec: CodecName): Promise<unknown> {
  if (data === undefined) {
    throw new UsageError(`with --codec ${codec}, give the data as JSON text (or - to read it from standard input)`);
  }
  const text = data === "-" ? new TextDecoder().decode(await readAll(io.stdin)) : data;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(
      `with --codec ${codec}, the data is JSON text (a string is written '"text"'): ${(err as Error).message}`,
    );
  }
}

/** Bytes and big integers a msgpack value may hold, as JSON can show them. */
function jsonSafe(_key: string, value: unknown): unknown {
  if (value instanceof Uint8Array) return { base64: Buffer.from(value).toString("base64") };
  if (typeof value === "bigint") return value.toString();
  return value;
}

/** A received value as one line of JSON text (nothing at all, an empty payload, is `null`). */
export function jsonText(value: unknown): string {
  return JSON.stringify(value, jsonSafe) ?? "null";
}

/** A received value as it goes into a `--json` object: what JSON.parse of {@link jsonText} gives. */
export function jsonValue(value: unknown): unknown {
  return JSON.parse(jsonText(value));
}
