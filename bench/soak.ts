/**
 * soak: every pattern at once, at a moderate steady rate, for minutes, against
 * one server, with the member (request handler reading ctx.signal, broadcast
 * handler, tunnel echo, a plain and a durable subscriber) in its own process.
 * Every interval it prints the heap, ArrayBuffers and RSS of this process and
 * of the member (each after a forced gc when one can be had), and the
 * operations done; at the end, the growth per 100k operations from a baseline
 * taken after the warm-up, and whether anything was lost.
 */
import { jetstreamManager } from "@nats-io/jetstream";
import { connect as natsConnect } from "@nats-io/transport-node";
import { connect } from "jetmesh";
import { Responder, sleep } from "./lib.js";
import { type Memory, measure, mib, signed } from "./soak-memory.js";

export interface SoakOptions {
  /** How long the soak runs, in seconds. */
  seconds: number;
  /** Seconds between report lines. */
  interval: number;
  /** Only these patterns (default all), to tell which one a growth comes from. */
  only?: readonly Pattern[];
}

/** The steady rates, per second, and how many calls each pattern keeps in flight at most. */
const RATES = {
  requests: { rate: 1000, inflight: 16 },
  broadcasts: { rate: 1000, inflight: 1 },
  publishPlain: { rate: 250, inflight: 8 },
  publishDurable: { rate: 250, inflight: 8 },
  tunnels: { rate: 5, inflight: 2 },
} as const;
/** Round trips through each tunnel before it is closed. */
const TUNNEL_ROUND_TRIPS = 10;
const PAYLOAD = new Uint8Array(1024).fill(42);

export type Pattern = keyof typeof RATES;
export const PATTERNS = Object.keys(RATES) as Pattern[];

interface Sample {
  t: number;
  ops: number;
  opsBy: Record<Pattern | "tunnelMessages", number>;
  self: Memory;
  member: Memory;
}

/** Runs `op` from `inflight` workers on one shared schedule of `rate` a second until `stopped()`. */
async function paced(rate: number, inflight: number, stopped: () => boolean, op: () => Promise<void>): Promise<void> {
  let next = performance.now();
  const step = 1000 / rate;
  const worker = async () => {
    while (!stopped()) {
      const now = performance.now();
      // behind by more than a second: start again from now instead of bursting
      if (next < now - 1000) next = now;
      const at = next;
      next += step;
      if (at > now) await sleep(at - now);
      if (stopped()) return;
      await op();
    }
  };
  await Promise.all(Array.from({ length: inflight }, worker));
}

const line = (m: Memory) => `heap ${mib(m.heapUsed)} ab ${mib(m.arrayBuffers)} rss ${mib(m.rss)}`;

/** Least-squares slope of `y` over `x`. */
function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  if (n < 2) return 0;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += ((xs[i] ?? 0) - mx) * ((ys[i] ?? 0) - my);
    den += ((xs[i] ?? 0) - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

/** Runs the soak against the server at `url`; resolves true when nothing was lost and no call failed. */
export async function runSoak(url: string, options: SoakOptions): Promise<boolean> {
  const namespace = `soak${Date.now().toString(36)}`;
  const chosen = PATTERNS.filter((p) => options.only === undefined || options.only.includes(p));
  const member = await Responder.start(url, "./soak-member.js", [namespace]);
  const conn = await connect({
    servers: url,
    namespace,
    topics: { storage: "memory", maxBytes: 256 * 1024 * 1024, maxAge: 10 * 60_000 },
    tunnels: { maxBytes: 256 * 1024 * 1024 },
  });
  const opsBy = { requests: 0, broadcasts: 0, publishPlain: 0, publishDurable: 0, tunnels: 0, tunnelMessages: 0 };
  const errors: Record<string, { count: number; first: string }> = {};
  const failed = (what: string) => (err: unknown) => {
    const e = errors[what] ?? { count: 0, first: String(err) };
    e.count++;
    errors[what] = e;
  };
  let stop = false;
  const stopped = () => stop;
  const started = performance.now();
  const guard = setTimeout(
    () => {
      console.error("soak ran past its time bound; stopping");
      member.stop();
      process.exit(1);
    },
    (options.seconds + 120) * 1000,
  ).unref();
  const ops: Record<Pattern, () => Promise<void>> = {
    requests: () =>
      conn
        .request("soak", PAYLOAD, { timeout: 5000 })
        .then((r) => {
          if (r.byteLength !== PAYLOAD.byteLength) throw new Error("a reply of the wrong size");
          opsBy.requests++;
        })
        .catch(failed("requests")),
    broadcasts: () =>
      conn
        .broadcast("soak", PAYLOAD)
        .then(() => {
          opsBy.broadcasts++;
        })
        .catch(failed("broadcasts")),
    publishPlain: () =>
      conn
        .publish("soak-plain", PAYLOAD, { timeout: 5000 })
        .then(() => {
          opsBy.publishPlain++;
        })
        .catch(failed("publishPlain")),
    publishDurable: () =>
      conn
        .publish("soak-durable", PAYLOAD, { timeout: 5000 })
        .then(() => {
          opsBy.publishDurable++;
        })
        .catch(failed("publishDurable")),
    tunnels: async () => {
      try {
        await using tun = await conn.tunnel("soak", { timeout: 5000 });
        for (let i = 0; i < TUNNEL_ROUND_TRIPS; i++) {
          await tun.send(PAYLOAD, { timeout: 5000 });
          const back = await tun.recv({ timeout: 5000 });
          if (back.byteLength !== PAYLOAD.byteLength) throw new Error("an echo of the wrong size");
          opsBy.tunnelMessages++;
        }
        opsBy.tunnels++;
      } catch (err) {
        failed("tunnels")(err);
      }
    },
  };
  const total = () =>
    opsBy.requests + opsBy.broadcasts + opsBy.publishPlain + opsBy.publishDurable + opsBy.tunnelMessages;
  const sample = async (): Promise<Sample> => ({
    t: (performance.now() - started) / 1000,
    ops: total(),
    opsBy: { ...opsBy },
    self: measure(),
    member: await member.call<Memory>("memory"),
  });
  let previous: Sample | undefined;
  const print = (label: string, s: Sample) => {
    // heap bytes allocated per operation since the previous line, each process
    const ops = previous ? s.ops - previous.ops : 0;
    const perOp = (who: "self" | "member") =>
      previous && ops > 0 ? `${Math.round((s[who].allocated - previous[who].allocated) / ops)} B/op` : "-";
    console.log(
      `soak ${label.padEnd(8)} ${s.t.toFixed(0).padStart(5)} s  ops ${String(s.ops).padStart(8)} ` +
        `(req ${s.opsBy.requests} bcast ${s.opsBy.broadcasts} pub ${s.opsBy.publishPlain + s.opsBy.publishDurable} ` +
        `tun ${s.opsBy.tunnels}/${s.opsBy.tunnelMessages} msgs)  this: ${line(s.self)} alloc ${perOp("self")}  ` +
        `member: ${line(s.member)} alloc ${perOp("member")}`,
    );
    previous = s;
  };

  console.log(
    `soak: ${options.seconds} s against ${url}, namespace ${namespace}; rates/s: ` +
      `${chosen.map((p) => `${p} ${RATES[p].rate}`).join(", ")} (tunnels of ${TUNNEL_ROUND_TRIPS} round trips)`,
  );
  const first = await sample();
  console.log(first.self.gc && first.member.gc ? "soak: memory measured after a forced gc" : "soak: no gc to force");
  const running = chosen.map((p) => paced(RATES[p].rate, RATES[p].inflight, stopped, ops[p]));
  const warmup = Math.min(10, options.seconds * 0.2);
  await sleep(warmup * 1000);
  const samples = [await sample()];
  print("baseline", samples[0] as Sample);
  const end = started + options.seconds * 1000;
  while (end - performance.now() > 250) {
    await sleep(Math.min(options.interval * 1000, end - performance.now()));
    const s = await sample();
    samples.push(s);
    print("", s);
  }
  stop = true;
  await Promise.all(running);
  // what was sent has arrived (bounded wait)
  const sentBy = { ...opsBy };
  let got = await member.call<Record<string, number>>("counts");
  const until = performance.now() + 10_000;
  while (
    performance.now() < until &&
    ((got.broadcasts ?? 0) < sentBy.broadcasts ||
      (got.plain ?? 0) < sentBy.publishPlain ||
      (got.durable ?? 0) < sentBy.publishDurable)
  ) {
    await sleep(100);
    got = await member.call<Record<string, number>>("counts");
  }
  const last = await sample();
  print("end", last);
  clearTimeout(guard);
  await conn.close();
  member.stop();
  await deleteStreams(url, namespace);

  const base = samples[0] as Sample;
  const done = last.ops - base.ops;
  const per100k = (bytes: number, n: number) => (n > 0 ? signed((bytes * 100_000) / n) : "n/a");
  const xs = [...samples, last].map((s) => s.ops);
  const growth = (who: "self" | "member", key: "heapUsed" | "arrayBuffers" | "rss") =>
    `${key === "heapUsed" ? "heap" : key === "arrayBuffers" ? "ArrayBuffers" : "RSS"} ` +
    `${per100k(last[who][key] - base[who][key], done)} ` +
    `(slope ${signed(
      slope(
        xs,
        [...samples, last].map((s) => s[who][key]),
      ) * 100_000,
    )})`;
  console.log(
    `\nsoak summary: ${last.t.toFixed(0)} s, ${last.ops} operations (${done} after the warm-up): ` +
      `requests ${opsBy.requests}, broadcasts ${opsBy.broadcasts}, publishes ${opsBy.publishPlain} plain + ` +
      `${opsBy.publishDurable} durable, tunnels ${opsBy.tunnels} opened and closed with ${opsBy.tunnelMessages} round trips`,
  );
  console.log(
    `soak memory: this process heap ${mib(base.self.heapUsed)} -> ${mib(last.self.heapUsed)}, ` +
      `ArrayBuffers ${mib(base.self.arrayBuffers)} -> ${mib(last.self.arrayBuffers)}, RSS ${mib(base.self.rss)} -> ${mib(last.self.rss)}; ` +
      `member heap ${mib(base.member.heapUsed)} -> ${mib(last.member.heapUsed)}, ` +
      `ArrayBuffers ${mib(base.member.arrayBuffers)} -> ${mib(last.member.arrayBuffers)}, RSS ${mib(base.member.rss)} -> ${mib(last.member.rss)}`,
  );
  console.log(
    `soak growth per 100k operations, this process: ${growth("self", "heapUsed")}, ${growth("self", "arrayBuffers")}`,
  );
  console.log(
    `soak growth per 100k operations, member: ${growth("member", "heapUsed")}, ${growth("member", "arrayBuffers")}`,
  );
  const patternOps: Record<string, number> = {
    requests: last.opsBy.requests - base.opsBy.requests,
    broadcasts: last.opsBy.broadcasts - base.opsBy.broadcasts,
    publishes:
      last.opsBy.publishPlain + last.opsBy.publishDurable - base.opsBy.publishPlain - base.opsBy.publishDurable,
    "tunnel round trips": last.opsBy.tunnelMessages - base.opsBy.tunnelMessages,
  };
  const heapGrowth = last.self.heapUsed - base.self.heapUsed + last.member.heapUsed - base.member.heapUsed;
  const abGrowth =
    last.self.arrayBuffers - base.self.arrayBuffers + last.member.arrayBuffers - base.member.arrayBuffers;
  console.log(
    `soak growth per 100k of each pattern's operations (both processes, all growth charged to that pattern: an upper bound): ${Object.entries(
      patternOps,
    )
      .map(([p, n]) => `${p} heap ${per100k(heapGrowth, n)} ab ${per100k(abGrowth, n)}`)
      .join("; ")}`,
  );
  const allocatedPerOp = (who: "self" | "member") =>
    done > 0 ? Math.round((last[who].allocated - base[who].allocated) / done) : 0;
  console.log(
    `soak allocations per operation after the warm-up (heap bytes, garbage included): ` +
      `this process ${allocatedPerOp("self")} B, member ${allocatedPerOp("member")} B` +
      (chosen.length === 1
        ? ` (every operation a ${chosen[0]} one)`
        : " (all patterns mixed; --only one pattern for its own figure)"),
  );
  const lost = {
    broadcasts: sentBy.broadcasts - (got.broadcasts ?? 0),
    plainEvents: sentBy.publishPlain - (got.plain ?? 0),
    durableEvents: sentBy.publishDurable - (got.durable ?? 0),
  };
  const errorText = Object.entries(errors).map(([k, e]) => `${k} ${e.count} (first: ${e.first})`);
  console.log(
    `soak lost: broadcasts ${lost.broadcasts}, plain events ${lost.plainEvents}, durable events ${lost.durableEvents}; ` +
      `requests whose ctx.signal was aborted: ${got.aborted ?? 0}; failed calls: ${errorText.length ? errorText.join(", ") : "none"}`,
  );
  return errorText.length === 0 && Object.values(lost).every((n) => n <= 0) && (got.aborted ?? 0) === 0;
}

/** Drops the soak's streams (memory storage) from the server. */
async function deleteStreams(url: string, namespace: string): Promise<void> {
  const nc = await natsConnect({ servers: url });
  try {
    const jsm = await jetstreamManager(nc);
    for (const name of [`JETMESH_TOPICS_${namespace}`, `JETMESH_TUNNELS_${namespace}`]) {
      await jsm.streams.delete(name).catch(() => {});
    }
  } finally {
    await nc.close();
  }
}
