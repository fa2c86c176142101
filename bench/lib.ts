/** Shared pieces of the benchmarks: timing loops, rounds, tables, the responder process. */
import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";

export interface Sample {
  ops: number;
  seconds: number;
  latencies?: number[];
}

/** Runs `op` with `inflight` calls in flight for `ms` ms (after `warmup` ms), closed loop. */
export async function closedLoop(
  op: () => Promise<unknown>,
  inflight: number,
  ms: number,
  warmup: number,
  recordLatency = false,
): Promise<Sample> {
  let measuring = false;
  let stop = false;
  let ops = 0;
  const latencies: number[] = [];
  const worker = async () => {
    while (!stop) {
      const t0 = recordLatency ? performance.now() : 0;
      await op();
      if (measuring) {
        ops++;
        if (recordLatency) latencies.push(performance.now() - t0);
      }
    }
  };
  const workers = Array.from({ length: inflight }, worker);
  await sleep(warmup);
  measuring = true;
  const t0 = performance.now();
  await sleep(ms);
  measuring = false;
  const seconds = (performance.now() - t0) / 1000;
  stop = true;
  await Promise.all(workers);
  return recordLatency ? { ops, seconds, latencies } : { ops, seconds };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
}

/**
 * Runs each variant `rounds` times, interleaved (A, B, A, B ...), rotating which
 * goes first each round; returns every variant's per-round results.
 */
export async function interleave<T>(
  variants: Record<string, () => Promise<T>>,
  rounds: number,
): Promise<Record<string, T[]>> {
  const names = Object.keys(variants);
  const out: Record<string, T[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < names.length; i++) {
      const name = names[(i + r) % names.length] as string;
      out[name]?.push(await (variants[name] as () => Promise<T>)());
    }
  }
  return out;
}

export function fmt(n: number): string {
  if (n >= 100_000) return `${Math.round(n / 1000)}k`;
  if (n >= 10_000) return `${(n / 1000).toFixed(1)}k`;
  if (n >= 100) return n.toFixed(0);
  return n.toFixed(n >= 10 ? 1 : 2);
}

/** "median [min-max]" of a list of rates. */
export function spread(xs: number[]): string {
  return `${fmt(median(xs))} [${fmt(Math.min(...xs))}-${fmt(Math.max(...xs))}]`;
}

export function table(title: string, header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  ");
  console.log(`\n${title}`);
  console.log(line(header));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const r of rows) console.log(line(r));
}

/** The other end of the benchmarks, in its own process, as users deploy it. */
export class Responder {
  readonly #child: ChildProcess;
  #nextId = 0;
  readonly #waiting = new Map<number, (value: unknown) => void>();

  private constructor(child: ChildProcess) {
    this.#child = child;
    child.on("message", (m: { id: number; value: unknown }) => {
      this.#waiting.get(m.id)?.(m.value);
      this.#waiting.delete(m.id);
    });
  }

  /** Forks `script` (beside this file, built) with the server's url and `args`; resolves once it answers "ready". */
  static async start(url: string, script = "./responder.js", args: string[] = []): Promise<Responder> {
    const child = fork(fileURLToPath(new URL(script, import.meta.url)), [url, ...args], { stdio: "inherit" });
    const responder = new Responder(child);
    await responder.call("ready");
    return responder;
  }

  call<T>(cmd: string): Promise<T> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`responder did not answer ${cmd}`)), 30_000);
      this.#waiting.set(id, (v) => {
        clearTimeout(timer);
        resolve(v as T);
      });
      this.#child.send({ id, cmd });
    });
  }

  stop(): void {
    this.#child.kill("SIGKILL");
  }
}

/** How long and how often each measurement runs. */
export interface BenchConfig {
  rounds: number;
  windowMs: number;
  warmupMs: number;
}
