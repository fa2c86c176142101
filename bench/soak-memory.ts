/**
 * Memory figures of one process for the soak: what is retained (after a
 * forced gc when the process can have one) and what was allocated.
 */
import { GCProfiler, getHeapStatistics, setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

export interface Memory {
  heapUsed: number;
  arrayBuffers: number;
  rss: number;
  /** Whether a gc was forced before measuring. */
  gc: boolean;
  /** Heap bytes allocated since the process's first measure (see {@link Allocations}). */
  allocated: number;
}

/**
 * Heap bytes allocated since it was made: what the heap holds now, less what
 * it held then, plus what every gc since has freed (from V8's GC profiler).
 * Short-lived garbage counts, which is the point: it is the allocation rate
 * that costs CPU in the collector. Bytes outside the heap (ArrayBuffers'
 * contents) are not in it.
 */
export class Allocations {
  readonly #start = getHeapStatistics().used_heap_size;
  #freed = 0;
  #profiler = new GCProfiler();

  constructor() {
    this.#profiler.start();
  }

  /** Bytes allocated so far. */
  total(): number {
    for (const gc of this.#profiler.stop().statistics) {
      this.#freed += gc.beforeGC.heapStatistics.usedHeapSize - gc.afterGC.heapStatistics.usedHeapSize;
    }
    this.#profiler = new GCProfiler();
    this.#profiler.start();
    return getHeapStatistics().used_heap_size - this.#start + this.#freed;
  }
}

/** Made at the first measure(): figures are read as differences between measures. */
let allocations: Allocations | undefined;

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
  allocations ??= new Allocations();
  const allocated = allocations.total();
  const gc = forceGc();
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed, arrayBuffers: m.arrayBuffers, rss: m.rss, gc, allocated };
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
