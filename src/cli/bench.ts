/**
 * `jetmesh bench`: a quick measurement against any server, jetmesh beside the
 * raw NATS client on one connection: request/reply (an echo member in this
 * process) and acknowledged publishes. The full suite, with the other end in
 * its own process and several rounds, is `npm run bench` in the repository.
 */

import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { nuid } from "@nats-io/nats-core";
import type { Connection } from "../client/index.js";

export interface BenchResult {
  pattern: string;
  jetmesh: number;
  raw: number;
  ratio: number;
}

/** Operations per second of `op`, `inflight` at a time, for `seconds`. */
async function rate(op: () => Promise<unknown>, inflight: number, seconds: number): Promise<number> {
  const until = Date.now() + seconds * 1000;
  let done = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: inflight }, async () => {
      while (Date.now() < until) {
        await op();
        done++;
      }
    }),
  );
  return done / ((performance.now() - started) / 1000);
}

export async function quickBench(
  conn: Connection,
  _url: string,
  o: { seconds: number; inflight: number },
): Promise<BenchResult[]> {
  const nc = conn.nats;
  const cluster = `bench-${nuid.next().slice(-8)}`;
  const payload = new Uint8Array(128).fill(7);
  const results: BenchResult[] = [];
  const push = (pattern: string, jetmesh: number, raw: number) =>
    results.push({ pattern, jetmesh, raw, ratio: jetmesh / raw });
  try {
    const svc = await conn.register(cluster, { handleRequest: (r) => r });
    const rawSubject = `_jetmesh_bench.${cluster}`;
    const sub = nc.subscribe(rawSubject, { callback: (_e, m) => void m.respond(m.data) });
    await nc.flush();
    const jm = await rate(() => conn.request(cluster, payload), o.inflight, o.seconds);
    const raw = await rate(() => nc.request(rawSubject, payload, { timeout: 10_000 }), o.inflight, o.seconds);
    push(`request 128 B x${o.inflight} (raw: nc.request())`, jm, raw);
    sub.unsubscribe();
    await svc.unregister();

    const topic = cluster;
    const js = jetstream(nc);
    const jsm = await jetstreamManager(nc);
    const subject = `${conn.namespace}.topic.${topic}`;
    // a topics stream that was not there before the benchmark is removed after it
    const existed = await jsm.streams.find(subject).then(
      () => true,
      () => false,
    );
    const pub = await rate(() => conn.publish(topic, payload), o.inflight, o.seconds);
    const rawPub = await rate(() => js.publish(subject, payload), o.inflight, o.seconds);
    push(`publish 128 B x${o.inflight} (raw: js.publish())`, pub, rawPub);
    // what the benchmark stored is removed again
    const stream = await jsm.streams.find(subject).catch(() => undefined);
    if (stream && !existed) await jsm.streams.delete(stream).catch(() => undefined);
    else if (stream) await jsm.streams.purge(stream, { filter: subject }).catch(() => undefined);
  } finally {
    await conn.close();
  }
  return results;
}
