/**
 * The caller's remaining time, as it travels in the `Jetmesh-Timeout` header:
 * a whole number of milliseconds from 1 to {@link DEFAULTS.maxTimeout},
 * written in decimal digits. Anything else read from the wire is refused.
 */
import { DEFAULTS } from "../config/index.js";

const DIGITS = /^[1-9][0-9]{0,9}$/;

/** The time-out a header value carries, or undefined when the value is not a valid one. */
export function parseTimeoutHeader(value: string): number | undefined {
  if (!DIGITS.test(value)) return undefined;
  const ms = Number(value);
  return ms <= DEFAULTS.maxTimeout ? ms : undefined;
}
