/**
 * jetmesh benchmarks: each pattern beside the raw NATS client, in one run,
 * against one server, with the other end in its own process.
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
import { exampleServer } from "../examples/shared/server.js";
import { benchBroadcast } from "./broadcast.js";
import { type BenchConfig, Responder } from "./lib.js";
import { benchPublish } from "./publish.js";
import { benchRequest } from "./request.js";
import { benchSubscribe } from "./subscribe.js";
import { benchTunnel } from "./tunnel.js";
import { benchTyped } from "./typed.js";

const config: BenchConfig = {
  rounds: Number(process.env.BENCH_ROUNDS ?? 3),
  windowMs: Number(process.env.BENCH_WINDOW_MS ?? 1000),
  warmupMs: Number(process.env.BENCH_WARMUP_MS ?? 200),
};
const all = ["request", "broadcast", "publish", "subscribe", "tunnel", "typed"];
const chosen = process.argv.slice(2).length ? process.argv.slice(2) : all;
for (const c of chosen) {
  if (!all.includes(c)) {
    console.error(`unknown benchmark ${c}; choose from ${all.join(", ")}`);
    process.exit(2);
  }
}

const server = await exampleServer();
const responder = await Responder.start(server.url);
const guard = setTimeout(() => {
  console.error("benchmark took longer than 20 minutes; stopping");
  responder.stop();
  process.exit(1);
}, 20 * 60_000).unref();
const headline: Record<string, number> = {};
try {
  console.log(`jetmesh benchmarks: ${config.rounds} rounds x ${config.windowMs} ms windows, server ${server.url}`);
  if (chosen.includes("request")) Object.assign(headline, await benchRequest(server.url, config));
  if (chosen.includes("broadcast")) Object.assign(headline, await benchBroadcast(server.url, responder, config));
  if (chosen.includes("publish")) Object.assign(headline, await benchPublish(server.url, config));
  if (chosen.includes("subscribe")) Object.assign(headline, await benchSubscribe(server.url, config));
  if (chosen.includes("tunnel")) Object.assign(headline, await benchTunnel(server.url, config));
  if (chosen.includes("typed")) Object.assign(headline, await benchTyped(server.url, config));
} finally {
  clearTimeout(guard);
  responder.stop();
  await server.stop();
}
console.log(
  `\nheadline (jetmesh / raw; typed and traced / jetmesh bytes): ${Object.entries(headline)
    .map(([k, v]) => `${k} ${v.toFixed(2)}x`)
    .join(", ")}`,
);
