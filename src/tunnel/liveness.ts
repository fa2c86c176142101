import { ClosedError } from "../errors/index.js";
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

/** Why a tunnel whose peer watch gave up on the other end ended. */
export function lostPeerReason(why: "outage" | "silent", bound: number): string {
  return why === "outage"
    ? `this end's connection was down for more than the tunnel's outage bound of ${bound} ms`
    : `the other end of the tunnel is gone (nothing heard for ${bound} ms while connected)`;
}

/** The error of a tunnel that ended abnormally, saying how many messages sent from this end may not have arrived. */
export function lostError(why: string, unconfirmed: number, cause?: unknown): ClosedError {
  const n = unconfirmed;
  const tail =
    n === 0
      ? ""
      : `; ${n} message${n === 1 ? "" : "s"} sent here ${n === 1 ? "was" : "were"} not confirmed received by the other end`;
  return new ClosedError(`${why}${tail}`, cause === undefined ? undefined : { cause });
}
