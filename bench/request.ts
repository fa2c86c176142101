/**
 * request/reply: jetmesh vs a hand-tuned raw requester vs the raw client's
 * default request(); and jetmesh with one no-op interceptor, the cost of the
 * call pipeline. Each measurement runs in a process of its own (isolated.ts),
 * the responder in another.
 */
import { measureIsolated } from "./isolated.js";
import {
  allocatedPerOp,
  type BenchConfig,
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

const VARIANTS = ["jetmesh", "+interceptor", "raw tuned", "raw request()"] as const;

export async function benchRequest(
  url: string,
  responder: Responder,
  config: BenchConfig,
): Promise<Record<string, number>> {
  const headline: Record<string, number> = {};
  const rows: string[][] = [];
  const latencyRows: string[][] = [];
  for (const size of [128, 1024]) {
    for (const inflight of [1, 16, 128]) {
      const latency = inflight === 1;
      const args = { size, inflight, windowMs: config.windowMs, warmupMs: config.warmupMs, latency };
      const res = await interleave<Sample>(
        Object.fromEntries(
          VARIANTS.map((v) => [v, () => measureIsolated(url, `request ${v}`, args, responder)] as const),
        ),
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
        const p50 = (name: string) => percentile(lat(name), 50);
        headline[`request ${size}B p50 latency`] = p50("jetmesh") / p50("raw tuned");
        latencyRows.push([
          `${size} B`,
          ...VARIANTS.map((n) => `${fmt(p50(n) * 1000)} / ${fmt(percentile(lat(n), 99) * 1000)}`),
          `${(p50("jetmesh") / p50("raw tuned")).toFixed(2)}x`,
        ]);
      }
    }
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
    ["size", ...VARIANTS, "p50 jetmesh/tuned"],
    latencyRows,
  );
  return headline;
}
