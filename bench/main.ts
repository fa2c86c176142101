/**
 * `npm run bench`: the benchmark suite against `NATS_URL`, or a server it
 * starts itself (as jetmesh/testing does).
 *
 *   npm run bench                       # every pattern
 *   npm run bench:request               # request/reply and broadcast
 *   npm run bench:topics                # topics publish and subscribe
 *   npm run bench:tunnel                # tunnel one-way throughput
 *   npm run bench:typed                 # typed contracts and tracing
 *   NATS_URL=nats://host:4222 npm run bench
 *   npm run bench -- soak --minutes 2    # every pattern at once for minutes, printing memory (default 3, at most 60)
 *   npm run bench -- soak --only requests,tunnels   # some of them: requests, broadcasts, publishPlain, publishDurable, tunnels
 *
 * BENCH_ROUNDS (default 3), BENCH_WINDOW_MS (1000), BENCH_WARMUP_MS (200);
 * BENCH_LOAD=1 keeps one core busy with another process while they run.
 * Every table prints CPU µs per operation (user + system of the sending
 * process and, where there is one, of the receiving process) beside the
 * ratios: the figure that stays steady on a busy machine.
 */
import { startNats } from "jetmesh/testing";
import { PATTERNS, type Pattern, runSoak } from "./soak.js";
import { BENCHMARKS, type Benchmark, runSuite } from "./suite.js";

if (process.argv[2] === "soak") await soak(process.argv.slice(3));

/** `soak [--minutes m | --seconds s] [--interval s]`: exits with 0 when nothing was lost and no call failed. */
async function soak(args: string[]): Promise<never> {
  const flag = (name: string, fallback: number, max: number): number => {
    const i = args.indexOf(name);
    if (i < 0) return fallback;
    const v = Number(args[i + 1]);
    if (!Number.isFinite(v) || v <= 0 || v > max) {
      console.error(`${name} must be a number above 0 and at most ${max}, got ${args[i + 1]}`);
      process.exit(2);
    }
    return v;
  };
  for (const a of args) {
    if (a.startsWith("--") && !["--minutes", "--seconds", "--interval", "--only"].includes(a)) {
      console.error(`unknown option ${a}; soak takes --minutes, --seconds, --interval and --only`);
      process.exit(2);
    }
  }
  const seconds = args.includes("--seconds") ? flag("--seconds", 180, 3600) : flag("--minutes", 3, 60) * 60;
  const interval = flag("--interval", 10, 600);
  const o = args.indexOf("--only");
  const only = o < 0 ? undefined : (args[o + 1] ?? "").split(",");
  const unknown = only?.filter((p) => !(PATTERNS as readonly string[]).includes(p)) ?? [];
  if (only?.length === 0 || unknown.length > 0) {
    console.error(`--only takes a comma-separated list of ${PATTERNS.join(", ")}; got ${args[o + 1]}`);
    process.exit(2);
  }
  const server = await startNats();
  if (server.kind !== "env") console.log(`started a local NATS server (${server.kind}) at ${server.url}`);
  let ok = false;
  try {
    ok = await runSoak(server.url, only ? { seconds, interval, only: only as Pattern[] } : { seconds, interval });
  } finally {
    await server.stop();
  }
  process.exit(ok ? 0 : 1);
}

const chosen = process.argv.slice(2).length ? process.argv.slice(2) : [...BENCHMARKS];
for (const c of chosen) {
  if (!(BENCHMARKS as readonly string[]).includes(c)) {
    console.error(`unknown benchmark ${c}; choose from ${BENCHMARKS.join(", ")}`);
    process.exit(2);
  }
}
const server = await startNats();
if (server.kind !== "env") console.log(`started a local NATS server (${server.kind}) at ${server.url}`);
try {
  await runSuite(server.url, chosen as Benchmark[], {
    rounds: Number(process.env.BENCH_ROUNDS ?? 3),
    windowMs: Number(process.env.BENCH_WINDOW_MS ?? 1000),
    warmupMs: Number(process.env.BENCH_WARMUP_MS ?? 200),
  });
} finally {
  await server.stop();
}
