/** Shared pieces of the benchmarks: timing loops, rounds, tables, the responder process. */
import { type ChildProcess, fork, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Allocations } from "./soak-memory.js";

export interface Sample {
  ops: number;
  seconds: number;
  latencies?: number[];
  /** CPU time (user + system, µs) spent in the window by this process and by the peer process. */
  cpu?: Cpu;
  /** Heap bytes this process allocated in the window. */
  allocated?: number;
}

/** Another process that answers commands ("cpu": its CPU time in µs): a {@link Responder}, or one reached through the parent. */
export interface Peer {
  call<T>(cmd: string): Promise<T>;
}

/** CPU time in µs (user + system) of this process and of its peer. */
export interface Cpu {
  self: number;
  peer: number;
}

/** This process's CPU time so far, user + system, in µs. */
export function cpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

/**
 * CPU time of this process and of `peer` (when given) from now until the
 * returned function is called. The peer's figure is read over IPC, a fraction
 * of a millisecond either side of the window.
 */
export async function cpuWindow(peer?: Peer): Promise<() => Promise<Cpu>> {
  const peer0 = peer ? await peer.call<number>("cpu") : 0;
  const self0 = cpuMicros();
  return async () => {
    const self = cpuMicros() - self0;
    const peerNow = peer ? await peer.call<number>("cpu") : 0;
    return { self, peer: peerNow - peer0 };
  };
}

/** Median CPU µs per operation of `samples` as "self + peer", or "-" when not measured. */
export function cpuPerOp(samples: Sample[] | undefined): string {
  const measured = (samples ?? []).filter((s) => s.cpu && s.ops > 0);
  if (measured.length === 0) return "-";
  const self = median(measured.map((s) => (s.cpu?.self ?? 0) / s.ops));
  const peer = median(measured.map((s) => (s.cpu?.peer ?? 0) / s.ops));
  return peer > 0 ? `${fmt(self)} + ${fmt(peer)}` : fmt(self);
}

/** Median heap bytes this process allocated per operation, or "-" when not measured. */
export function allocatedPerOp(samples: Sample[] | undefined): string {
  const measured = (samples ?? []).filter((s) => s.allocated !== undefined && s.ops > 0);
  if (measured.length === 0) return "-";
  return String(Math.round(median(measured.map((s) => (s.allocated ?? 0) / s.ops))));
}

/** Median total CPU µs per operation (self + peer) of `samples`; 0 when not measured. */
export function cpuTotal(samples: Sample[] | undefined): number {
  const measured = (samples ?? []).filter((s) => s.cpu && s.ops > 0);
  return median(measured.map((s) => ((s.cpu?.self ?? 0) + (s.cpu?.peer ?? 0)) / s.ops));
}

/**
 * Runs `op` with `inflight` calls in flight for `ms` ms (after `warmup` ms),
 * closed loop; with `peer`, measures its CPU time in the window too.
 */
export async function closedLoop(
  op: () => Promise<unknown>,
  inflight: number,
  ms: number,
  warmup: number,
  recordLatency = false,
  peer?: Peer,
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
  const cpuEnd = await cpuWindow(peer);
  const allocations = new Allocations();
  measuring = true;
  const t0 = performance.now();
  await sleep(ms);
  measuring = false;
  const seconds = (performance.now() - t0) / 1000;
  const allocated = allocations.total();
  const cpu = await cpuEnd();
  stop = true;
  await Promise.all(workers);
  return recordLatency ? { ops, seconds, latencies, cpu, allocated } : { ops, seconds, cpu, allocated };
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
export class Responder implements Peer {
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

/**
 * `BENCH_LOAD=1`: one core kept busy by another process (a spinning Node
 * process at normal priority) for as long as the benchmarks run, as on a
 * production machine with other work on it. Returns how to stop it, or
 * undefined when no load was asked for.
 */
export function startLoad(): (() => void) | undefined {
  if (!["1", "true", "yes"].includes(process.env.BENCH_LOAD ?? "")) return undefined;
  const child = spawn(process.execPath, ["-e", "for (;;) {}"], { stdio: "ignore" });
  const stop = () => {
    child.kill("SIGKILL");
  };
  process.once("exit", stop);
  return stop;
}
