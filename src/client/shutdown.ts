/**
 * closeOnSignal(): the process's graceful end on SIGTERM/SIGINT, asked for by
 * the user (jetmesh itself never installs a signal handler). The first signal
 * closes the targets once, in order (a connection drains its services and
 * subscriptions), then lets the process end by itself; a second signal, or
 * the optional time limit, ends it at once.
 */
import { constants } from "node:os";
import type { Logger } from "../api/index.js";
import { validateOptions, validateTimeout } from "../config/index.js";
import { InvalidArgumentError } from "../errors/index.js";
import { consoleLogger, guardedLogger } from "../logging/index.js";

/** Something closeOnSignal() can close: a Connection, a Service, a HealthServer, or anything with close(). */
export interface Closable {
  close(): void | PromiseLike<void>;
}

/** Options of {@link closeOnSignal}. Every field is optional. */
export interface CloseOnSignalOptions {
  /** The signals that start the shutdown. Default `["SIGTERM", "SIGINT"]`. */
  signals?: readonly NodeJS.Signals[];
  /**
   * A time limit in ms, counted from the first signal: if the process is
   * still running then (closing has not finished, or something else, such
   * as a timer or a server of yours, keeps it alive), it exits at once, with
   * code 1 if closing had not finished. Default: no limit; closing ends when
   * the drain does (each stage bounded by the connection's `drainTimeout`).
   */
  timeout?: number;
  /** Where the line saying the shutdown started (and any failure) goes. Default `consoleLogger("info")` (stderr). */
  logger?: Logger;
}

const DEFAULT_SIGNALS: readonly NodeJS.Signals[] = ["SIGTERM", "SIGINT"];
const KEYS = ["signals", "timeout", "logger"] as const;

/**
 * Closes `target` (a Connection, a Service, or a list of such, closed one
 * after the other in the order given) on the first SIGTERM or SIGINT, and
 * lets the process exit once it is closed: it sets `process.exitCode` (0, or
 * 1 when closing failed; an exit code you set earlier is kept) and calls
 * `process.exit` only when a second signal comes (exit code 128 + the
 * signal's number, as if killed) or the time limit passes. It logs one line
 * when the shutdown starts. Neither its listeners nor its timer keep the
 * process alive. Returns a function that removes the listeners (and cancels
 * the time limit).
 *
 * @example
 * ```ts
 * const conn = await connect(url);
 * await conn.register("echo", { handleRequest: (req) => req });
 * closeOnSignal(conn, { timeout: 25_000 }); // under Kubernetes' 30 s grace period
 * ```
 */
export function closeOnSignal(target: Closable | readonly Closable[], options?: CloseOnSignalOptions): () => void {
  const targets = checkTargets(target);
  const o = validateOptions<CloseOnSignalOptions>("options", options, KEYS);
  const signals = checkSignals(o.signals);
  const limit = o.timeout === undefined ? undefined : validateTimeout("options.timeout", o.timeout, 0);
  const logger = guardedLogger(o.logger ?? consoleLogger("info"));
  let closing = false;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;

  const onSignal = (signal: NodeJS.Signals): void => {
    if (closing) {
      logger.warn({ signal }, "second signal: exiting now");
      process.exit(128 + (constants.signals[signal] ?? 0));
    }
    closing = true;
    logger.info(
      { signal, ...(limit === undefined ? {} : { timeout: limit }) },
      "closing on signal (a second signal exits at once)",
    );
    if (limit !== undefined) {
      timer = setTimeout(() => {
        logger.warn({ timeout: limit, closed }, "still running at the shutdown time limit: exiting now");
        process.exit(closed ? (process.exitCode ?? 0) : 1);
      }, limit);
      timer.unref();
    }
    closeAll(targets).then(
      () => {
        closed = true;
        process.exitCode ??= 0;
      },
      (err: unknown) => {
        closed = true;
        logger.error({ err }, "closing on signal failed");
        if (!process.exitCode) process.exitCode = 1;
      },
    );
  };

  for (const s of signals) process.on(s, onSignal);
  return () => {
    for (const s of signals) process.off(s, onSignal);
    clearTimeout(timer);
  };
}

/** Closes each target in turn; every one is tried, and the first failure is rethrown at the end. */
async function closeAll(targets: readonly Closable[]): Promise<void> {
  let failure: { err: unknown } | undefined;
  for (const t of targets) {
    try {
      await t.close();
    } catch (err) {
      failure ??= { err };
    }
  }
  if (failure) throw failure.err;
}

function checkTargets(target: unknown): readonly Closable[] {
  const list = Array.isArray(target) ? target : [target];
  if (list.length === 0) throw new InvalidArgumentError("target must not be an empty list");
  for (const t of list) {
    if (typeof t !== "object" || t === null || typeof (t as Closable).close !== "function") {
      throw new InvalidArgumentError(`target must have a close() method (a Connection or a Service), got ${String(t)}`);
    }
  }
  return list as Closable[];
}

function checkSignals(value: unknown): readonly NodeJS.Signals[] {
  if (value === undefined) return DEFAULT_SIGNALS;
  if (!Array.isArray(value) || value.length === 0) {
    throw new InvalidArgumentError(`options.signals must be a non-empty list of signal names, got ${String(value)}`);
  }
  for (const s of value) {
    // SIGKILL and SIGSTOP cannot be caught
    if (typeof s !== "string" || !(s in constants.signals) || s === "SIGKILL" || s === "SIGSTOP") {
      throw new InvalidArgumentError(`options.signals: ${String(s)} is not a signal that can be caught`);
    }
  }
  return [...new Set(value as NodeJS.Signals[])];
}
