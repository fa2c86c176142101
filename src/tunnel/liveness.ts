/**
 * How long the other end of a tunnel has been silent, not counting the time
 * this end's own connection was down (nothing could be heard then), and how
 * long that connection has been down. Times are `performance.now()` values.
 */
export class Liveness {
  #lastHeard: number;
  #downSince: number | undefined;

  constructor(now: number) {
    this.#lastHeard = now;
  }

  /** Something came from the other end. */
  heard(now: number): void {
    this.#lastHeard = Math.max(this.#lastHeard, now);
  }

  /** This end's connection went down. */
  down(now: number): void {
    this.#downSince ??= now;
  }

  /** This end's connection is back: the time it was down does not count as silence. */
  up(now: number): void {
    const since = this.#downSince;
    if (since === undefined) return;
    this.#downSince = undefined;
    this.#lastHeard = Math.max(this.#lastHeard, this.#lastHeard + (now - Math.max(since, this.#lastHeard)));
  }

  get connected(): boolean {
    return this.#downSince === undefined;
  }

  /** Silence of the other end while this end was connected, in ms. */
  silence(now: number): number {
    const until = this.#downSince ?? now;
    return Math.max(0, until - this.#lastHeard);
  }

  /** How long this end's connection has been down, in ms (0 when it is up). */
  outage(now: number): number {
    return this.#downSince === undefined ? 0 : now - this.#downSince;
  }
}
