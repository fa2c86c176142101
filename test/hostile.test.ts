/**
 * Hostile wire input: a raw NATS client (no jetmesh) sends random and
 * adversarial headers and payloads to every subject a jetmesh member listens
 * on, while a jetmesh client keeps using the member. The member runs in a
 * process of its own (test/fixtures/hostile-member.mjs), so that a crash, an
 * uncaught exception or a deafened connection is visible.
 *
 * What the contract promises (DESIGN.md): bad input gets a clear answer; a
 * malformed message from the wire is logged, counted and answered where
 * possible; nothing jetmesh runs inside a NATS callback may throw.
 *
 * The random input is seeded (HOSTILE_SEED, printed) so that a failure reproduces.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { encode as msgpack } from "@msgpack/msgpack";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { type Msg, type MsgHdrs, type NatsConnection, headers as natsHeaders } from "@nats-io/nats-core";
import { connect as natsConnect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Connection, connect, type Logger, topicContract } from "../src/index.js";
import { dec, enc, TEST_STREAM_BYTES, uniqueNamespace, useNats } from "./helpers.js";

const nats = useNats();

const SEED = Number(process.env.HOSTILE_SEED ?? 0x1badcafe) >>> 0;
console.log(`hostile.test.ts: seed ${SEED} (set HOSTILE_SEED to repeat another run)`);

/** mulberry32: small, seeded, good enough to pick adversarial input. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rnd = random(SEED);
const int = (n: number) => Math.floor(rnd() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)] as T;
/** Random bytes; the first one is 0xff so that they never look like the valid messages ("valid-..."). */
function garbage(max: number): Uint8Array {
  const b = new Uint8Array(1 + int(max));
  for (let i = 0; i < b.length; i++) b[i] = int(256);
  b[0] = 0xff;
  return b;
}
/** Printable ASCII (what a NATS header value may hold). */
function printable(max: number): string {
  let s = "";
  const n = int(max + 1);
  for (let i = 0; i < n; i++) s += String.fromCharCode(0x20 + int(95));
  return s;
}

/** Jetmesh-Timeout values that are not a time-out at all: they must be answered BAD_REQUEST. */
const INVALID_TIMEOUTS = [
  "abc",
  "-1",
  "0",
  "-0",
  "0.5",
  "NaN",
  "Infinity",
  "-Infinity",
  "5abc",
  "1".repeat(400),
  "x".repeat(10_000),
];
/** Values that parse as a number >= 1: served (with ctx.signal live while the handler runs) or BAD_REQUEST. */
const ODD_TIMEOUTS = [
  "1e12",
  String(2 ** 31 + 10),
  String(2 ** 32),
  "9".repeat(20),
  "  5000",
  "0x1000",
  "2500.5",
  "1e4",
];
const HEADER_NAMES = [
  "Jetmesh-Timeout",
  "traceparent",
  "tracestate",
  "Nats-Msg-Id",
  "Jetmesh-Error",
  "Nats-Service-Error",
  "Nats-Service-Error-Code",
  "Jetmesh-Error-Code",
  "Content-Type",
];
function randomHeaders(): MsgHdrs | undefined {
  if (rnd() < 0.15) return undefined;
  const h = natsHeaders();
  const n = 1 + int(4);
  for (let i = 0; i < n; i++) {
    const name = rnd() < 0.8 ? pick(HEADER_NAMES) : `X-${printable(20).replace(/[^A-Za-z0-9]/g, "") || "k"}`;
    const value =
      name === "Jetmesh-Timeout" && rnd() < 0.6 ? pick([...INVALID_TIMEOUTS, ...ODD_TIMEOUTS, "250"]) : printable(200);
    h.append(name, value);
  }
  return h;
}

/** How many messages of each kind were sent (printed at the end, for the report). */
const sent: Record<string, number> = {};
const count = (kind: string, n = 1) => {
  sent[kind] = (sent[kind] ?? 0) + n;
};

type Counters = { malformed: number; broadcasts: number; dropped: number } & Record<string, number>;

/** What the member saw so far (the fixture's probe). */
interface Seen {
  uncaught: string[];
  unhandled: string[];
  warn: number;
  error: number;
  thrown: number;
  messages: Record<string, number>;
  broadcasts: string[];
  narrowBroadcasts: number;
  events: { plain: string[]; durable: string[]; group: string[]; typed: string[] };
  deadLetters: number;
  tunnels: number;
  stats: Counters;
  narrowStats: Counters;
  typedStats: Counters;
  typedJsonStats: Counters;
  subs: Record<"plain" | "durable" | "group" | "typed", Counters>;
}

interface Member {
  ns: string;
  id: string;
  child: ChildProcess;
  stderr: () => string;
  /** A jetmesh client in the member's namespace. */
  client: Connection;
  probe(): Promise<Seen>;
  alive(): boolean;
  stop(): Promise<void>;
}

const script = fileURLToPath(new URL("./fixtures/hostile-member.mjs", import.meta.url));

async function startMember(mode: "record" | "throw"): Promise<Member> {
  const ns = uniqueNamespace();
  const child = spawn(process.execPath, [script, nats.server().url, ns, mode, String(TEST_STREAM_BYTES)], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let err = "";
  child.stderr?.on("data", (d: Buffer) => {
    err += d.toString();
  });
  const id = await new Promise<string>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`member did not start: ${err}`)), 30_000);
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /ready (\S+)/.exec(out);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`member exited (${code}) before it was ready: ${err}`));
    });
  });
  const client = await nats.open(ns, { tunnels: { heartbeat: 200 } });
  return {
    ns,
    id,
    child,
    stderr: () => err,
    client,
    probe: async () => JSON.parse(dec(await client.request("probe", new Uint8Array(0), { timeout: 3000 }))) as Seen,
    alive: () => child.exitCode === null && child.signalCode === null,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGKILL");
      await exited;
    },
  };
}

type Answer =
  | { kind: "reply"; msg: Msg; body: string }
  | { kind: "error"; msg: Msg; code: string; errorKind: string; message: string }
  | { kind: "silence" }
  | { kind: "failed"; err: unknown };

/** A raw request; "silence" when nothing came back within `timeout`. */
async function ask(
  raw: NatsConnection,
  subject: string,
  data: Uint8Array,
  headers?: MsgHdrs,
  timeout = 3000,
): Promise<Answer> {
  try {
    const msg = await raw.request(subject, data, headers ? { timeout, headers } : { timeout });
    const h = msg.headers;
    // the error's own code: in Jetmesh-Error-Code when it is not a number, the micro code being numeric
    const code = h?.get("Jetmesh-Error-Code") || (h?.get("Nats-Service-Error-Code") ?? "");
    if (code !== "" || h?.get("Jetmesh-Error")) {
      return {
        kind: "error",
        msg,
        code,
        errorKind: h?.get("Jetmesh-Error") ?? "",
        message: h?.get("Nats-Service-Error") ?? "",
      };
    }
    return { kind: "reply", msg, body: dec(msg.data) };
  } catch (err) {
    if ((err as { name?: string; code?: string }).name === "TimeoutError" || /timeout/i.test(String(err))) {
      return { kind: "silence" };
    }
    return { kind: "failed", err };
  }
}

function describeAnswer(a: Answer): string {
  switch (a.kind) {
    case "reply":
      return `reply ${a.body.slice(0, 80)}`;
    case "error":
      return `error ${a.errorKind}/${a.code}: ${a.message.slice(0, 80)}`;
    case "silence":
      return "no answer (time-out)";
    case "failed":
      return `request failed: ${String(a.err)}`;
  }
}

/** Runs `tasks` with at most `n` at once. */
async function pool<T>(n: number, tasks: Array<() => Promise<T>>): Promise<T[]> {
  const out: T[] = new Array(tasks.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < tasks.length) {
        const i = next++;
        out[i] = await (tasks[i] as () => Promise<T>)();
      }
    }),
  );
  return out;
}

/** The member serves a plain request through jetmesh. */
async function answers(m: Member): Promise<boolean> {
  try {
    const r = JSON.parse(dec(await m.client.request("victim", enc("ping"), { timeout: 3000 }))) as { n: number };
    return r.n === 4;
  } catch {
    return false;
  }
}

/** Round trips through a tunnel: `n` messages, each echoed intact and in order. */
async function roundTrips(tun: Awaited<ReturnType<Connection["tunnel"]>>, n: number, tag: string): Promise<void> {
  for (let i = 0; i < n; i++) {
    const text = `${tag}-${i}`;
    await tun.send(enc(text), { timeout: 3000 });
    expect(dec(await tun.recv({ timeout: 3000 }))).toBe(text);
  }
}

/** Keeps a tunnel busy with round trips for `ms`, which must all succeed (the tunnel must outlive that time). */
async function keepBusy(tun: Awaited<ReturnType<Connection["tunnel"]>>, ms: number, tag: string): Promise<number> {
  const until = Date.now() + ms;
  let i = 0;
  while (Date.now() < until && i < 10_000) {
    await roundTrips(tun, 1, `${tag}-${i++}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return i;
}

/** A 7-byte tunnel frame (kind, 48-bit sequence) with `extra` after it. */
function frame(kind: number, seq: number, extra: Uint8Array = new Uint8Array(0)): Uint8Array {
  const f = new Uint8Array(7 + extra.length);
  f[0] = kind;
  const high = Math.floor(seq / 2 ** 32);
  f[1] = (high >>> 8) & 0xff;
  f[2] = high & 0xff;
  f[3] = (seq >>> 24) & 0xff;
  f[4] = (seq >>> 16) & 0xff;
  f[5] = (seq >>> 8) & 0xff;
  f[6] = seq & 0xff;
  f.set(extra, 7);
  return f;
}
const u48 = (n: number) => frame(0, n).subarray(1);

const ID = "0123456789abcdef0123456789abcdef";
const goodSetUp = { id: ID, window: 1 << 20, heartbeat: 1000, maxMessage: 1 << 20 };
/** Tunnel set-up payloads that cannot be accepted. */
const BAD_SET_UPS: Array<[string, Uint8Array]> = [
  ["empty", new Uint8Array(0)],
  ["not JSON", enc("{not json")],
  ["bytes", new Uint8Array([0xff, 0xfe, 0x00, 0x01])],
  ["null", enc("null")],
  ["a number", enc("42")],
  ["a string", enc('"id"')],
  ["an array", enc(JSON.stringify([goodSetUp]))],
  ["{}", enc("{}")],
  ["short id", enc(JSON.stringify({ ...goodSetUp, id: "abc" }))],
  ["upper-case id", enc(JSON.stringify({ ...goodSetUp, id: ID.toUpperCase() }))],
  ["id with a dot", enc(JSON.stringify({ ...goodSetUp, id: `${ID.slice(0, 31)}.` }))],
  ["id with a wildcard", enc(JSON.stringify({ ...goodSetUp, id: `${ID.slice(0, 31)}>` }))],
  ["33-char id", enc(JSON.stringify({ ...goodSetUp, id: `${ID}0` }))],
  ["numeric id", enc(JSON.stringify({ ...goodSetUp, id: 1234 }))],
  ["100 KB id", enc(JSON.stringify({ ...goodSetUp, id: "a".repeat(100_000) }))],
  ["window -1", enc(JSON.stringify({ ...goodSetUp, window: -1 }))],
  ["window 0", enc(JSON.stringify({ ...goodSetUp, window: 0 }))],
  ["window 1.5", enc(JSON.stringify({ ...goodSetUp, window: 1.5 }))],
  ["window 1e300", enc(JSON.stringify({ ...goodSetUp, window: 1e300 }))],
  ["window a string", enc(JSON.stringify({ ...goodSetUp, window: "8388608" }))],
  ["window null", enc(JSON.stringify({ ...goodSetUp, window: null }))],
  ["heartbeat 0", enc(JSON.stringify({ ...goodSetUp, heartbeat: 0 }))],
  ["heartbeat -5", enc(JSON.stringify({ ...goodSetUp, heartbeat: -5 }))],
  ["heartbeat 9", enc(JSON.stringify({ ...goodSetUp, heartbeat: 9 }))],
  ["heartbeat 60001", enc(JSON.stringify({ ...goodSetUp, heartbeat: 60_001 }))],
  ["heartbeat 1e9", enc(JSON.stringify({ ...goodSetUp, heartbeat: 1e9 }))],
  ["maxMessage 0", enc(JSON.stringify({ ...goodSetUp, maxMessage: 0 }))],
  ["maxMessage -1", enc(JSON.stringify({ ...goodSetUp, maxMessage: -1 }))],
  ["maxMessage 2^53", enc(JSON.stringify({ ...goodSetUp, maxMessage: 2 ** 53 }))],
  ["missing maxMessage", enc(JSON.stringify({ id: ID, window: 1 << 20, heartbeat: 1000 }))],
  ["deeply nested", enc(`${"[".repeat(5000)}${"]".repeat(5000)}`)],
];

describe("hostile wire input, logged by a recording logger", () => {
  let m: Member;
  let raw: NatsConnection;
  beforeAll(async () => {
    m = await startMember("record");
    raw = await natsConnect({ servers: nats.server().url });
  });
  afterAll(async () => {
    console.log(`hostile.test.ts: seed ${SEED}; messages sent: ${JSON.stringify(sent)}`);
    await raw?.close();
    await m?.stop();
  });

  describe.each(INVALID_TIMEOUTS.map((v) => [v.length > 40 ? `${v.slice(0, 12)}... (${v.length} chars)` : v, v]))(
    "a request with Jetmesh-Timeout %j",
    (_label, value) => {
      it("is answered BAD_REQUEST", async () => {
        const h = natsHeaders();
        h.set("Jetmesh-Timeout", value);
        count("request, bad Jetmesh-Timeout");
        const a = await ask(raw, `${m.ns}.req.victim`, enc("x"), h);
        expect(describeAnswer(a)).toMatch(/^error BAD_REQUEST\//);
      });
    },
  );

  describe.each(ODD_TIMEOUTS.map((v) => [v, v]))("a request with Jetmesh-Timeout %j", (_label, value) => {
    it("is served with ctx.signal live while the handler runs, or answered BAD_REQUEST", async () => {
      const h = natsHeaders();
      h.set("Jetmesh-Timeout", value);
      count("request, odd Jetmesh-Timeout");
      const a = await ask(raw, `${m.ns}.req.victim`, enc("x"), h);
      const ok =
        (a.kind === "error" && a.errorKind === "BAD_REQUEST") ||
        (a.kind === "reply" && (JSON.parse(a.body) as { aborted: boolean }).aborted === false);
      expect(ok, describeAnswer(a)).toBe(true);
    });
  });

  it("counts and logs requests without a reply subject", async () => {
    const before = await m.probe();
    for (let i = 0; i < 50; i++) {
      const h = randomHeaders();
      raw.publish(`${m.ns}.req.victim`, garbage(100), h ? { headers: h } : undefined);
    }
    count("request, no reply subject", 50);
    await raw.flush();
    let after = await m.probe();
    const deadline = Date.now() + 5000;
    while (after.stats.malformed - before.stats.malformed < 50 && Date.now() < deadline) after = await m.probe();
    expect(after.stats.malformed - before.stats.malformed).toBe(50);
    expect(after.warn).toBeGreaterThan(before.warn);
  });

  it("answers every one of a seeded barrage of random requests with a reply subject, while serving valid ones", async () => {
    const before = await m.probe();
    const tun = await m.client.tunnel("victim", { timeout: 3000 });
    let tunnelRounds = 0;
    let stopTunnel = false;
    const tunnelLoop = (async () => {
      while (!stopTunnel && tunnelRounds < 100_000) await roundTrips(tun, 1, `during-${tunnelRounds++}`);
    })();
    const N = 1500;
    type Outcome = {
      what: string;
      reply: boolean;
      shortDeadline?: boolean;
      timeout?: string;
      answer: Answer | "valid-ok" | "valid-failed";
    };
    const tasks: Array<() => Promise<Outcome>> = [];
    for (let i = 0; i < N; i++) {
      const r = rnd();
      if (r < 0.1) {
        tasks.push(async () => {
          try {
            const body = JSON.parse(dec(await m.client.request("victim", enc("valid"), { timeout: 3000 })));
            return { what: "valid", reply: true, answer: body.aborted === false ? "valid-ok" : "valid-failed" };
          } catch (err) {
            return { what: `valid: ${String(err)}`, reply: true, answer: "valid-failed" };
          }
        });
        continue;
      }
      const h = randomHeaders();
      const data = rnd() < 0.1 ? enc(`throw ${i}`) : garbage(rnd() < 0.05 ? 60_000 : 2000);
      const what = `headers ${JSON.stringify(h ? [...h.keys()].map((k) => [k, h.get(k).slice(0, 40)]) : null)}`;
      if (r < 0.3) {
        tasks.push(async () => {
          raw.publish(`${m.ns}.req.victim`, data, h ? { headers: h } : undefined);
          return { what, reply: false, answer: { kind: "silence" } };
        });
        continue;
      }
      const declared = Number(h?.get("Jetmesh-Timeout") || Number.NaN);
      const shortDeadline = Number.isFinite(declared) && declared >= 1 && declared < 3000;
      tasks.push(async () => ({
        what,
        reply: true,
        shortDeadline,
        ...(h?.has("Jetmesh-Timeout") ? { timeout: h.get("Jetmesh-Timeout") } : {}),
        answer: await ask(raw, `${m.ns}.req.victim`, data, h),
      }));
    }
    const results = await pool(48, tasks);
    stopTunnel = true;
    await tunnelLoop;
    await tun.close();
    const problems: string[] = [];
    const byKind: Record<string, number> = {};
    let badRequests = 0;
    let noReply = 0;
    let withReply = 0;
    for (const [i, r] of results.entries()) {
      if (!r.reply) {
        noReply++;
        continue;
      }
      withReply++;
      if (r.answer === "valid-ok") continue;
      if (r.answer === "valid-failed") {
        problems.push(`#${i} a valid request failed: ${r.what}`);
        continue;
      }
      const a = r.answer;
      if (a.kind === "error" && a.errorKind === "BAD_REQUEST") {
        badRequests++;
        continue;
      }
      if (a.kind === "error" && a.errorKind === "REMOTE" && a.message === "handler threw on purpose") continue;
      if (a.kind === "reply") {
        // ctx.signal may abort at the caller's deadline, never before it
        const body = JSON.parse(a.body) as { aborted: boolean; remaining: number };
        if (!body.aborted || body.remaining === 0) continue;
      }
      // a request whose caller said it had only a short time left may be skipped once that time has passed
      if (a.kind === "silence" && r.shortDeadline) continue;
      problems.push(`#${i} ${r.what}: ${describeAnswer(a)}`);
      const outcome = describeAnswer(a).replace(/(Received|remaining":)\s*[\d.]+.*$/, "$1 ...");
      const key = `Jetmesh-Timeout ${JSON.stringify(r.timeout?.slice(0, 20) ?? null)} -> ${outcome.slice(0, 90)}`;
      byKind[key] = (byKind[key] ?? 0) + 1;
    }
    count("request, random, with reply", withReply);
    count("request, random, no reply", noReply);
    expect(tunnelRounds).toBeGreaterThan(0);
    const after = await m.probe();
    expect(
      problems.slice(0, 15),
      `${problems.length} of ${withReply} with a reply subject went wrong: ${JSON.stringify(byKind, null, 1)}`,
    ).toEqual([]);
    expect(after.stats.malformed - before.stats.malformed).toBeGreaterThanOrEqual(noReply + badRequests);
  });

  it("ignores a seeded barrage of random broadcasts, and every valid broadcast arrives", async () => {
    const before = await m.probe();
    const valid: string[] = [];
    for (let i = 0; i < 700; i++) {
      if (i % 7 === 0) {
        const text = `valid-b-${i}`;
        valid.push(text);
        await m.client.broadcast("victim", enc(text));
        count("broadcast, valid");
      } else {
        const h = randomHeaders();
        raw.publish(`${m.ns}.bcast.victim`, rnd() < 0.1 ? enc("throw") : garbage(3000), h ? { headers: h } : {});
        count("broadcast, random");
      }
    }
    await raw.flush();
    let after = await m.probe();
    const deadline = Date.now() + 5000;
    while (valid.some((v) => !after.broadcasts.includes(v)) && Date.now() < deadline) after = await m.probe();
    expect(valid.filter((v) => !after.broadcasts.includes(v))).toEqual([]);
    expect(after.stats.broadcasts - before.stats.broadcasts).toBe(700);
    expect(await answers(m)).toBe(true);
  });

  it.each(BAD_SET_UPS)("answers a tunnel set-up of %s with BAD_REQUEST", async (_what, data) => {
    count("tunnel set-up, bad");
    const a = await ask(raw, `${m.ns}.tun.victim`, data);
    expect(describeAnswer(a)).toMatch(/^error BAD_REQUEST\//);
  });

  it("answers a seeded barrage of random tunnel set-ups, with and without reply subjects, and stays up", async () => {
    const tasks: Array<() => Promise<Answer | undefined>> = [];
    for (let i = 0; i < 300; i++) {
      const data =
        rnd() < 0.5
          ? garbage(500)
          : enc(
              JSON.stringify({
                id: rnd() < 0.5 ? printable(40) : ID,
                window: pick([-1, 0, 1e300, 2 ** 53, "x", null, 1.5]),
                heartbeat: pick([-1, 0, 5, 1e9, "1000", null]),
                maxMessage: pick([-1, 0, 2 ** 60, "1", null]),
              }),
            );
      const h = randomHeaders();
      if (rnd() < 0.3) {
        tasks.push(async () => {
          raw.publish(`${m.ns}.tun.victim`, data, h ? { headers: h } : {});
          return undefined;
        });
      } else tasks.push(() => ask(raw, `${m.ns}.tun.victim`, data, h));
    }
    count("tunnel set-up, random", tasks.length);
    const results = await pool(32, tasks);
    const unanswered = results.filter((a) => a !== undefined && !(a.kind === "error" && a.errorKind === "BAD_REQUEST"));
    expect(unanswered.map((a) => a && describeAnswer(a)).slice(0, 10)).toEqual([]);
    expect(m.alive()).toBe(true);
    const tun = await m.client.tunnel("victim", { timeout: 3000 });
    await roundTrips(tun, 5, "after-set-ups");
    await tun.close();
  });

  it("counts malformed tunnel set-ups in stats().malformed and logs them", async () => {
    const before = await m.probe();
    for (const [, data] of BAD_SET_UPS.slice(0, 10)) await ask(raw, `${m.ns}.tun.victim`, data);
    count("tunnel set-up, bad", 10);
    const after = await m.probe();
    expect(after.messages["malformed tunnel set-up request"] ?? 0).toBeGreaterThan(
      before.messages["malformed tunnel set-up request"] ?? 0,
    );
    expect(after.stats.malformed - before.stats.malformed).toBe(10);
  });

  it("ends the tunnels it accepted from set-ups whose opener never shows up, within the outage bound and 6 heartbeats, releasing their consumers", async () => {
    const jsm = await jetstreamManager(raw);
    const stream = `JETMESH_TUNNELS_${m.ns}`;
    const consumers = async () => (await jsm.consumers.list(stream).next()).length;
    // the stream exists once a tunnel was opened
    await (await m.client.tunnel("victim", { timeout: 3000 })).close();
    let before = await consumers();
    const settle = Date.now() + 3000;
    while (before > 0 && Date.now() < settle) before = await consumers();
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => {
        const id = Array.from({ length: 32 }, () => "0123456789abcdef"[int(16)]).join("");
        return ask(
          raw,
          `${m.ns}.tun.victim`,
          enc(JSON.stringify({ id, window: 1 << 20, heartbeat: 100, maxMessage: 1 << 20, outageTimeout: 1_000 })),
        );
      }),
    );
    count("tunnel set-up, opener never shows up", 20);
    expect(answers.filter((a) => a.kind === "reply")).toHaveLength(20);
    expect(await consumers()).toBeGreaterThanOrEqual(before + 20);
    const deadline = Date.now() + 1_000 + 6 * 100 + 3000;
    let now = await consumers();
    while (now > before && Date.now() < deadline) now = await consumers();
    expect(now).toBe(before);
  });

  /** A set-up request that reuses a live tunnel's id, with a short heartbeat. */
  const hijack = (id: string) =>
    ask(raw, `${m.ns}.tun.victim`, enc(JSON.stringify({ id, window: 1 << 20, heartbeat: 50, maxMessage: 1 << 20 })));

  it("refuses a set-up that reuses the id of a live tunnel", async () => {
    const tun = await m.client.tunnel("victim", { timeout: 3000 });
    await roundTrips(tun, 3, "before-hijack");
    count("tunnel set-up, reused id");
    const a = await hijack(tun.id);
    await tun.close();
    expect(describeAnswer(a)).toMatch(/^error BAD_REQUEST\//);
  });

  it("keeps a live tunnel whole when a set-up reuses its id: bursts echo intact and in order for 3 s", async () => {
    const tun = await m.client.tunnel("victim", { timeout: 3000 });
    await roundTrips(tun, 3, "before-hijack");
    count("tunnel set-up, reused id");
    await hijack(tun.id);
    const until = Date.now() + 3000;
    let burst = 0;
    while (Date.now() < until && burst < 1000) {
      const texts = Array.from({ length: 20 }, (_v, i) => `burst-${burst}-${i}-${"x".repeat(int(30_000))}`);
      for (const t of texts) await tun.send(enc(t), { timeout: 3000 });
      for (const t of texts) expect(dec(await tun.recv({ timeout: 3000 })).slice(0, 40)).toBe(t.slice(0, 40));
      burst++;
    }
    await tun.close();
  });

  describe("forged frames on a live tunnel", () => {
    async function forge(tun: { id: string }, frames: Uint8Array[]): Promise<void> {
      const js = jetstream(raw);
      for (const f of frames) {
        for (const dir of ["up", "down"]) {
          await js.publish(`${m.ns}.tunnel.${tun.id}.${dir}`, f);
          count("tunnel frame, forged");
        }
      }
    }

    it("too short, or of an unknown kind: dropped and logged, and the tunnel works on for 20 heartbeats", async () => {
      const before = await m.probe();
      const tun = await m.client.tunnel("victim", { timeout: 3000 });
      await roundTrips(tun, 3, "before");
      const frames: Uint8Array[] = [];
      for (let n = 0; n < 7; n++) frames.push(new Uint8Array(n).fill(0));
      for (let k = 6; k < 256; k += 7) frames.push(frame(k, int(2 ** 20)));
      for (let i = 0; i < 20; i++) frames.push(garbage(20));
      await forge(tun, frames);
      await roundTrips(tun, 50, "after");
      expect(await keepBusy(tun, 20 * 200, "busy")).toBeGreaterThan(0);
      const after = await m.probe();
      await tun.close();
      expect(after.messages["malformed tunnel input dropped"] ?? 0).toBeGreaterThan(
        before.messages["malformed tunnel input dropped"] ?? 0,
      );
    });

    it("with sequences far ahead (whole, first with a huge size, close): the tunnel works on for 20 heartbeats", async () => {
      const tun = await m.client.tunnel("victim", { timeout: 3000 });
      await roundTrips(tun, 3, "before");
      const far = 2 ** 40;
      await forge(tun, [
        frame(0, far, enc("forged")),
        frame(1, far + 1, new Uint8Array([...u48(2 ** 48 - 1), 1, 2, 3])),
        frame(1, far + 2, new Uint8Array([...u48(60 * 2 ** 20), 1, 2, 3])),
        frame(2, far + 3, enc("more")),
        frame(3, far + 4, enc("last")),
        frame(5, far + 5),
        frame(0, 2 ** 48 - 1, enc("forged")),
      ]);
      await roundTrips(tun, 20, "after");
      expect(await keepBusy(tun, 20 * 200, "busy")).toBeGreaterThan(0);
      await tun.close();
    });

    it("with sequences already passed (close, whole): nothing is handed twice and the tunnel stays open", async () => {
      const tun = await m.client.tunnel("victim", { timeout: 3000 });
      await roundTrips(tun, 5, "before");
      await forge(tun, [frame(5, 0), frame(0, 1, enc("replayed")), frame(4, 2), frame(1, 3, u48(10))]);
      await roundTrips(tun, 20, "after");
      expect(await keepBusy(tun, 10 * 200, "busy")).toBeGreaterThan(0);
      await tun.close();
    });
  });

  // ("x" is the protocol's own "this end broke the tunnel", so it is not among them)
  it("ignores forged control messages on a live tunnel (c-5, cNaN, c1e300, y...), which works on", async () => {
    const tun = await m.client.tunnel("victim", { timeout: 3000 });
    await roundTrips(tun, 3, "before");
    const bodies = [
      "c-5",
      "cNaN",
      "c1e300",
      "y",
      "xx",
      "s-1",
      "sNaN",
      "",
      "c",
      "c0",
      "c-0",
      "c1.5",
      `c${"9".repeat(400)}`,
      "cInfinity",
    ];
    for (let i = 0; i < 40; i++) bodies.push(dec(garbage(50)));
    for (const body of bodies) {
      for (const side of ["a", "o"]) raw.publish(`${m.ns}.tunctl.${tun.id}.${side}`, body);
    }
    for (let i = 0; i < 20; i++) raw.publish(`${m.ns}.tunctl.${tun.id}.a`, garbage(64));
    count("tunnel control, forged", bodies.length * 2 + 20);
    await raw.flush();
    await roundTrips(tun, 100, "after");
    expect(await keepBusy(tun, 10 * 200, "busy")).toBeGreaterThan(0);
    await tun.close();
  });

  it("answers PING, INFO and STATS on each of its subjects ($SRV and the namespace's), whatever the payload", async () => {
    const payloads = [new Uint8Array(0), garbage(100), enc('{"name":"other"}'), enc("null"), garbage(60_000)];
    const problems: string[] = [];
    const name = `${m.ns}_victim`;
    for (const verb of ["PING", "INFO", "STATS"]) {
      const subjects = [`$SRV.${verb}`, `$SRV.${verb}.${name}`, `$SRV.${verb}.${name}.${m.id}`];
      subjects.push(`${m.ns}.srv.${verb}`, `${m.ns}.srv.${verb}.victim`, `${m.ns}.srv.${verb}.victim.${m.id}`);
      for (const subject of subjects) {
        const suffix = subject.slice(subject.indexOf(verb) + verb.length);
        for (const p of payloads) {
          raw.publish(subject, p); // without a reply subject: nothing to answer
          count("micro, no reply");
          const h = randomHeaders();
          const a = await ask(raw, subject, p, h);
          count("micro, with reply");
          if (a.kind !== "reply") {
            problems.push(`${subject}: ${describeAnswer(a)}`);
            continue;
          }
          try {
            const body = JSON.parse(a.body) as { type: string; name: string; id: string };
            if (body.type !== `io.nats.micro.v1.${verb.toLowerCase()}_response`) problems.push(`${subject}: ${a.body}`);
            if (suffix !== "" && body.name !== name) problems.push(`${subject}: answered by ${body.name}`);
            if (suffix.includes(m.id) && body.id !== m.id) problems.push(`${subject}: answered by ${body.id}`);
          } catch {
            problems.push(`${subject}: not JSON: ${a.body.slice(0, 80)}`);
          }
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it("reports the malformed requests in micro STATS", async () => {
    const seen = await m.probe();
    const a = await ask(raw, `${m.ns}.srv.STATS.victim.${m.id}`, new Uint8Array(0));
    expect(a.kind).toBe("reply");
    const body = JSON.parse(a.kind === "reply" ? a.body : "{}") as {
      endpoints: Array<{ name: string; data: Record<string, number> }>;
    };
    const req = body.endpoints.find((e) => e.name === "request");
    expect(req?.data.malformed ?? 0).toBeGreaterThanOrEqual(50);
    expect(req?.data.malformed ?? 0).toBeLessThanOrEqual(seen.stats.malformed);
  });

  it("hands every valid event to plain, durable and group subscribers among raw events with odd headers", async () => {
    const js = jetstream(raw);
    const valid: Record<string, string[]> = { plain: [], dur: [], grp: [] };
    let refused = 0;
    for (let i = 0; i < 450; i++) {
      const topic = pick(["plain", "dur", "grp"]);
      if (i % 6 === 0) {
        const text = `valid-e-${topic}-${i}`;
        valid[topic]?.push(text);
        await m.client.publish(topic, enc(text));
        count("event, valid");
        continue;
      }
      const h = randomHeaders() ?? natsHeaders();
      if (rnd() < 0.2) h.set("Nats-Msg-Id", printable(300) || "x");
      try {
        await js.publish(`${m.ns}.topic.${topic}`, garbage(2000), { headers: h });
      } catch {
        refused++; // the server may refuse some headers: that is its business
      }
      count("event, raw with odd headers");
    }
    const want = { plain: valid.plain ?? [], durable: valid.dur ?? [], group: valid.grp ?? [] };
    let seen = await m.probe();
    const done = () =>
      want.plain.every((v) => seen.events.plain.includes(v)) &&
      want.durable.every((v) => seen.events.durable.includes(v)) &&
      want.group.every((v) => seen.events.group.includes(v));
    const deadline = Date.now() + 10_000;
    while (!done() && Date.now() < deadline) seen = await m.probe();
    expect(refused).toBeLessThan(450);
    expect(seen.events.plain).toEqual(want.plain);
    expect(want.durable.filter((v) => !seen.events.durable.includes(v))).toEqual([]);
    expect(want.group.filter((v) => !seen.events.group.includes(v))).toEqual([]);
  });

  it("answers typed services' invalid msgpack and JSON requests with BAD_REQUEST, and counts them", async () => {
    const before = await m.probe();
    const cases: Array<[string, Uint8Array]> = [
      ["typed", new Uint8Array(0)],
      ["typed", new Uint8Array([0xc1])], // never used in msgpack
      ["typed", new Uint8Array([0xdc, 0xff, 0xff])], // array of 65535, truncated
      ["typed", new Uint8Array([0xd4, 0x01, 0x02])], // an extension type
      ["typed", new Uint8Array([0xc7, 0xff, 0x05])], // ext 8 with a length past the end
      ["typed", msgpack({ n: "not an integer" })],
      ["typed", msgpack([1, 2, 3])],
      ["typed", msgpack({ n: 1 }).subarray(0, 2)],
      ["typedjson", new Uint8Array(0)],
      ["typedjson", enc("{")],
      ["typedjson", enc("null")],
      ["typedjson", enc("[]")],
      ["typedjson", enc('{"n":"x"}')],
      ["typedjson", enc('{"n":1e400}')],
      ["typedjson", enc(`${"[".repeat(5000)}${"]".repeat(5000)}`)],
      ["typedjson", new Uint8Array([0xff, 0xfe, 0x00])],
    ];
    for (let i = 0; i < 30; i++) cases.push([pick(["typed", "typedjson"]), garbage(300)]);
    const problems: string[] = [];
    for (const [cluster, data] of cases) {
      const a = await ask(raw, `${m.ns}.req.${cluster}`, data);
      count("typed request, invalid");
      if (!(a.kind === "error" && a.errorKind === "BAD_REQUEST")) {
        problems.push(`${cluster} ${Buffer.from(data.subarray(0, 12)).toString("hex")}: ${describeAnswer(a)}`);
      }
    }
    expect(problems).toEqual([]);
    const ok = await ask(raw, `${m.ns}.req.typed`, msgpack({ n: 1 }));
    expect(ok.kind).toBe("reply");
    const after = await m.probe();
    const malformed =
      after.typedStats.malformed +
      after.typedJsonStats.malformed -
      before.typedStats.malformed -
      before.typedJsonStats.malformed;
    expect(malformed).toBe(cases.length);
  });

  it("gives up invalid events of a typed topic to onDeadLetter, counts them, and hands on every valid one", async () => {
    const Topic = topicContract({
      name: "typedtopic",
      event: { type: "object", properties: { id: { type: "string" } }, required: ["id"] },
    } as const);
    const js = jetstream(raw);
    const before = await m.probe();
    const valid: string[] = [];
    let invalid = 0;
    for (let i = 0; i < 60; i++) {
      if (i % 3 === 0) {
        valid.push(`valid-t-${i}`);
        await m.client.use(Topic).publish({ id: `valid-t-${i}` });
        count("typed event, valid");
      } else {
        const data = pick([garbage(200), msgpack({ id: 5 }), new Uint8Array([0xc1]), msgpack(null), enc("{}")]);
        await js.publish(`${m.ns}.topic.typedtopic`, data, { headers: randomHeaders() ?? natsHeaders() });
        invalid++;
        count("typed event, invalid");
      }
    }
    let seen = await m.probe();
    const deadline = Date.now() + 10_000;
    while (
      (seen.deadLetters - before.deadLetters < invalid || valid.some((v) => !seen.events.typed.includes(v))) &&
      Date.now() < deadline
    ) {
      seen = await m.probe();
    }
    expect(valid.filter((v) => !seen.events.typed.includes(v))).toEqual([]);
    expect(seen.deadLetters - before.deadLetters).toBe(invalid);
    expect(seen.subs.typed.malformed - before.subs.typed.malformed).toBe(invalid);
  });

  it("is still up after all of it: no crash, no uncaught exception, and every pattern and discovery still works", async () => {
    expect(m.alive(), m.stderr()).toBe(true);
    const seen = await m.probe();
    expect(seen.uncaught).toEqual([]);
    expect(seen.unhandled).toEqual([]);
    expect(await answers(m)).toBe(true);
    await m.client.broadcast("victim", enc("valid-final"));
    let last = await m.probe();
    const deadline = Date.now() + 3000;
    while (!last.broadcasts.includes("valid-final") && Date.now() < deadline) last = await m.probe();
    expect(last.broadcasts).toContain("valid-final");
    const tun = await m.client.tunnel("victim", { timeout: 3000 });
    await roundTrips(tun, 5, "final");
    await tun.close();
    const members = await m.client.discover("victim", { timeout: 500 });
    expect(members.map((x) => x.id)).toContain(m.id);
  });
});

describe("throwing user code and loggers inside NATS callbacks do not deafen the member", () => {
  let raw: NatsConnection;
  const members: Member[] = [];
  beforeAll(async () => {
    raw = await natsConnect({ servers: nats.server().url });
  });
  afterAll(async () => {
    await raw?.close();
    await Promise.all(members.map((x) => x.stop()));
  });
  async function throwing(): Promise<Member> {
    const x = await startMember("throw");
    members.push(x);
    return x;
  }
  /** After the throws, the member answers, and nothing escaped into the process. */
  async function stillAnswers(x: Member): Promise<Seen | undefined> {
    const ok = await answers(x);
    expect.soft(ok, "the member answers a request after the throws").toBe(true);
    if (!ok) return undefined;
    const seen = await x.probe();
    expect.soft(seen.uncaught, "uncaught exceptions in the member").toEqual([]);
    expect.soft(seen.unhandled, "unhandled rejections in the member").toEqual([]);
    return seen;
  }

  it("a broadcast dropped for a full queue, logged to a throwing logger", async () => {
    const x = await throwing();
    // the first takes the one thread for 300 ms; the next do not fit in 1 KiB and are dropped
    await x.client.broadcast("narrow", enc("slow"));
    for (let i = 0; i < 5; i++) await x.client.broadcast("narrow", new Uint8Array(2048));
    count("broadcast, throwing logger", 6);
    const seen = await stillAnswers(x);
    if (seen) expect.soft(seen.narrowStats.dropped, "broadcasts dropped").toBeGreaterThan(0);
  });

  it("a request without a reply subject, logged to a throwing logger", async () => {
    const x = await throwing();
    raw.publish(`${x.ns}.req.victim`, enc("no reply"));
    count("request, no reply, throwing logger");
    await raw.flush();
    const seen = await stillAnswers(x);
    if (seen) expect.soft(seen.stats.malformed, "counted as malformed").toBe(1);
  });

  it("a request with a bad Jetmesh-Timeout, logged to a throwing logger, is still answered BAD_REQUEST", async () => {
    const x = await throwing();
    const h = natsHeaders();
    h.set("Jetmesh-Timeout", "abc");
    count("request, bad header, throwing logger");
    const a = await ask(raw, `${x.ns}.req.victim`, enc("x"), h);
    expect.soft(describeAnswer(a), "the bad request's answer").toMatch(/^error BAD_REQUEST\//);
    await stillAnswers(x);
  });

  it("a request handler that throws, logged to a throwing logger, still gets its caller a RemoteError", async () => {
    const x = await throwing();
    count("request, throwing handler and logger");
    const a = await ask(raw, `${x.ns}.req.victim`, enc("throw"));
    expect.soft(describeAnswer(a), "the caller's answer").toMatch(/^error REMOTE\/PURPOSE: handler threw on purpose/);
    await stillAnswers(x);
  });

  it("a broadcast handler that throws, logged to a throwing logger", async () => {
    const x = await throwing();
    for (let i = 0; i < 3; i++) await x.client.broadcast("victim", enc("throw"));
    count("broadcast, throwing handler and logger", 3);
    const seen = await stillAnswers(x);
    if (seen) expect.soft(seen.stats.broadcastErrors, "broadcast errors counted").toBe(3);
  });

  it("a malformed tunnel set-up, logged to a throwing logger, is still answered BAD_REQUEST", async () => {
    const x = await throwing();
    count("tunnel set-up, throwing logger");
    const a = await ask(raw, `${x.ns}.tun.victim`, enc("{not json"));
    expect.soft(describeAnswer(a), "the set-up's answer").toMatch(/^error BAD_REQUEST\//);
    await stillAnswers(x);
  });

  it("a malformed frame on a live tunnel, logged to a throwing logger", async () => {
    const x = await throwing();
    const tun = await x.client.tunnel("victim", { timeout: 3000 });
    await roundTrips(tun, 2, "before");
    await jetstream(raw).publish(`${x.ns}.tunnel.${tun.id}.up`, new Uint8Array([1, 2]));
    count("tunnel frame, throwing logger");
    const after = await roundTrips(tun, 5, "after").then(
      () => "echoed",
      (err: unknown) => String(err),
    );
    expect.soft(after, "round trips after the malformed frame").toBe("echoed");
    await tun.close();
    await stillAnswers(x);
  });

  it("an invalid event given up to an onDeadLetter that throws, logged to a throwing logger: onDeadLetter is called", async () => {
    const x = await throwing();
    await jetstream(raw).publish(`${x.ns}.topic.typedtopic`, new Uint8Array([0xc1]));
    count("typed event, invalid, throwing logger");
    let seen = await stillAnswers(x);
    const deadline = Date.now() + 5000;
    while (seen && seen.deadLetters === 0 && Date.now() < deadline) seen = await x.probe();
    expect.soft(seen?.deadLetters, "onDeadLetter calls").toBe(1);
    expect.soft(seen?.subs.typed.deadLetters, "dead letters counted").toBe(1);
    await stillAnswers(x);
  });

  it("register() succeeds over a connection whose logger throws, and never leaves a member it did not return", async () => {
    const boom = () => {
      throw new Error("logger throws");
    };
    const logger: Logger = { debug: boom, info: boom, warn: boom, error: boom };
    const ns = uniqueNamespace();
    const conn = await connect({
      servers: nats.server().url,
      namespace: ns,
      logger,
      topics: { maxBytes: TEST_STREAM_BYTES },
      tunnels: { maxBytes: TEST_STREAM_BYTES },
    });
    try {
      const registered = await conn.register("loud", { handleRequest: (r) => r }).then(
        (svc) => svc,
        (err: unknown) => err as Error,
      );
      expect.soft(registered instanceof Error ? String(registered) : "registered", "register()").toBe("registered");
      const a = await ask(raw, `${ns}.req.loud`, enc("hi"));
      if (registered instanceof Error) {
        // it rejected: nothing may be left answering in its name
        expect.soft(describeAnswer(a), "a request after the rejected register()").toMatch(/503|no responders/i);
      } else {
        expect.soft(describeAnswer(a)).toBe("reply hi");
        await registered.unregister().catch(() => {});
      }
    } finally {
      await conn.close().catch(() => {});
    }
  });
});
