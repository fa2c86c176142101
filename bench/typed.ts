/**
 * The typed path and tracing: requests through a contract (msgpack, checked
 * on both sides) beside the byte path carrying the same bytes, and byte
 * requests with an OpenTelemetry SDK on both sides (every span sampled,
 * exported to nowhere) beside the same requests with no SDK registered.
 */
import { encode } from "@msgpack/msgpack";
import { connect } from "jetmesh";
import { type BenchConfig, closedLoop, interleave, median, type Sample, spread, table } from "./lib.js";
import { BenchOrder, noopExportingProvider, ORDER } from "./typed-contract.js";

export async function benchTyped(url: string, config: BenchConfig): Promise<Record<string, number>> {
  const conn = await connect({ servers: url, namespace: "bench" });
  // the traced variant needs the SDK, a dev dependency: without it, only the typed path is measured
  const provider = await noopExportingProvider();
  const traced = provider
    ? await connect({ servers: url, namespace: "bench", telemetry: { tracerProvider: provider } })
    : undefined;
  const orders = conn.use(BenchOrder);
  const bytes = encode(ORDER);
  const headline: Record<string, number> = {};
  const rows: string[][] = [];
  try {
    for (const inflight of [1, 16, 128]) {
      const run = (op: () => Promise<unknown>) => () =>
        closedLoop(op, inflight, config.windowMs, config.warmupMs, false);
      const res = await interleave<Sample>(
        {
          bytes: run(() => conn.request("bench", bytes)),
          typed: run(() => orders.request(ORDER)),
          ...(traced ? { traced: run(() => traced.request("bench-traced", bytes)) } : {}),
        },
        config.rounds,
      );
      const rate = (name: string) => (res[name] ?? []).map((s) => s.ops / s.seconds);
      const typedRatio = median(rate("typed")) / median(rate("bytes"));
      const tracedRatio = median(rate("traced")) / median(rate("bytes"));
      headline[`typed x${inflight}`] = typedRatio;
      if (traced) headline[`traced x${inflight}`] = tracedRatio;
      rows.push([
        String(inflight),
        spread(rate("bytes")),
        spread(rate("typed")),
        traced ? spread(rate("traced")) : "(no SDK installed)",
        `${typedRatio.toFixed(2)}x`,
        traced ? `${tracedRatio.toFixed(2)}x` : "-",
      ]);
    }
  } finally {
    await Promise.all([conn.close(), traced?.close()]);
    await provider?.shutdown();
  }
  table(
    `typed and traced requests (${bytes.byteLength} B msgpack object), requests/s: median [min-max] over rounds`,
    ["in flight", "bytes", "typed", "traced (SDK both sides)", "typed/bytes", "traced/bytes"],
    rows,
  );
  return headline;
}
