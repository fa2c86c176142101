/**
 * broadcast: a loop of `await conn.broadcast()` vs a loop of the raw client's
 * `nc.publish()` (not awaited, the fastest a raw sender goes), counted at the
 * receiver in another process; and a lone broadcast's latency, as the round
 * trip to a receiver that echoes it back over core NATS.
 */
import { connect as natsConnect } from "@nats-io/transport-node";
import { connect } from "jetmesh";
import {
  type BenchConfig,
  cpuPerOp,
  cpuTotal,
  cpuWindow,
  fmt,
  interleave,
  median,
  percentile,
  type Responder,
  type Sample,
  sleep,
  spread,
  table,
} from "./lib.js";

type Counts = { jetmesh: number; raw: number };
/** Messages sent between two flushes of the sender. */
const BATCH = 1000;
/** Lone broadcasts timed per round, one at a time. */
const LONE = 500;

/** Sends batches for `ms` ms; returns what the receiver counted, with both processes' CPU time. */
async function oneWay(
  sendBatch: () => Promise<void>,
  flush: () => Promise<void>,
  responder: Responder,
  which: keyof Counts,
  ms: number,
): Promise<Sample> {
  const before = (await responder.call<Counts>("counts"))[which];
  const cpuEnd = await cpuWindow(responder);
  const t0 = performance.now();
  let sent = 0;
  while (performance.now() - t0 < ms) {
    await sendBatch();
    sent += BATCH;
    await flush();
  }
  let received = 0;
  let last = -1;
  for (;;) {
    received = (await responder.call<Counts>("counts"))[which] - before;
    if (received >= sent || received === last) break;
    last = received;
    await sleep(20);
  }
  const seconds = (performance.now() - t0) / 1000;
  return { ops: received, seconds, cpu: await cpuEnd() };
}

export async function benchBroadcast(
  url: string,
  responder: Responder,
  config: BenchConfig,
): Promise<Record<string, number>> {
  const conn = await connect({ servers: url, namespace: "bench" });
  const nc = await natsConnect({ servers: url, noAsyncTraces: true });
  // the echoes of lone broadcasts come back here
  let echoed: (() => void) | undefined;
  nc.subscribe("bench.echo.>", { callback: () => echoed?.() });
  await nc.flush();
  const headline: Record<string, number> = {};
  const rows: string[][] = [];
  const latencyRows: string[][] = [];
  try {
    for (const size of [128, 1024]) {
      const payload = new Uint8Array(size).fill(3);
      const res = await interleave<Sample>(
        {
          jetmesh: () =>
            oneWay(
              async () => {
                for (let i = 0; i < BATCH; i++) await conn.broadcast("bench", payload);
              },
              () => conn.nats.flush(),
              responder,
              "jetmesh",
              config.windowMs,
            ),
          "raw publish": () =>
            oneWay(
              async () => {
                for (let i = 0; i < BATCH; i++) nc.publish("raw.bcast", payload);
              },
              () => nc.flush(),
              responder,
              "raw",
              config.windowMs,
            ),
        },
        config.rounds,
      );
      const rate = (name: string) => (res[name] ?? []).map((s) => s.ops / s.seconds);
      const ratio = median(rate("jetmesh")) / median(rate("raw publish"));
      headline[`broadcast ${size}B`] = ratio;
      rows.push([
        `${size} B`,
        spread(rate("jetmesh")),
        spread(rate("raw publish")),
        `${ratio.toFixed(2)}x`,
        cpuPerOp(res.jetmesh),
        cpuPerOp(res["raw publish"]),
        `${(cpuTotal(res.jetmesh) / cpuTotal(res["raw publish"])).toFixed(2)}x`,
      ]);

      const roundTrip = (send: () => unknown) => async (): Promise<number[]> => {
        const times: number[] = [];
        for (let i = 0; i < LONE; i++) {
          const back = new Promise<void>((resolve) => {
            echoed = resolve;
          });
          const t0 = performance.now();
          await send();
          await back;
          times.push(performance.now() - t0);
        }
        return times;
      };
      const lone = await interleave<number[]>(
        {
          jetmesh: roundTrip(() => conn.broadcast("bench-echo", payload)),
          "raw publish": roundTrip(() => nc.publish("raw.bcast.echo", payload)),
        },
        config.rounds,
      );
      const lat = (name: string) => (lone[name] ?? []).flat();
      latencyRows.push([
        `${size} B`,
        ...["jetmesh", "raw publish"].map(
          (n) => `${fmt(percentile(lat(n), 50) * 1000)} / ${fmt(percentile(lat(n), 99) * 1000)}`,
        ),
        `${(percentile(lat("jetmesh"), 50) / percentile(lat("raw publish"), 50)).toFixed(2)}x`,
      ]);
    }
  } finally {
    echoed = undefined;
    await Promise.all([conn.close(), nc.close()]);
  }
  table(
    "broadcast, a loop of `await conn.broadcast()` vs a loop of `nc.publish()`, messages/s received: median [min-max] over rounds; cpu: µs per message, sender + receiver process",
    ["size", "jetmesh", "raw publish", "jetmesh/raw", "cpu µs/msg jetmesh", "cpu raw", "cpu jetmesh/raw"],
    rows,
  );
  table(
    "broadcast, a lone message's round trip (sent, echoed back by the receiver over core NATS), p50 / p99 in microseconds",
    ["size", "jetmesh", "raw publish", "p50 jetmesh/raw"],
    latencyRows,
  );
  return headline;
}
