/**
 * The caller's remaining time, as it travels in the `Jetmesh-Timeout` header:
 * a whole number of milliseconds from 1 to {@link DEFAULTS.maxTimeout},
 * written in decimal digits. Anything else read from the wire is refused.
 */
import type { Msg } from "@nats-io/nats-core";
import { DEFAULTS } from "../config/index.js";
import type { ClientMsg } from "./client-msg.js";
import { HEADER } from "./headers.js";

const DIGITS = /^[1-9][0-9]{0,9}$/;

/** The time-out a header value carries, or undefined when the value is not a valid one. */
export function parseTimeoutHeader(value: string): number | undefined {
  if (!DIGITS.test(value)) return undefined;
  const ms = Number(value);
  return ms <= DEFAULTS.maxTimeout ? ms : undefined;
}

/** The header block of a request whose only header is the deadline, up to its value (as the client encodes it). */
const SOLE_HEAD = new TextEncoder().encode(`NATS/1.0\r\n${HEADER.timeout}: `);
const CR = 0x0d;
const LF = 0x0a;
const ZERO = 0x30;
const NINE = 0x39;

/**
 * The time-out of a request whose only header is a valid `Jetmesh-Timeout`,
 * exactly as jetmesh callers send it (`NATS/1.0\r\nJetmesh-Timeout: <ms>\r\n\r\n`),
 * read straight from the message's bytes; undefined for anything else (no
 * headers, other headers, another spelling, an invalid value, or a message
 * whose bytes cannot be seen), which is then read through `msg.headers` as
 * usual. Done for speed: decoding the headers into a `MsgHdrs` costs a member
 * more than the rest of its dispatch of a request, and nearly every request
 * carries this header alone. The two readings agree on every input this one
 * accepts (`test/unit/wire-values.test.ts`).
 */
export function soleTimeout(msg: Msg): number | undefined {
  const raw = msg as unknown as ClientMsg;
  const hdr = raw._msg?.hdr;
  const bytes = raw._rdata;
  if (typeof hdr !== "number" || !(bytes instanceof Uint8Array)) return undefined;
  const start = SOLE_HEAD.length;
  // the value, then the blank line that ends the headers
  const end = hdr - 4;
  if (end <= start || end - start > 10 || hdr > bytes.length) return undefined;
  if (bytes[end] !== CR || bytes[end + 1] !== LF || bytes[end + 2] !== CR || bytes[end + 3] !== LF) return undefined;
  for (let i = 0; i < start; i++) if (bytes[i] !== SOLE_HEAD[i]) return undefined;
  // no leading zero, as parseTimeoutHeader
  if ((bytes[start] as number) === ZERO) return undefined;
  let ms = 0;
  for (let i = start; i < end; i++) {
    const c = bytes[i] as number;
    if (c < ZERO || c > NINE) return undefined;
    ms = ms * 10 + (c - ZERO);
  }
  return ms <= DEFAULTS.maxTimeout ? ms : undefined;
}
