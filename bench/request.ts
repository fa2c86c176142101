/**
 * request/reply: jetmesh vs a hand-tuned raw requester vs the raw client's
 * default request(); and jetmesh with one no-op interceptor, the cost of the
 * call pipeline.
 */
import { connect as natsConnect } from "@nats-io/transport-node";
import { connect } from "jetmesh";
import {
  allocatedPerOp,
  type BenchConfig,
  closedLoop,
  cpuPerOp,
  cpuTotal,
  fmt,
  interleave,
  median,
  percentile,
  type Responder,
  type Sample,
  spread,
  table,
} from "./lib.js";
import { RawMux } from "./raw-mux.js";

export async function benchRequest(
  url: string,
  responder: Responder,
  config: BenchConfig,
): Promise<Record<string, number>> {
  const conn = await connect({ servers: url, namespace: "bench" });
  const intercepted = await connect({
    servers: url,
    namespace: "bench",
    interceptors: [{ outgoing: (_call, next) => next() }],
  });
  const ncDefault = await natsConnect({ servers: url });
  const ncTuned = await natsConnect({ servers: url, noAsyncTraces: true });
  const mux = new RawMux(ncTuned, 10_000);
  const headline: Record<string, number> = {};
  const rows: string[][] = [];
  const latencyRows: string[][] = [];
  try {
    for (const size of [128, 1024]) {
      const payload = new Uint8Array(size).fill(7);
      for (const inflight of [1, 16, 128]) {
        const latency = inflight === 1;
        const run = (op: () => Promise<unknown>) => () =>
          closedLoop(op, inflight, config.windowMs, config.warmupMs, latency, responder);
        const res = await interleave<Sample>(
          {
            jetmesh: run(() => conn.request("bench", payload)),
            "+interceptor": run(() => intercepted.request("bench", payload)),
            "raw tuned": run(() => mux.request("raw.req", payload)),
            "raw request()": run(() => ncDefault.request("raw.req", payload, { timeout: 10_000 })),
          },
          config.rounds,
        );
        const rate = (name: string) => (res[name] ?? []).map((s) => s.ops / s.seconds);
        const ratio = median(rate("jetmesh")) / median(rate("raw tuned"));
        const ratioDefault = median(rate("jetmesh")) / median(rate("raw request()"));
        const ratioIntercepted = median(rate("+interceptor")) / median(rate("jetmesh"));
        headline[`request ${size}B x${inflight}`] = ratio;
        rows.push([
          `${size} B`,
          String(inflight),
          spread(rate("jetmesh")),
          spread(rate("raw tuned")),
          spread(rate("raw request()")),
          `${ratio.toFixed(2)}x`,
          `${ratioDefault.toFixed(2)}x`,
          `${ratioIntercepted.toFixed(2)}x`,
          cpuPerOp(res.jetmesh),
          cpuPerOp(res["raw tuned"]),
          `${(cpuTotal(res.jetmesh) / cpuTotal(res["raw tuned"])).toFixed(2)}x`,
          `${allocatedPerOp(res.jetmesh)} / ${allocatedPerOp(res["raw tuned"])}`,
        ]);
        if (latency) {
          const lat = (name: string) => (res[name] ?? []).flatMap((s) => s.latencies ?? []);
          latencyRows.push([
            `${size} B`,
            ...["jetmesh", "+interceptor", "raw tuned", "raw request()"].map(
              (n) => `${fmt(percentile(lat(n), 50) * 1000)} / ${fmt(percentile(lat(n), 99) * 1000)}`,
            ),
          ]);
        }
      }
    }
  } finally {
    mux.close();
    await Promise.all([conn.close(), intercepted.close(), ncDefault.close(), ncTuned.close()]);
  }
  table(
    "request/reply, requests/s: median [min-max] over rounds; cpu: µs of CPU per request, caller + responder process; alloc: heap bytes the caller allocated per request",
    [
      "size",
      "in flight",
      "jetmesh",
      "raw tuned",
      "raw request()",
      "jetmesh/tuned",
      "jetmesh/request()",
      "1 no-op interceptor/none",
      "cpu µs/req jetmesh",
      "cpu raw tuned",
      "cpu jetmesh/tuned",
      "alloc B/req jetmesh / tuned",
    ],
    rows,
  );
  table(
    "request/reply, sequential latency p50 / p99 in microseconds",
    ["size", "jetmesh", "+interceptor", "raw tuned", "raw request()"],
    latencyRows,
  );
  return headline;
}
