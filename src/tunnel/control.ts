/**
 * Control messages between the ends of a tunnel (core NATS, not stored): a
 * grant of credit, which is also the heartbeat (`c<credit>`); how many frames
 * the sender has sent (`s<count>`, with each heartbeat); and an end saying it
 * broke the tunnel (`x`). Read from the wire: anything else is refused.
 */
import { MAX_U48 } from "./frame.js";

export type Control = { kind: "grant"; credit: number } | { kind: "sent"; frames: number } | { kind: "broke" };

const GRANT = /^c(\d{1,16})$/;
const SENT = /^s(\d{1,15})$/;
/** No control message is longer. */
const MAX_BYTES = 20;

export const encodeGrant = (credit: number): string => `c${credit}`;
export const encodeSent = (frames: number): string => `s${frames}`;
export const BROKE = "x";

/** Reads a control message: what it says, or why it cannot be one. */
export function decodeControl(data: Uint8Array): Control | string {
  if (data.byteLength > MAX_BYTES) return `a control message of ${data.byteLength} bytes`;
  const text = new TextDecoder().decode(data);
  const grant = GRANT.exec(text);
  if (grant) {
    const credit = Number(grant[1]);
    return Number.isSafeInteger(credit) ? { kind: "grant", credit } : `a grant of ${grant[1]}`;
  }
  const sent = SENT.exec(text);
  if (sent) {
    const frames = Number(sent[1]);
    return frames <= MAX_U48 ? { kind: "sent", frames } : `a sent count of ${sent[1]}`;
  }
  if (text === BROKE) return { kind: "broke" };
  return `a control message of ${data.byteLength} bytes`;
}
