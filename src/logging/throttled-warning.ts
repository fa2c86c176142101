import type { Logger } from "../api/index.js";

/**
 * A warning that may repeat many times a second (dropped broadcasts, failing
 * handlers): logged at most once per interval, with how many were not logged.
 */
export class ThrottledWarning {
  #last = Number.NEGATIVE_INFINITY;
  #unlogged = 0;

  constructor(
    private readonly logger: Logger,
    private readonly message: string,
    private readonly intervalMs = 1_000,
  ) {}

  /** Counts one occurrence; logs it with `context` unless one was logged within the interval. */
  note(context: object): void {
    this.#unlogged++;
    const now = performance.now();
    if (now - this.#last < this.intervalMs) return;
    this.logger.warn({ ...context, occurrences: this.#unlogged }, this.message);
    this.#last = now;
    this.#unlogged = 0;
  }
}
