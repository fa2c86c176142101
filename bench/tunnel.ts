/**
 * tunnels: one-way throughput of a jetmesh tunnel (the opener sends as fast
 * as `await tun.send()` lets it, a member in another process reads and
 * counts) vs the raw JetStream pipeline of the same shape: a memory-storage
 * stream, a hand-pipelined publisher keeping at most the tunnel's window of
 * bytes unacknowledged, and an ordered consumer with consume() in the other
 * process. Both are counted where messages arrive: the receiving process's
 * counts and clock after the warm-up and after the window; the streams are
 * purged before each measurement, once the previous one has been read to the
 * end.
 */
import { DiscardPolicy, jetstreamManager, StorageType } from "@nats-io/jetstream";
import { connect as natsConnect } from "@nats-io/transport-node";
import { connect, TUNNELS_DEFAULTS } from "jetmesh";
import {
  type BenchConfig,
  cpuPerOp,
  cpuTotal,
  cpuWindow,
  interleave,
  median,
  Responder,
  type Sample,
  sleep,
  spread,
  table,
} from "./lib.js";
import { RawPub } from "./raw-pub.js";
import type { Counts, Mark, SinkArgs } from "./tunnel-sink.js";

const NAMESPACE = "benchtun";
const CLUSTER = "sink";
const STREAM = `JETMESH_TUNNELS_${NAMESPACE}`;
const RAW_STREAM = "RAWTUN";
const RAW_SUBJECT = "rawtun.data";
/** jetmesh's default tunnel window; the raw publisher keeps as many bytes unacknowledged. */
const WINDOW = TUNNELS_DEFAULTS.window;
/**
 * The raw stream's bound: its reader keeps up (and the stream is purged
 * between measurements), so this is far more than it holds; were it reached,
 * publishes fail (discard new) and the benchmark stops with the error.
 */
const RAW_MAX_BYTES = 1024 * 1024 * 1024;
/** The most bytes a raw pull asks for. */
const RAW_PULL_BYTES = 16 * 1024 * 1024;
/**
 * How the raw ordered consumer pulls messages of `size` bytes: 100 a pull (the
 * client's default), as few as make 16 MiB. Tried: counts of 1 024, and of
 * one window (16 384 down to 4), did no better; 100 messages of 1 MiB overrun
 * the server's 64 MiB of pending bytes for a client, which cuts the connection
 * (slow consumer); by bytes, the client tops pulls up with the bytes left
 * over, which a large message does not fit, and consume() stalls.
 */
function rawConsume(size: number): { max_messages: number } {
  return { max_messages: Math.max(1, Math.min(100, Math.floor(RAW_PULL_BYTES / size))) };
}
const MIB = 1024 * 1024;
/** A measurement not read to the end after this long has stalled. */
const STALL_MS = 30_000;

type Which = "jetmesh" | "raw";

/** Sends at most `window` bytes not yet acknowledged by JetStream, waiting for acks to make room. */
function pipelined(raw: RawPub, subject: string, window: number) {
  let inFlight = 0;
  let failed: unknown;
  let wake: (() => void) | undefined;
  const acked = (n: number) => () => {
    inFlight -= n;
    const w = wake;
    wake = undefined;
    w?.();
  };
  return async (payload: Uint8Array): Promise<void> => {
    const n = payload.byteLength;
    while (inFlight > 0 && inFlight + n > window && failed === undefined) {
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
    if (failed !== undefined) throw failed;
    inFlight += n;
    raw.publish(subject, payload).then(acked(n), (err: unknown) => {
      failed = err;
      acked(n)();
    });
  };
}

export async function benchTunnel(url: string, config: BenchConfig): Promise<Record<string, number>> {
  const nc = await natsConnect({ servers: url, noAsyncTraces: true });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({
    name: RAW_STREAM,
    subjects: ["rawtun.>"],
    storage: StorageType.Memory,
    max_bytes: RAW_MAX_BYTES,
    discard: DiscardPolicy.New,
  });
  const maxPayload = nc.info?.max_payload ?? MIB;
  const args: SinkArgs = {
    namespace: NAMESPACE,
    cluster: CLUSTER,
    window: WINDOW,
    rawStream: RAW_STREAM,
    rawSubject: RAW_SUBJECT,
  };
  const sink = await Responder.start(url, "./tunnel-sink.js", [JSON.stringify(args)]);
  const conn = await connect({ servers: url, namespace: NAMESPACE, tunnels: { window: WINDOW } });
  const raw = new RawPub(nc, 30_000);
  const headline: Record<string, number> = {};
  const rows: string[][] = [];
  try {
    const tun = await conn.tunnel(CLUSTER, { timeout: 10_000 });
    const rawSend = pipelined(raw, RAW_SUBJECT, WINDOW);
    const sent: Record<Which, number> = { jetmesh: 0, raw: 0 };

    /** Waits until the sink has every message sent so far. */
    const drained = async (which: Which) => {
      const t0 = performance.now();
      for (;;) {
        const got = (await sink.call<Mark>("mark"))[which].msgs;
        if (got >= sent[which]) return;
        if (performance.now() - t0 > STALL_MS) {
          throw new Error(`tunnel ${which}: ${got} of ${sent[which]} messages read after ${STALL_MS} ms`);
        }
        await sleep(10);
      }
    };

    /** Sends for the warm-up and the window; returns what arrived in the window, per second of the sink's clock. */
    const measure = (which: Which, send: (p: Uint8Array) => Promise<void>, payload: Uint8Array) => async () => {
      // the previous measurements (of either) read to the end, so that purging drops nothing unread
      await drained("jetmesh");
      await drained("raw");
      await Promise.all([jsm.streams.purge(STREAM), jsm.streams.purge(RAW_STREAM)]);
      let stop = false;
      const sender = (async () => {
        while (!stop) {
          await send(payload);
          sent[which]++;
        }
      })();
      try {
        await sleep(config.warmupMs);
        const cpuEnd = await cpuWindow(sink);
        const a = await sink.call<Mark>("mark");
        await sleep(config.windowMs);
        const b = await sink.call<Mark>("mark");
        const cpu = await cpuEnd();
        const seconds = (b.at - a.at) / 1000;
        const delta = (c: keyof Counts) => b[which][c] - a[which][c];
        const sample: Sample = { ops: delta("msgs"), seconds, cpu };
        return { msgs: delta("msgs") / seconds, bytes: delta("bytes") / seconds, sample };
      } finally {
        stop = true;
        await sender;
      }
    };

    for (const size of [128, 64 * 1024, MIB]) {
      const payload = new Uint8Array(size).fill(11);
      // raw: one JetStream message at most max_payload (so exactly 1 MiB with the default server)
      const rawPayload = size > maxPayload ? payload.subarray(0, maxPayload) : payload;
      const small = size < 1024;
      const consume = rawConsume(rawPayload.byteLength);
      await drained("raw");
      await sink.call(`consume ${JSON.stringify(consume)}`);
      const variants = {
        jetmesh: measure("jetmesh", (p) => tun.send(p), payload),
        raw: measure("raw", rawSend, rawPayload),
      };
      // one untimed pass each: JIT, and the streams' consumers warmed
      for (const v of Object.values(variants)) await v();
      const res = await interleave(variants, config.rounds);
      const rate = (name: Which) => (res[name] ?? []).map((r) => (small ? r.msgs : r.bytes / 1e6));
      const ratio = median(rate("jetmesh")) / median(rate("raw"));
      const label = size >= MIB ? `${size / MIB} MiB` : size >= 1024 ? `${size / 1024} KiB` : `${size} B`;
      headline[`tunnel ${label.replace(" ", "")}`] = ratio;
      rows.push([
        label,
        small ? "msgs/s" : "MB/s",
        String(consume.max_messages),
        spread(rate("jetmesh")),
        spread(rate("raw")),
        `${ratio.toFixed(2)}x`,
        cpuPerOp(res.jetmesh?.map((r) => r.sample)),
        cpuPerOp(res.raw?.map((r) => r.sample)),
        `${(cpuTotal(res.jetmesh?.map((r) => r.sample)) / cpuTotal(res.raw?.map((r) => r.sample))).toFixed(2)}x`,
      ]);
    }
    await drained("jetmesh");
    await drained("raw");
    await tun.close();
  } finally {
    raw.close();
    sink.stop();
    await conn.close();
    await jsm.streams.delete(RAW_STREAM).catch(() => {});
    await jsm.streams.delete(STREAM).catch(() => {});
    await nc.close();
  }
  table(
    `tunnel one-way, received in another process, messages/s (128 B) or MB/s (10^6 bytes): median [min-max] over rounds\n` +
      `(raw: memory-storage JetStream, publishes with at most ${WINDOW / MIB} MiB unacknowledged -> ordered consumer, ` +
      `consume() with "raw pull" messages a pull; raw 1 MiB = one message of max_payload ${maxPayload} B, ` +
      `jetmesh's ${WINDOW / MIB} MiB window, 1 MiB = 2 chunks); cpu: µs per message, sender + receiving process`,
    ["size", "unit", "raw pull", "jetmesh", "raw", "jetmesh/raw", "cpu µs/msg jetmesh", "cpu raw", "cpu jetmesh/raw"],
    rows,
  );
  return headline;
}
