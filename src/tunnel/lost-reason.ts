/** What a tunnel that ended abnormally says: why, and how many messages sent from this end may not have arrived. */
import { ClosedError } from "../errors/index.js";

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
