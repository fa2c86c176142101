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
 *
 * BENCH_ROUNDS (default 3), BENCH_WINDOW_MS (1000), BENCH_WARMUP_MS (200).
 */
import { startNats } from "jetmesh/testing";
import { BENCHMARKS, type Benchmark, runSuite } from "./suite.js";

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
