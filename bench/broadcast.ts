/** broadcast: jetmesh broadcast vs raw core publish, counted at the receiver. */
import { connect as natsConnect } from "@nats-io/transport-node";
import { connect } from "jetmesh";
import { type BenchConfig, interleave, median, type Responder, sleep, spread, table } from "./lib.js";

type Counts = { jetmesh: number; raw: number };

/** Sends for `ms` ms, flushing every `batch` messages; returns messages/s seen by the receiver. */
async function oneWay(
  send: () => unknown,
  flush: () => Promise<void>,
  responder: Responder,
  which: keyof Counts,
  ms: number,
): Promise<number> {
  const before = (await responder.call<Counts>("counts"))[which];
  const t0 = performance.now();
  let sent = 0;
  while (performance.now() - t0 < ms) {
    for (let i = 0; i < 1000; i++) await send();
    sent += 1000;
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
  return received / ((performance.now() - t0) / 1000);
}

export async function benchBroadcast(
  url: string,
  responder: Responder,
  config: BenchConfig,
): Promise<Record<string, number>> {
  const conn = await connect({ servers: url, namespace: "bench" });
  const nc = await natsConnect({ servers: url });
  const headline: Record<string, number> = {};
  const rows: string[][] = [];
  try {
    for (const size of [128, 1024]) {
      const payload = new Uint8Array(size).fill(3);
      const res = await interleave<number>(
        {
          jetmesh: () =>
            oneWay(
              () => conn.broadcast("bench", payload),
              () => conn.nats.flush(),
              responder,
              "jetmesh",
              config.windowMs,
            ),
          "raw publish": () =>
            oneWay(
              () => nc.publish("raw.bcast", payload),
              () => nc.flush(),
              responder,
              "raw",
              config.windowMs,
            ),
        },
        config.rounds,
      );
      const ratio = median(res.jetmesh ?? []) / median(res["raw publish"] ?? []);
      headline[`broadcast ${size}B`] = ratio;
      rows.push([`${size} B`, spread(res.jetmesh ?? []), spread(res["raw publish"] ?? []), `${ratio.toFixed(2)}x`]);
    }
  } finally {
    await Promise.all([conn.close(), nc.close()]);
  }
  table(
    "broadcast, messages/s received: median [min-max] over rounds",
    ["size", "jetmesh", "raw publish", "jetmesh/raw"],
    rows,
  );
  return headline;
}
