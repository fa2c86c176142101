/**
 * What a process really retains: heap and ArrayBuffers after full garbage
 * collections, not a counter of ours.
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

export interface Retained {
  /** V8 heap in use, bytes. */
  heap: number;
  /** Memory of ArrayBuffers and Buffers (socket buffers included), bytes. */
  arrayBuffers: number;
}

/** Collects garbage until the figures settle, then reads them. */
export async function retained(): Promise<Retained> {
  for (let i = 0; i < 4; i++) {
    gc();
    // finalizers and weak callbacks run between turns of the event loop
    await new Promise((r) => setImmediate(r));
  }
  const m = process.memoryUsage();
  return { heap: m.heapUsed, arrayBuffers: m.arrayBuffers };
}

export const MiB = 1024 * 1024;

/** Bytes as MiB with one decimal, for messages. */
export const mib = (n: number): string => `${(n / MiB).toFixed(1)} MiB`;
