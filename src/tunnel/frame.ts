/**
 * The wire format of tunnel messages: every JetStream message on a tunnel
 * subject is one frame, a kind byte and the tunnel's own 48-bit sequence,
 * then the payload; a FIRST frame (the start of a split message) adds the
 * message's total size. Frames come from the wire, so decoding checks
 * everything and says what is wrong instead of throwing.
 *
 * An END frame (half-close) goes only to a peer that said at set-up that it
 * reads one (`halfClose` in the set-up terms): an earlier version drops a
 * kind it does not know without taking its sequence, so the frames after it
 * would wait for it for ever.
 */
import { unfilledBytes } from "./byte-buffers.js";

/** Frame kinds: the first byte of every frame. */
export const KIND = {
  /** A whole message. */
  whole: 0,
  /** The first chunk of a split message (carries its total size). */
  first: 1,
  more: 2,
  last: 3,
  /** What went out of the split message being sent is to be dropped. */
  abort: 4,
  /** The sender closed: nothing follows. */
  close: 5,
  /**
   * The sender ended its half (`tun.end()`): no message follows, only its
   * close may. (6 stays unused: checks of hostile input forge it as a kind
   * no version knows.)
   */
  end: 7,
} as const;

export type FrameKind = (typeof KIND)[keyof typeof KIND];

/** kind (1) + sequence (6). */
export const FRAME_HEAD = 7;
/** A FIRST frame adds the message's total size (6). */
export const FIRST_HEAD = 13;
/** The largest sequence and size a frame carries. */
export const MAX_U48 = 2 ** 48 - 1;

export interface Frame {
  kind: FrameKind;
  seq: number;
  /** A FIRST frame's message size; 0 for the others. */
  total: number;
  /** The payload: a view into the frame's bytes. */
  payload: Uint8Array;
}

export function writeU48(buf: Uint8Array, at: number, n: number): void {
  const high = Math.floor(n / 2 ** 32);
  buf[at] = (high >>> 8) & 0xff;
  buf[at + 1] = high & 0xff;
  buf[at + 2] = (n >>> 24) & 0xff;
  buf[at + 3] = (n >>> 16) & 0xff;
  buf[at + 4] = (n >>> 8) & 0xff;
  buf[at + 5] = n & 0xff;
}

export function readU48(buf: Uint8Array, at: number): number {
  return (
    ((buf[at] ?? 0) * 256 + (buf[at + 1] ?? 0)) * 2 ** 32 +
    (((buf[at + 2] ?? 0) << 24) >>> 0) +
    ((buf[at + 3] ?? 0) << 16) +
    ((buf[at + 4] ?? 0) << 8) +
    (buf[at + 5] ?? 0)
  );
}

/** One frame's bytes; `total` is the message size, for a FIRST frame. */
export function encodeFrame(kind: FrameKind, seq: number, chunk?: Uint8Array, total = 0): Uint8Array {
  const head = kind === KIND.first ? FIRST_HEAD : FRAME_HEAD;
  // every byte is written below
  const frame = unfilledBytes(head + (chunk?.byteLength ?? 0));
  frame[0] = kind;
  writeU48(frame, 1, seq);
  if (kind === KIND.first) writeU48(frame, FRAME_HEAD, total);
  if (chunk) frame.set(chunk, head);
  return frame;
}

/**
 * Reads a frame: the frame, or why it cannot be one (too short, an unknown
 * kind, a payload where none belongs or none where one does, a first chunk
 * larger than its message).
 */
export function decodeFrame(data: Uint8Array): Frame | string {
  if (data.byteLength < FRAME_HEAD) return `a frame of ${data.byteLength} bytes is too short`;
  const kind = data[0] ?? 255;
  const seq = readU48(data, 1);
  switch (kind) {
    case KIND.whole:
    case KIND.more:
    case KIND.last:
      if (data.byteLength === FRAME_HEAD) return `a frame of kind ${kind} without a payload`;
      return { kind, seq, total: 0, payload: data.subarray(FRAME_HEAD) };
    case KIND.first: {
      if (data.byteLength <= FIRST_HEAD) return "a first chunk without a payload";
      const total = readU48(data, FRAME_HEAD);
      if (total < data.byteLength - FIRST_HEAD) return `a first chunk larger than its message of ${total} bytes`;
      return { kind, seq, total, payload: data.subarray(FIRST_HEAD) };
    }
    case KIND.abort:
    case KIND.close:
    case KIND.end:
      if (data.byteLength !== FRAME_HEAD) return `a frame of kind ${kind} with a payload`;
      return { kind, seq, total: 0, payload: data.subarray(FRAME_HEAD) };
    default:
      return `unknown frame kind ${kind}`;
  }
}
