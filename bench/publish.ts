/**
 * topics publish: jetmesh's acknowledged publish vs a hand-pipelined raw
 * publisher (plain, and with the `Nats-Msg-Id` header de-duplication needs)
 * vs the raw client's js.publish(), all storing into one stream
 * (jetmesh's topics stream of namespace "benchpub"), purged before each
 * measurement so every window starts from an empty stream. Each measurement
 * runs in a process of its own (isolated.ts).
 */
import { jetstreamManager } from "@nats-io/jetstream";
import { connect as natsConnect } from "@nats-io/transport-node";
import { connect } from "jetmesh";
import { measureIsolated } from "./isolated.js";
import {
  type BenchConfig,
  cpuPerOp,
  cpuTotal,
  fmt,
  interleave,
  median,
  percentile,
  type Sample,
  spread,
  table,
} from "./lib.js";
import { PUBLISH_NAMESPACE } from "./variants.js";

const STREAM = `JETMESH_TOPICS_${PUBLISH_NAMESPACE}`;
const VARIANTS = ["jetmesh", "raw pipelined", "raw + Msg-Id", "js.publish()"] as const;

export async function benchPublish(url: string, config: BenchConfig): Promise<Record<string, number>> {
  const conn = await connect({ servers: url, namespace: PUBLISH_NAMESPACE });
  const nc = await natsConnect({ servers: url });
  const jsm = await jetstreamManager(nc);
  const headline: Record<string, number> = {};
  const rows: string[][] = [];
  const latencyRows: string[][] = [];
  try {
    // jetmesh's first publish creates the stream the raw publishers use too
    await conn.publish("bench", new Uint8Array(1));
    for (const size of [128, 16 * 1024]) {
      for (const inflight of [1, 256]) {
        const latency = inflight === 1;
        const args = { size, inflight, windowMs: config.windowMs, warmupMs: config.warmupMs, latency };
        const run = (name: string) => async () => {
          await jsm.streams.purge(STREAM);
          return measureIsolated(url, `publish ${name}`, args);
        };
        const res = await interleave<Sample>(
          Object.fromEntries(VARIANTS.map((v) => [v, run(v)] as const)),
          config.rounds,
        );
        const rate = (name: string) => (res[name] ?? []).map((s) => s.ops / s.seconds);
        const ratio = median(rate("jetmesh")) / median(rate("raw pipelined"));
        const ratioJs = median(rate("jetmesh")) / median(rate("js.publish()"));
        const ratioId = median(rate("jetmesh")) / median(rate("raw + Msg-Id"));
        const label = size >= 1024 ? `${size / 1024} KiB` : `${size} B`;
        // the headline is against the publisher that de-duplicates too: Nats-Msg-Id is part of the contract
        headline[`publish ${size >= 1024 ? `${size / 1024}KiB` : `${size}B`} x${inflight}`] = ratioId;
        rows.push([
          label,
          String(inflight),
          spread(rate("jetmesh")),
          spread(rate("raw pipelined")),
          spread(rate("raw + Msg-Id")),
          spread(rate("js.publish()")),
          `${ratio.toFixed(2)}x`,
          `${ratioId.toFixed(2)}x`,
          `${ratioJs.toFixed(2)}x`,
          cpuPerOp(res.jetmesh),
          cpuPerOp(res["raw + Msg-Id"]),
          `${(cpuTotal(res.jetmesh) / cpuTotal(res["raw + Msg-Id"])).toFixed(2)}x`,
        ]);
        if (latency) {
          const lat = (name: string) => (res[name] ?? []).flatMap((s) => s.latencies ?? []);
          latencyRows.push([
            label,
            ...["jetmesh", "raw pipelined", "js.publish()"].map(
              (n) => `${fmt(percentile(lat(n), 50) * 1000)} / ${fmt(percentile(lat(n), 99) * 1000)}`,
            ),
          ]);
        }
      }
    }
    await jsm.streams.delete(STREAM);
  } finally {
    await Promise.all([conn.close(), nc.close()]);
  }
  table(
    "topics publish (acked, file storage), publishes/s: median [min-max] over rounds; cpu: µs of the publishing process per publish",
    [
      "size",
      "in flight",
      "jetmesh",
      "raw pipelined",
      "raw + Msg-Id",
      "js.publish()",
      "jetmesh/pipelined",
      "jetmesh/+Msg-Id",
      "jetmesh/js.publish()",
      "cpu µs/pub jetmesh",
      "cpu raw + Msg-Id",
      "cpu jetmesh/+Msg-Id",
    ],
    rows,
  );
  table(
    "topics publish, sequential latency p50 / p99 in microseconds",
    ["size", "jetmesh", "raw pipelined", "js.publish()"],
    latencyRows,
  );
  return headline;
}
