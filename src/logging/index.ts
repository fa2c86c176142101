/** Loggers, throttled warnings, and callbacks that never throw into NATS. */
export { consoleLogger, defaultLogger, guardedLogger, silentLogger } from "./logger.js";
export { safeCallback } from "./safe-callback.js";
export { ThrottledWarning } from "./throttled-warning.js";
