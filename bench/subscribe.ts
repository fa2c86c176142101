/**
 * topics subscribe: how fast a backlog of 128 B events is delivered, jetmesh's
 * conn.subscribe (ordered, handler just counts) vs the raw client's ordered
 * consumer with consume(): as it comes (100 messages a pull), and with
 * max_messages 4096, the batch jetmesh's ordered subscription pulls. The
 * events are stored once, up front; each measurement replays all of them from
 * the first, from subscribing until the last arrives, then tears its
 * subscription down.
 */
import { DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect as natsConnect } from "@nats-io/transport-node";
import { connect } from "jetmesh";
import {
  type BenchConfig,
  cpuPerOp,
  cpuTotal,
  cpuWindow,
  interleave,
  median,
  type Sample,
  spread,
  table,
} from "./lib.js";
import { RawPub } from "./raw-pub.js";

const NAMESPACE = "benchsub";
const STREAM = `JETMESH_TOPICS_${NAMESPACE}`;
const TOPIC = "bench";
const SUBJECT = `${NAMESPACE}.topic.${TOPIC}`;
const SIZE = 128;
/** Events a pull of jetmesh's ordered subscription asks for at most. */
const ORDERED_BATCH = 4_096;
/** A measurement that has not seen every event after this long has stalled. */
const STALL_MS = 60_000;

/** Resolves once `count()` reaches `n` (via `arrived`), rejecting after STALL_MS. */
function counter(n: number, what: string) {
  let count = 0;
  let done: () => void = () => {};
  let timer: ReturnType<typeof setTimeout> | undefined;
  const all = new Promise<void>((resolve, reject) => {
    done = resolve;
    timer = setTimeout(() => reject(new Error(`${what}: ${count} of ${n} events after ${STALL_MS} ms`)), STALL_MS);
  }).finally(() => clearTimeout(timer));
  return {
    arrived: () => {
      if (++count === n) done();
    },
    all,
    get count() {
      return count;
    },
  };
}

export async function benchSubscribe(url: string, config: BenchConfig): Promise<Record<string, number>> {
  const conn = await connect({ servers: url, namespace: NAMESPACE });
  const nc = await natsConnect({ servers: url, noAsyncTraces: true });
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  const raw = new RawPub(nc, 30_000);
  // enough events for about one window each at a few hundred thousand per second
  const events = Math.max(20_000, Math.round(config.windowMs * 200));
  const rows: string[][] = [];
  let ratio = 0;
  let ratioBatch = 0;
  try {
    const payload = new Uint8Array(SIZE).fill(9);
    // jetmesh's first publish creates the stream; the rest go in pipelined, 512 at a time
    const first = (await conn.publish(TOPIC, payload)).seq;
    let left = events - 1;
    const loader = async () => {
      while (left-- > 0) await raw.publish(SUBJECT, payload);
    };
    await Promise.all(Array.from({ length: 512 }, loader));

    const jetmesh = async (): Promise<Sample> => {
      const c = counter(events, "jetmesh subscribe");
      const cpuEnd = await cpuWindow();
      const t0 = performance.now();
      const sub = await conn.subscribe(TOPIC, c.arrived, { from: { seq: first } });
      try {
        await c.all;
        const seconds = (performance.now() - t0) / 1000;
        const handled = sub.stats().events;
        if (handled !== events) throw new Error(`jetmesh subscribe: handler ran ${handled} times for ${events}`);
        return { ops: events, seconds, cpu: await cpuEnd() };
      } finally {
        await sub.unsubscribe();
      }
    };
    const rawOrdered = (maxMessages?: number) => async (): Promise<Sample> => {
      const c = counter(events, `raw ordered consumer${maxMessages ? ` (max_messages ${maxMessages})` : ""}`);
      const cpuEnd = await cpuWindow();
      const t0 = performance.now();
      const consumer = await js.consumers.get(STREAM, {
        // a string, not an array: filter_subjects (plural) needs nats-server 2.10
        filter_subjects: SUBJECT,
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: first,
      });
      const msgs = await consumer.consume(
        maxMessages ? { callback: c.arrived, max_messages: maxMessages } : { callback: c.arrived },
      );
      try {
        await c.all;
        const seconds = (performance.now() - t0) / 1000;
        return { ops: events, seconds, cpu: await cpuEnd() };
      } finally {
        await msgs.close();
        await consumer.delete().catch(() => {});
      }
    };

    const variants = {
      jetmesh,
      "raw ordered": rawOrdered(),
      "raw ordered 4096": rawOrdered(ORDERED_BATCH),
    };
    // one untimed pass each: JIT, and the stream's blocks in the page cache
    for (const v of Object.values(variants)) await v();
    const res = await interleave<Sample>(variants, config.rounds);
    const rate = (name: string) => (res[name] ?? []).map((x) => x.ops / x.seconds);
    ratio = median(rate("jetmesh")) / median(rate("raw ordered"));
    ratioBatch = median(rate("jetmesh")) / median(rate("raw ordered 4096"));
    rows.push([
      `${SIZE} B`,
      String(events),
      spread(rate("jetmesh")),
      spread(rate("raw ordered")),
      spread(rate("raw ordered 4096")),
      `${ratio.toFixed(2)}x`,
      `${ratioBatch.toFixed(2)}x`,
      cpuPerOp(res.jetmesh),
      cpuPerOp(res["raw ordered"]),
      `${(cpuTotal(res.jetmesh) / cpuTotal(res["raw ordered"])).toFixed(2)}x`,
    ]);
    await jsm.streams.delete(STREAM);
  } finally {
    raw.close();
    await Promise.all([conn.close(), nc.close()]);
  }
  table(
    "topics subscribe, events/s delivered from a stored backlog: median [min-max] over rounds; cpu: µs of the subscribing process per event",
    [
      "size",
      "events",
      "jetmesh",
      "raw ordered",
      "raw ordered 4096",
      "jetmesh/raw",
      "jetmesh/raw 4096",
      "cpu µs/event jetmesh",
      "cpu raw",
      "cpu jetmesh/raw",
    ],
    rows,
  );
  return { [`subscribe ${SIZE}B`]: ratio, [`subscribe ${SIZE}B vs 4096/pull`]: ratioBatch };
}
