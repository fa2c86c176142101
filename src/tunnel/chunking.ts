/**
 * How a message is cut into frames. A frame must fit the server's max
 * payload (the smaller of both ends', should they sit on different servers)
 * and, with its cost, half the window of the end that reads it: credit comes
 * from the reader's window, so a chunk sized from the writer's own window
 * could never be sent to a reader with a smaller one.
 */
import { FIRST_HEAD } from "./frame.js";

/**
 * What each frame costs of the window besides its payload (its subject,
 * headers and bookkeeping), so that many tiny messages are bounded too.
 */
export const FRAME_COST = 128;

/**
 * The largest payload one frame carries: within `maxPayload` with its head,
 * and within half of `readerWindow` with its cost, so credit for one always
 * comes once the reader has read what came before.
 */
export function chunkLimit(maxPayload: number, readerWindow: number): number {
  return Math.max(1, Math.min(maxPayload - FIRST_HEAD, Math.floor(readerWindow / 2) - FRAME_COST - FIRST_HEAD));
}

/**
 * The size of each chunk of a message of `size` bytes (the last may be
 * smaller): equal chunks, so that no small tail costs a whole stored message;
 * `size` itself when it fits in one frame.
 */
export function chunkSize(size: number, limit: number): number {
  if (size <= limit) return size;
  return Math.ceil(size / Math.ceil(size / limit));
}
