import type { Logger } from "../api/index.js";

const noop = (): void => {};

/** A logger that drops everything. */
export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop };

/**
 * The default logger: warnings and errors to stderr, nothing else.
 * @example
 * ```ts
 * const conn = await connect({ servers: url, logger: consoleLogger("debug") });
 * ```
 */
export function consoleLogger(level: "debug" | "info" | "warn" | "error" = "warn"): Logger {
  const order = ["debug", "info", "warn", "error"] as const;
  const min = order.indexOf(level);
  const make =
    (name: (typeof order)[number]) =>
    (obj: object, msg?: string): void => {
      if (order.indexOf(name) < min) return;
      const context = Object.entries(obj)
        .map(([k, v]) => `${k}=${v instanceof Error ? JSON.stringify(v.message) : JSON.stringify(v)}`)
        .join(" ");
      console.error(`[jetmesh] ${name.toUpperCase()} ${msg ?? ""}${context ? ` ${context}` : ""}`);
    };
  return { debug: make("debug"), info: make("info"), warn: make("warn"), error: make("error") };
}

const LEVELS = ["debug", "info", "warn", "error"] as const;

/**
 * The logger of a connection given none: quiet, unless the `JETMESH_LOG`
 * environment variable names a level (`debug`, `info`, `warn`, `error`), in
 * which case {@link consoleLogger} at that level.
 */
export function defaultLogger(): Logger {
  const level = process.env.JETMESH_LOG?.trim().toLowerCase();
  if (!level) return silentLogger;
  const known = LEVELS.find((l) => l === level);
  return known ? consoleLogger(known) : consoleLogger("warn");
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
