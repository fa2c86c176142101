import type { Logger } from "../api/index.js";
import { typeName } from "../config/index.js";

const noop = (): void => {};

/** A logger that drops everything. Pass it as `logger` to silence jetmesh, or set `JETMESH_LOG=silent`. */
export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop };

const LEVELS = ["debug", "info", "warn", "error"] as const;
type Level = (typeof LEVELS)[number];

/** How deep a chain of causes is printed under an error's stack. */
const MAX_CAUSES = 5;

/** A context value on the log line: JSON where it can be (an Error as its message), else as text. */
function inline(value: unknown): string {
  if (value instanceof Error) return JSON.stringify(value.message);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    // a bigint, a cycle: still something to read
    return typeof value === "bigint" ? String(value) : typeName(value);
  }
}

/** An error's stack (its message when it has none), then its causes', each indented under it. */
function describeError(err: Error): string {
  const lines = [err.stack ?? `${err.name}: ${err.message}`];
  let cause: unknown = err.cause;
  for (let depth = 0; cause !== undefined && depth < MAX_CAUSES; depth++) {
    lines.push(
      cause instanceof Error
        ? `Caused by: ${cause.stack ?? `${cause.name}: ${cause.message}`}`
        : `Caused by: ${inline(cause)}`,
    );
    cause = cause instanceof Error ? cause.cause : undefined;
  }
  return lines.map((l) => l.replace(/^/gm, "    ")).join("\n");
}

/**
 * A logger that writes one line per entry to stderr, from `level` up:
 * `[jetmesh] WARN <message> key=value ...`. Warnings and errors carry the
 * stack (and causes) of every Error in their context on the lines below.
 * The default logger is this at `"warn"`.
 *
 * @example
 * ```ts
 * const conn = await connect({ servers: url, logger: consoleLogger("debug") });
 * ```
 */
export function consoleLogger(level: Level = "warn"): Logger {
  const min = LEVELS.indexOf(level);
  const make =
    (name: Level) =>
    (obj: object, msg?: string): void => {
      if (LEVELS.indexOf(name) < min) return;
      const entries = Object.entries(obj);
      const context = entries.map(([k, v]) => `${k}=${inline(v)}`).join(" ");
      let text = `[jetmesh] ${name.toUpperCase()} ${msg ?? ""}${context ? ` ${context}` : ""}`;
      if (name === "warn" || name === "error") {
        for (const [, v] of entries) if (v instanceof Error) text += `\n${describeError(v)}`;
      }
      console.error(text);
    };
  return { debug: make("debug"), info: make("info"), warn: make("warn"), error: make("error") };
}

/** The `JETMESH_LOG` values that silence the default logger. */
const SILENT = new Set(["silent", "off", "none", "0", "false"]);

/**
 * The logger of a connection given none: warnings and errors to stderr
 * ({@link consoleLogger} at `"warn"`, stacks included). The `JETMESH_LOG`
 * environment variable changes it: a level (`debug`, `info`, `warn`,
 * `error`) for the console at that level, or `silent` (or `off`) for
 * nothing at all, as {@link silentLogger}.
 */
export function defaultLogger(): Logger {
  const level = process.env.JETMESH_LOG?.trim().toLowerCase();
  if (level && SILENT.has(level)) return silentLogger;
  const known = LEVELS.find((l) => l === level);
  return consoleLogger(known ?? "warn");
}

/**
 * `logger` with every call guarded: jetmesh logs from inside NATS callbacks,
 * where a throw would stop the client reading its socket, so a logger that
 * throws is ignored for that call.
 */
export function guardedLogger(logger: Logger): Logger {
  const guard =
    (name: keyof Logger) =>
    (obj: object, msg?: string): void => {
      try {
        logger[name](obj, msg);
      } catch {
        // a failing logger must not fail what it logs
      }
    };
  return { debug: guard("debug"), info: guard("info"), warn: guard("warn"), error: guard("error") };
}
