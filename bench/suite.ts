/**
 * The benchmark suite: each pattern beside the raw NATS client, in one run,
 * against one server, with the other end in its own process. Run by
 * `npm run bench` (main.ts) and by `jetmesh bench`.
 */

import { cpus } from "node:os";
import { benchBroadcast } from "./broadcast.js";
import { type BenchConfig, Responder, startLoad } from "./lib.js";
import { benchPublish } from "./publish.js";
import { benchRequest } from "./request.js";
import { benchSubscribe } from "./subscribe.js";
import { benchTunnel } from "./tunnel.js";
import { benchTyped } from "./typed.js";

/** Every benchmark of the suite, in the order they run. */
export const BENCHMARKS = ["request", "broadcast", "publish", "subscribe", "tunnel", "typed"] as const;
export type Benchmark = (typeof BENCHMARKS)[number];

/** Runs `chosen` against the server at `url`, printing tables; resolves with the headline ratios. */
export async function runSuite(
  url: string,
  chosen: readonly Benchmark[],
  config: BenchConfig,
): Promise<Record<string, number>> {
  const responder = await Responder.start(url);
  const guard = setTimeout(() => {
    console.error("benchmark took longer than 20 minutes; stopping");
    responder.stop();
    process.exit(1);
  }, 20 * 60_000).unref();
  const headline: Record<string, number> = {};
  const stopLoad = startLoad();
  try {
    console.log(
      `jetmesh benchmarks: ${config.rounds} rounds x ${config.windowMs} ms windows, server ${url}; ` +
        `${cpus().length} cores (${cpus()[0]?.model ?? "unknown"}), Node ${process.version}; ` +
        (stopLoad ? "BENCH_LOAD=1: one core kept busy by another process" : "no added load"),
    );
    if (chosen.includes("request")) Object.assign(headline, await benchRequest(url, responder, config));
    if (chosen.includes("broadcast")) Object.assign(headline, await benchBroadcast(url, responder, config));
    if (chosen.includes("publish")) Object.assign(headline, await benchPublish(url, config));
    if (chosen.includes("subscribe")) Object.assign(headline, await benchSubscribe(url, config));
    if (chosen.includes("tunnel")) Object.assign(headline, await benchTunnel(url, config));
    if (chosen.includes("typed")) Object.assign(headline, await benchTyped(url, config));
  } finally {
    stopLoad?.();
    clearTimeout(guard);
    responder.stop();
  }
  console.log(
    `\nheadline (jetmesh / raw; typed and traced / jetmesh bytes): ${Object.entries(headline)
      .map(([k, v]) => `${k} ${v.toFixed(2)}x`)
      .join(", ")}`,
  );
  return headline;
}
