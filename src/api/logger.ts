/**
 * The logger jetmesh writes to: any pino-compatible logger (`debug`, `info`,
 * `warn`, `error`, each taking a context object and a message).
 */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}
