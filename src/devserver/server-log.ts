/** Why a nats-server did not start, in a few words, read from its log; the log itself kept on the error. */

/**
 * nats-server failed to start. `message` says why in a few words, the cause
 * first (`nats-server could not start: port 4222 is already in use`); `log` holds
 * everything the server printed, for whoever wants the details.
 */
export class NatsServerStartError extends Error {
  override readonly name = "NatsServerStartError";

  constructor(
    message: string,
    /** Everything nats-server wrote to stderr before it failed. */
    readonly log: string,
  ) {
    super(message);
  }
}

/** The last `n` non-empty lines of `log`. */
export function lastLines(log: string, n: number): string {
  return log
    .split("\n")
    .filter((l) => l.trim() !== "")
    .slice(-n)
    .join("\n");
}

/**
 * The cause of a failed start in the server's own words, shortened: the
 * fatal line (`[FTL]`), else the last error (`[ERR]`); a port that is taken
 * is said as `port 4222 is already in use`. Undefined when the log has neither.
 */
export function startFailure(log: string): string | undefined {
  const lines = log.split("\n");
  const line = lines.find((l) => l.includes("[FTL]")) ?? lines.findLast((l) => l.includes("[ERR]"));
  if (line === undefined) return undefined;
  const text = line.replace(/^.*?\[(FTL|ERR)\]\s*/, "").trim();
  if (/address already in use/i.test(text)) {
    const port = /:(\d+)\b/.exec(text)?.[1];
    return `${port === undefined ? "its port" : `port ${port}`} is already in use`;
  }
  return text;
}
