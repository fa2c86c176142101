import { type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import { type NatsConnection, connect as natsConnect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Connection, connect, type Logger, silentLogger } from "../src/index.js";
import { type NatsCluster, startNatsCluster } from "../src/testing/index.js";
import { dec, enc, TEST_STREAM_BYTES, uniqueNamespace, waitFor, waitForAsync } from "./helpers.js";

/**
 * Topics on a stream of 3 replicas in a 3-node cluster, while a publisher
 * publishes a numbered sequence without pause and one node is killed
 * (SIGKILL): the stream's leader, the node a plain subscriber is connected
 * to, the node of its consumer (one replica, placed by the server; its
 * connection stays up), or the leader of a durable subscription's consumer
 * (3 replicas, like its stream). Every publish that resolved reaches the
 * plain subscriber once and in stream order, and the durable one at least
 * once, in stream order when first delivered. Prints what the failover cost:
 * the longest time without a resolved publish, and the time from the kill to
 * each subscriber's first event published after it.
 *
 * CLUSTER_TOPICS_RUNS=10 runs each case 10 times; CLUSTER_TOPICS_DEBUG=1 also
 * prints what the clients logged from the kill on.
 */

const RUNS = Number(process.env.CLUSTER_TOPICS_RUNS ?? 1);
const DEBUG = process.env.CLUSTER_TOPICS_DEBUG === "1";

/** A publish every this many ms, without waiting for those in flight. */
const PACE_MS = 10;
/** Publish time-out: a publish in flight to the killed leader is lost with it, and fails after this. */
const PUBLISH_TIMEOUT = 30_000;
/** The durable's ackWait (the default): an event whose delivery or ack was lost with its leader comes again after it. */
const ACK_WAIT = 30_000;
/** Generous bounds for a loaded 2-core machine (the figures measured are printed). */
const RESUME_BOUND = 15_000;
const STALL_BOUND = 20_000;

const TOPIC = "feed";
const DURABLE = "audit";
const DURABLE_CONSUMER = `durable~${TOPIC}~${DURABLE}`;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const ms = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? "-" : `${Math.round(x)} ms`);

interface Resolved {
  n: number;
  seq: number;
  at: number;
}

interface Received {
  n: number;
  seq: number;
  deliveries: number;
  at: number;
}

/** Publishes "0", "1", "2", ... every PACE_MS, pipelined; records when each was made and resolved, and the failures. */
function publishLoop(pub: Connection) {
  const issuedAt: number[] = [];
  const resolved: Resolved[] = [];
  const failed: unknown[] = [];
  const inflight = new Set<Promise<void>>();
  let running = true;
  const loop = (async () => {
    while (running) {
      const n = issuedAt.length;
      issuedAt.push(performance.now());
      const p: Promise<void> = pub.publish(TOPIC, enc(String(n)), { timeout: PUBLISH_TIMEOUT }).then(
        (ack) => {
          resolved.push({ n, seq: ack.seq, at: performance.now() });
        },
        (err: unknown) => {
          failed.push(err);
        },
      );
      inflight.add(p);
      void p.then(() => inflight.delete(p));
      await sleep(PACE_MS);
    }
    await Promise.all(inflight);
  })();
  return {
    issuedAt,
    resolved,
    failed,
    /** Stops publishing; resolves once every publish has resolved or failed. */
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

/** A handler recording what arrives, and when. */
function recording(got: Received[], then?: () => Promise<void>) {
  return (event: Uint8Array, ctx: { seq: number; deliveries: number }) => {
    got.push({ n: Number(dec(event)), seq: ctx.seq, deliveries: ctx.deliveries, at: performance.now() });
    return then?.();
  };
}

/** The longest time without a resolved publish, among the gaps that end after `from`. */
function longestGap(times: number[], from: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let longest = 0;
  for (let i = 1; i < sorted.length; i++) {
    const [a, b] = [sorted[i - 1] as number, sorted[i] as number];
    if (b > from) longest = Math.max(longest, b - Math.max(a, from));
  }
  return longest;
}

/** Each event's first arrival. */
function firstArrivals(got: Received[]): Map<number, Received> {
  const first = new Map<number, Received>();
  for (const r of got) if (!first.has(r.n)) first.set(r.n, r);
  return first;
}

/** The longest time from a publish resolving to its event's first arrival. */
function worstLag(resolved: Resolved[], got: Received[]): number {
  const first = firstArrivals(got);
  let worst = 0;
  for (const p of resolved) {
    const r = first.get(p.n);
    if (r) worst = Math.max(worst, r.at - p.at);
  }
  return worst;
}

/** The places where `seqs` does not go up: [before, after] pairs. */
function outOfOrder(seqs: number[]): Array<[number, number]> {
  const wrong: Array<[number, number]> = [];
  for (let i = 1; i < seqs.length; i++) {
    const [a, b] = [seqs[i - 1] as number, seqs[i] as number];
    if (b <= a) wrong.push([a, b]);
  }
  return wrong;
}

/** A logger keeping a connection's lines, stamped with the time (for CLUSTER_TOPICS_DEBUG). */
function recorder(name: string, lines: string[]): Logger {
  const at = (level: string) => (obj: object, msg?: string) => {
    const o = obj as { why?: unknown; err?: unknown };
    const err = o.err instanceof Error ? `: ${o.err.message}` : "";
    lines.push(`${Math.round(performance.now())} ${name} ${level} ${msg ?? ""} ${String(o.why ?? "")}${err}`);
  };
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

type Kill =
  | "stream leader"
  | "plain subscriber's node"
  | "plain subscriber's consumer's node"
  | "durable's consumer leader";
const KILLS: Kill[] = [
  "stream leader",
  "plain subscriber's node",
  "plain subscriber's consumer's node",
  "durable's consumer leader",
];

describe("topics on a 3-node cluster, stream of 3 replicas", () => {
  let cluster: NatsCluster;
  /** Asks JetStream who leads what (knows every node: it fails over itself). */
  let observer: NatsConnection;
  let jsm: JetStreamManager;

  beforeAll(async () => {
    cluster = await startNatsCluster();
    observer = await natsConnect({ servers: cluster.urls, reconnectTimeWait: 250, maxReconnectAttempts: -1 });
    jsm = await jetstreamManager(observer, { timeout: 2_000 });
  }, 120_000);

  afterAll(async () => {
    await observer?.close();
    await cluster?.stop();
  });

  /** The node leading `stream`, or its consumer `consumer`, once there is one. */
  async function leaderOf(stream: string, consumer?: string): Promise<string> {
    let leader: string | undefined;
    await waitForAsync(
      `a leader of ${consumer ?? stream}`,
      async () => {
        const info = await (consumer ? jsm.consumers.info(stream, consumer) : jsm.streams.info(stream)).catch(
          () => undefined,
        );
        leader = info?.cluster?.leader;
        return leader !== undefined;
      },
      30_000,
    );
    return leader as string;
  }

  /** The node of the plain subscriber's ordered consumer (one replica): the newest, if there were others. */
  async function orderedConsumerNode(stream: string): Promise<string | undefined> {
    let newest: { created: string; node: string | undefined } | undefined;
    for await (const c of jsm.consumers.list(stream)) {
      if (c.name.startsWith("jm_") && (newest === undefined || c.created > newest.created)) {
        newest = { created: c.created, node: c.cluster?.leader };
      }
    }
    return newest?.node;
  }

  const runs = Array.from({ length: RUNS }, (_, i) => KILLS.map((kill) => [kill, i + 1] as const)).flat();
  it.each(runs)(
    "loses no resolved publish, and keeps order, when the %s is killed (run %i)",
    async (kill, run) => {
      const names = cluster.nodes.map((n) => n.name);
      const url = (name: string) => cluster.nodes.find((n) => n.name === name)?.url as string;
      const namespace = uniqueNamespace();
      const stream = `JETMESH_TOPICS_${namespace}`;
      const lines: string[] = [];
      const opened: Connection[] = [];
      /** A connection given only `node` (it learns the others from the cluster); `role` names its debug lines. */
      const open = async (node: string, role?: string) => {
        const conn = await connect({
          servers: url(node),
          namespace,
          logger: DEBUG && role ? recorder(role, lines) : silentLogger,
          drainTimeout: 500,
          timeout: 20_000,
          topics: { maxBytes: TEST_STREAM_BYTES, replicas: 3 },
        });
        opened.push(conn);
        return conn;
      };
      try {
        // the stream and the durable's consumer, and who leads them (a node restarted by the case
        // before may count as offline for a while: no room for a third replica until then)
        const setup = await open(names[0] as string);
        await waitForAsync(
          "the stream and the durable made",
          () =>
            setup
              .subscribe(TOPIC, () => {}, { durable: DURABLE })
              .then(
                (sub) => sub.unsubscribe().then(() => true),
                () => false,
              ),
          60_000,
        );
        let streamLeader = await leaderOf(stream);
        let consumerLeader = await leaderOf(stream, DURABLE_CONSUMER);
        if (kill === "durable's consumer leader" && consumerLeader === streamLeader) {
          // the consumer's failover alone: its leader moves off the stream's
          await observer.request(`$JS.API.CONSUMER.LEADER.STEPDOWN.${stream}.${DURABLE_CONSUMER}`, "", {
            timeout: 5_000,
          });
          await waitForAsync(
            "a consumer leader other than the stream's",
            async () => {
              consumerLeader = await leaderOf(stream, DURABLE_CONSUMER);
              streamLeader = await leaderOf(stream);
              return consumerLeader !== streamLeader;
            },
            30_000,
          );
        }
        // the node to kill, and each client's node: never the killed one, but the plain subscriber's in that case
        const others = (...but: string[]) => names.filter((n) => !but.includes(n)) as [string, string];
        let [victim, plainAt, durableAt, pubAt] = (() => {
          if (kill === "stream leader") {
            const [a, b] = others(streamLeader);
            return [streamLeader, a, b, b];
          }
          if (kill === "plain subscriber's node") {
            const [victim] = others(streamLeader);
            const [rest] = others(streamLeader, victim);
            return [victim, victim, rest, rest];
          }
          if (kill === "plain subscriber's consumer's node") return ["", streamLeader, "", ""]; // known once placed
          const [a, b] = others(consumerLeader);
          return [consumerLeader, a, b, a];
        })();

        const plainGot: Received[] = [];
        const plainConn = await open(plainAt, "plain");
        let orderedAt: string | undefined;
        for (let tries = 1; ; tries++) {
          const sub = await plainConn.subscribe(TOPIC, recording(plainGot), { eventThreads: 1 });
          orderedAt = await orderedConsumerNode(stream);
          if (kill !== "plain subscriber's consumer's node") break;
          if (orderedAt !== undefined && orderedAt !== streamLeader) {
            // its consumer (one replica, placed by the server) dies alone: the connection stays
            victim = orderedAt;
            [durableAt] = others(streamLeader, victim);
            pubAt = durableAt;
            break;
          }
          expect(tries).toBeLessThan(20);
          await sub.unsubscribe(); // placed on the stream leader's node: again
        }
        const durableGot: Received[] = [];
        const durableConn = await open(durableAt, "durable");
        // each acknowledged a little after it arrived: some are not yet when the node dies
        await durableConn.subscribe(
          TOPIC,
          recording(durableGot, () => sleep(2)),
          { durable: DURABLE, eventThreads: 1 },
        );
        const pub = await open(pubAt, "pub");
        const publisher = publishLoop(pub);

        await waitFor(
          "events flowing before the kill",
          () => publisher.resolved.length >= 200 && plainGot.length >= 100 && durableGot.length >= 100,
          30_000,
        );
        orderedAt = await orderedConsumerNode(stream); // (made anew since, if it had to)
        const killedAt = performance.now();
        const server = (c: Connection) => c.nats.info?.server_name;
        lines.push(
          `${Math.round(killedAt)} kill ${victim}: plain on ${server(plainConn)}, durable on ${server(durableConn)}, publisher on ${server(pub)}`,
        );
        await cluster.kill(victim);
        /** The first event published after the kill to reach `got`. */
        const firstNew = (got: Received[]) => got.find((r) => (publisher.issuedAt[r.n] as number) > killedAt);
        await waitFor(
          "events published after the kill, resolved and received",
          () =>
            publisher.resolved.filter((p) => p.at > killedAt).length >= 200 &&
            firstNew(plainGot) !== undefined &&
            firstNew(durableGot) !== undefined,
          60_000,
        ).catch(() => {}); // (what is missing is shown below)
        await sleep(1_000);
        await publisher.stop();
        const acked = publisher.resolved.map((p) => p.n);
        const missing = (got: Received[]) => {
          const seen = new Set(got.map((r) => r.n));
          return acked.filter((n) => !seen.has(n)).sort((a, b) => a - b);
        };
        await waitFor("every resolved publish, plain", () => missing(plainGot).length === 0, 30_000).catch(() => {});
        // (an event delivered but lost with the consumer's leader may come again only after ackWait)
        await waitFor(
          "every resolved publish, durable",
          () => missing(durableGot).length === 0,
          ACK_WAIT + 30_000,
        ).catch(() => {});
        await sleep(500); // copies, if any, come too
        const failedOver =
          kill === "stream leader"
            ? await leaderOf(stream)
            : kill === "durable's consumer leader"
              ? await leaderOf(stream, DURABLE_CONSUMER)
              : undefined;

        // what the failover cost
        const stall = longestGap(
          publisher.resolved.map((p) => p.at),
          killedAt,
        );
        const resumed = (got: Received[]) => (firstNew(got)?.at ?? Number.NaN) - killedAt;
        const redelivered = durableGot.filter((r) => r.deliveries > 1).length;
        const copies = durableGot.length - firstArrivals(durableGot).size;
        console.log(
          `[nats-server ${observer.info?.version}] ${kill} ${victim} killed (run ${run}): ` +
            `publish stall ${ms(stall)} (${publisher.failed.length} of ${publisher.issuedAt.length} failed); ` +
            `plain resumed ${ms(resumed(plainGot))} (worst lag ${ms(worstLag(publisher.resolved, plainGot))}); ` +
            `durable resumed ${ms(resumed(durableGot))} (worst lag ${ms(worstLag(publisher.resolved, durableGot))}, ` +
            `${redelivered} redelivered, ${copies} copies); ` +
            `stream leader ${streamLeader}, durable's ${consumerLeader}${failedOver ? `, now ${failedOver}` : ""}, ordered consumer on ${orderedAt}`,
        );
        if (DEBUG) {
          const t0 = Math.round(killedAt);
          const since = lines.filter((l) => Number(l.split(" ")[0]) >= t0);
          console.log(since.map((l) => l.replace(/^\d+/, (t) => `+${Number(t) - t0}`)).join("\n"));
        }

        // plain: every resolved publish once, as stored, in stream order
        expect(missing(plainGot)).toEqual([]);
        expect(plainGot.length).toBe(firstArrivals(plainGot).size);
        expect(outOfOrder(plainGot.map((r) => r.seq))).toEqual([]);
        // durable: every resolved publish at least once, as stored; in stream order when first
        // delivered (one delivered again after a lost ack or delivery may come later)
        expect(missing(durableGot)).toEqual([]);
        const firstTime = [...firstArrivals(durableGot).values()].filter((r) => r.deliveries === 1);
        expect(outOfOrder(firstTime.map((r) => r.seq))).toEqual([]);
        const seqOf = new Map(publisher.resolved.map((p) => [p.n, p.seq]));
        const notAsStored = [...plainGot, ...durableGot].filter((r) => seqOf.has(r.n) && seqOf.get(r.n) !== r.seq);
        expect(notAsStored).toEqual([]);
        // the failover happened, and ended within generous bounds
        expect(publisher.resolved.some((p) => p.at < killedAt)).toBe(true);
        expect(failedOver).not.toBe(victim);
        expect(stall).toBeLessThan(STALL_BOUND);
        expect(resumed(plainGot)).toBeLessThan(RESUME_BOUND);
        expect(resumed(durableGot)).toBeLessThan(RESUME_BOUND);
      } finally {
        await Promise.all(opened.map((c) => c.close()));
        for (const n of cluster.nodes) if (!n.running) await cluster.restart(n.name);
      }
    },
    240_000,
  );
});
