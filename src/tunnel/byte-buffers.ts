/**
 * The byte buffers of a tunnel's hot path: fresh ones for frames and joined
 * messages, whose every byte is written before anyone reads it (so zeroing
 * them first is wasted work), and the bytes handed to a `recv`, which may be
 * the NATS client's own view when that costs no more memory than a copy.
 */
import { copyBytes } from "../wire/index.js";

/** Below this size a zeroed allocation costs next to nothing: a plain `Uint8Array`. */
const UNFILLED_MIN = 4096;

/** Node's `Buffer`, when there is one (a browser has none). */
const NodeBuffer = (globalThis as { Buffer?: { allocUnsafeSlow(n: number): Uint8Array } }).Buffer;

/**
 * `n` bytes of memory of their own, not zeroed where the runtime can skip it
 * (Node): for a buffer the caller fills completely before it is read. A plain
 * `Uint8Array` over its own `ArrayBuffer` either way (not a `Buffer`, whose
 * `slice` would be a view, not a copy). Zeroing a 1 MiB buffer costs about as
 * much as filling it.
 */
export function unfilledBytes(n: number): Uint8Array {
  if (n < UNFILLED_MIN || NodeBuffer === undefined) return new Uint8Array(n);
  // allocUnsafeSlow: an ArrayBuffer of exactly n bytes, never a slice of Node's shared pool
  return new Uint8Array(NodeBuffer.allocUnsafeSlow(n).buffer, 0, n);
}

/**
 * The bytes of a message from the wire, handed at once to a waiting `recv`:
 * the NATS client's view itself when it spans at least half of its buffer
 * (a large frame has a buffer of its own in the client, so the view keeps at
 * most twice its bytes alive), else a copy (a small message views the whole
 * socket read it came in, which it would keep alive). Always a plain
 * `Uint8Array`, as the application got before.
 */
export function handedOver(view: Uint8Array): Uint8Array {
  if (2 * view.byteLength < view.buffer.byteLength) return copyBytes(view);
  return view.constructor === Uint8Array ? view : new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}
