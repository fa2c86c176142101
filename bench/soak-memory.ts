/** Memory figures of one process for the soak, and a forced gc when the process can have one. */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

export interface Memory {
  heapUsed: number;
  arrayBuffers: number;
  rss: number;
  /** Whether a gc was forced before measuring. */
  gc: boolean;
}

let gcFn: (() => void) | undefined;
let tried = false;

/** `global.gc` when run with --expose-gc; else the same function obtained by turning the flag on now. */
function findGc(): (() => void) | undefined {
  if (tried) return gcFn;
  tried = true;
  const g = (globalThis as { gc?: () => void }).gc;
  if (typeof g === "function") {
    gcFn = g;
    return gcFn;
  }
  try {
    setFlagsFromString("--expose-gc");
    const fromContext = runInNewContext("gc") as unknown;
    if (typeof fromContext === "function") gcFn = fromContext as () => void;
  } catch {
    // no gc to force: figures include garbage
  }
  return gcFn;
}

/** Forces a full gc if possible; true when one ran. */
export function forceGc(): boolean {
  const gc = findGc();
  if (!gc) return false;
  gc();
  gc();
  return true;
}

/** Forces a gc (if possible), then measures. */
export function measure(): Memory {
  const gc = forceGc();
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed, arrayBuffers: m.arrayBuffers, rss: m.rss, gc };
}

export function mib(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

/** A signed size for growth figures: KiB below 1 MiB. */
export function signed(bytes: number): string {
  const sign = bytes < 0 ? "-" : "+";
  const b = Math.abs(bytes);
  return b >= 1024 * 1024 ? `${sign}${(b / (1024 * 1024)).toFixed(2)} MiB` : `${sign}${(b / 1024).toFixed(1)} KiB`;
}
