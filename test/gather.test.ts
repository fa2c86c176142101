import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Empty, headers, type NatsConnection } from "@nats-io/nats-core";
import { SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ClosedError,
  type Connection,
  connect,
  type GatherReply,
  InvalidArgumentError,
  type Logger,
  OverloadedError,
  PayloadTooLargeError,
  PermissionError,
  RemoteError,
  silentLogger,
} from "../src/index.js";
import { type ClusterNode, startNats, startNatsCluster } from "../src/testing/index.js";
import { errorHeaders, HEADER } from "../src/wire/index.js";
import { dec, deferred, enc, uniqueNamespace, useNats, waitForAsync } from "./helpers.js";

const nats = useNats();

/** Every answer of a gather, in the order they came. */
async function all(answers: AsyncIterable<GatherReply>): Promise<GatherReply[]> {
  const out: GatherReply[] = [];
  for await (const r of answers) out.push(r);
  return out;
}

/** The text of an ok answer, or `error <name>: <message>`. */
function text(r: GatherReply): string {
  return r.ok ? dec(r.data) : `error ${r.error.name}: ${r.error.message}`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How an emulated member answers one gather. */
interface Behaviour {
  /** Sends the ack first (default true; an overloaded member does not). */
  ack?: boolean;
  /** Acks, then never answers. */
  silent?: boolean;
  /** Waits this long (ms) after the ack before the final answer (default 0). */
  delay?: number;
  /** Final answer: these bytes (default `<id>:<request>`), */
  reply?: Uint8Array;
  /** or these error headers. */
  error?: ReturnType<typeof errorHeaders>;
}

/**
 * A member of `cluster` written against the wire protocol alone, over a raw
 * NATS connection: it subscribes to `<ns>.all.<cluster>` and answers on the
 * reply subject with an ack, then its answer. Returns the reply subjects it saw.
 */
async function emulatedMember(
  nc: NatsConnection,
  ns: string,
  cluster: string,
  id: string,
  behave: Behaviour = {},
): Promise<string[]> {
  const seen: string[] = [];
  nc.subscribe(`${ns}.all.${cluster}`, {
    callback: (_err, msg) => {
      const reply = msg.reply;
      if (!reply) return;
      seen.push(reply);
      const who = () => {
        const h = headers();
        h.set(HEADER.member, id);
        return h;
      };
      if (behave.ack !== false) {
        const h = who();
        h.set(HEADER.gather, "ack");
        nc.publish(reply, Empty, { headers: h });
      }
      const answer = () => {
        if (behave.error) {
          behave.error.set(HEADER.member, id);
          nc.publish(reply, Empty, { headers: behave.error });
        } else {
          nc.publish(reply, behave.reply ?? enc(`${id}:${dec(msg.data)}`), { headers: who() });
        }
      };
      if (behave.silent) return;
      if (behave.delay) setTimeout(answer, behave.delay);
      else answer();
    },
  });
  await nc.flush();
  return seen;
}

/** Whether anything still listens on `subject`: a request to it gets no-responders at once when nothing does. */
async function listened(nc: NatsConnection, subject: string): Promise<boolean> {
  await nc.flush();
  try {
    await nc.request(subject, Empty, { timeout: 500 });
    return true;
  } catch (err) {
    if (/no responders/i.test(String((err as Error).message) + String((err as Error).cause))) return false;
    // a listener that does not answer (a gather's inbox) times out
    return true;
  }
}

/** A logger that keeps its warnings. */
function recordingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  return { ...silentLogger, warnings, warn: (obj, msg) => void warnings.push(`${msg} ${JSON.stringify(obj)}`) };
}

describe("gather, against members that follow the wire protocol", () => {
  it("yields each member's answer with its id, and ends once every member present answered", async () => {
    const ns = uniqueNamespace();
    const conn = await nats.open(ns);
    const nc = (await nats.open(ns)).nats;
    await emulatedMember(nc, ns, "room", "a");
    await emulatedMember(nc, ns, "room", "b", { delay: 30 });
    await emulatedMember(nc, ns, "room", "c", { delay: 60 });
    const t0 = performance.now();
    const got = await all(conn.gather("room", enc("hi"), { timeout: 5_000 }));
    const took = performance.now() - t0;
    expect(got.map((r) => `${r.member} ${text(r)}`).sort()).toEqual(["a a:hi", "b b:hi", "c c:hi"]);
    expect(took).toBeLessThan(2_000);
  });

  it("waits for a member that acked but has not answered yet, and ends at the time-out without it", async () => {
    const ns = uniqueNamespace();
    const conn = await nats.open(ns);
    const nc = (await nats.open(ns)).nats;
    await emulatedMember(nc, ns, "room", "quick");
    await emulatedMember(nc, ns, "room", "slow", { silent: true });
    const t0 = performance.now();
    const got = await all(conn.gather("room", enc("x"), { timeout: 400 }));
    const took = performance.now() - t0;
    expect(got.map((r) => r.member)).toEqual(["quick"]);
    expect(took).toBeGreaterThanOrEqual(390);
    expect(took).toBeLessThan(1_500);
  });

  it("counts an error answer without an ack (overloaded) as that member's answer", async () => {
    const ns = uniqueNamespace();
    const conn = await nats.open(ns);
    const nc = (await nats.open(ns)).nats;
    await emulatedMember(nc, ns, "room", "ok");
    await emulatedMember(nc, ns, "room", "busy", {
      ack: false,
      error: errorHeaders("OVERLOADED", "too many requests queued", "OVERLOADED"),
    });
    const got = await all(conn.gather("room", enc("x"), { timeout: 5_000 }));
    const busy = got.find((r) => r.member === "busy");
    expect(busy?.ok).toBe(false);
    expect(busy?.ok === false && busy.error).toBeInstanceOf(OverloadedError);
    expect(got.find((r) => r.member === "ok")?.ok).toBe(true);
  });

  it("logs and ignores answers that do not follow the protocol, and never ends for them", async () => {
    const ns = uniqueNamespace();
    const logger = recordingLogger();
    const conn = await nats.open(ns, { logger });
    const nc = (await nats.open(ns)).nats;
    nc.subscribe(`${ns}.all.room`, {
      callback: (_err, msg) => {
        if (!msg.reply) return;
        nc.publish(msg.reply, enc("no member header"));
        const odd = headers();
        odd.set(HEADER.member, "odd");
        odd.set(HEADER.gather, "maybe");
        nc.publish(msg.reply, Empty, { headers: odd });
        const twice = headers();
        twice.set(HEADER.member, "twice");
        nc.publish(msg.reply, enc("first"), { headers: twice });
        nc.publish(msg.reply, enc("second"), { headers: twice });
      },
    });
    await emulatedMember(nc, ns, "room", "fine", { delay: 50 });
    const got = await all(conn.gather("room", enc("x"), { timeout: 5_000 }));
    expect(got.map((r) => `${r.member} ${text(r)}`).sort()).toEqual(["fine fine:x", "twice first"]);
    expect(logger.warnings.length).toBeGreaterThan(0);
    expect(logger.warnings[0]).toMatch(/gather answer/);
  });

  it("releases its inbox subscription and timers when the loop breaks early", async () => {
    const ns = uniqueNamespace();
    const conn = await nats.open(ns);
    const nc = (await nats.open(ns)).nats;
    const seen = await emulatedMember(nc, ns, "room", "a");
    await emulatedMember(nc, ns, "room", "b", { silent: true });
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
    const before = timers();
    for await (const r of conn.gather("room", enc("x"), { timeout: 10_000 })) {
      expect(r.member).toBe("a");
      expect(timers()).toBeGreaterThan(before);
      const inbox = seen[0] ?? "";
      expect(inbox.startsWith(`_INBOX_${ns}.`)).toBe(true);
      expect(await listened(conn.nats, inbox)).toBe(true);
      break;
    }
    expect(timers()).toBeLessThanOrEqual(before);
    expect(await listened(conn.nats, seen[0] ?? "")).toBe(false);
  });
});

describe("gather", () => {
  /** Three members of "room" in `ns`, each answering `<i>:<request>`; their services. */
  async function threeMembers(ns: string) {
    return Promise.all(
      [0, 1, 2].map(async (i) => {
        const conn = await nats.open(ns);
        return conn.register("room", { handleRequest: (req) => enc(`${i}:${dec(req)}`) });
      }),
    );
  }

  it("reaches every member and yields each answer with its member's id, ending once all answered", async () => {
    const ns = uniqueNamespace();
    const services = await threeMembers(ns);
    const conn = await nats.open(ns);
    const t0 = performance.now();
    const got = await all(conn.gather("room", enc("hi"), { timeout: 5_000 }));
    const took = performance.now() - t0;
    expect(got.map(text).sort()).toEqual(["0:hi", "1:hi", "2:hi"]);
    expect(got.every((r) => r.ok)).toBe(true);
    expect(got.map((r) => r.member).sort()).toEqual(services.map((s) => s.id).sort());
    expect(took).toBeLessThan(2_000);
  });

  it("ends after max answers", async () => {
    const ns = uniqueNamespace();
    await threeMembers(ns);
    const conn = await nats.open(ns);
    const got = await all(conn.gather("room", enc("x"), { timeout: 5_000, max: 2 }));
    expect(got).toHaveLength(2);
  });

  it("ends at once with nothing when the cluster has no member", async () => {
    const conn = await nats.open(uniqueNamespace());
    const t0 = performance.now();
    expect(await all(conn.gather("nobody", enc("x"), { timeout: 5_000 }))).toEqual([]);
    expect(performance.now() - t0).toBeLessThan(1_000);
  });

  it("ends at the time-out with the answers of the members that made it", async () => {
    const ns = uniqueNamespace();
    await threeMembers(ns);
    const slow = await nats.open(ns);
    const release = deferred();
    await slow.register("room", { handleRequest: () => release.promise.then(() => enc("late")) });
    const conn = await nats.open(ns);
    const t0 = performance.now();
    const got = await all(conn.gather("room", enc("x"), { timeout: 500 }));
    const took = performance.now() - t0;
    release.resolve();
    expect(got.map(text).sort()).toEqual(["0:x", "1:x", "2:x"]);
    expect(took).toBeGreaterThanOrEqual(490);
    expect(took).toBeLessThan(2_000);
  });

  it("gives a member's failure as an ok: false answer with its RemoteError", async () => {
    const ns = uniqueNamespace();
    await threeMembers(ns);
    const failing = await nats.open(ns);
    const svc = await failing.register("room", {
      handleRequest: () => {
        throw Object.assign(new Error("it broke"), { code: "E_BROKE" });
      },
    });
    const conn = await nats.open(ns);
    const got = await all(conn.gather("room", enc("x"), { timeout: 5_000 }));
    expect(got).toHaveLength(4);
    const failed = got.filter((r) => !r.ok);
    expect(failed.map((r) => r.member)).toEqual([svc.id]);
    const err = failed[0]?.ok === false ? failed[0].error : undefined;
    expect(err).toBeInstanceOf(RemoteError);
    expect(err?.message).toBe("it broke");
    expect((err as RemoteError).remoteCode).toBe("E_BROKE");
  });

  it("calls the named method on every member", async () => {
    const ns = uniqueNamespace();
    for (let i = 0; i < 2; i++) {
      const m = await nats.open(ns);
      await m.register("room", {
        handleRequest: () => enc("default"),
        methods: { ping: (req) => enc(`pong ${i} ${dec(req)}`) },
      });
    }
    const conn = await nats.open(ns);
    const got = await all(conn.gather("room", enc("x"), { timeout: 5_000, method: "ping" }));
    expect(got.map(text).sort()).toEqual(["pong 0 x", "pong 1 x"]);
    expect((await all(conn.gather("room", enc("x"), { timeout: 5_000 }))).map(text)).toEqual(["default", "default"]);
    expect(await all(conn.gather("room", enc("x"), { timeout: 5_000, method: "nope" }))).toEqual([]);
  });

  it("gives each member the caller's time-out", async () => {
    const ns = uniqueNamespace();
    const member = await nats.open(ns);
    await member.register("room", { handleRequest: (_req, ctx) => enc(String(ctx.remaining())) });
    const conn = await nats.open(ns);
    const [r] = await all(conn.gather("room", enc("x"), { timeout: 3_000 }));
    const remaining = Number(r?.ok ? dec(r.data) : Number.NaN);
    expect(remaining).toBeGreaterThan(2_000);
    expect(remaining).toBeLessThanOrEqual(3_000);
  });

  it("rejects with the signal's reason when aborted, before or during the gather, and lets go of its inbox", async () => {
    const ns = uniqueNamespace();
    const conn = await nats.open(ns);
    const nc = (await nats.open(ns)).nats;
    const seen = await emulatedMember(nc, ns, "room", "never", { silent: true });
    const before = AbortSignal.abort(new Error("stop before"));
    await expect(all(conn.gather("room", enc("x"), { signal: before }))).rejects.toThrow("stop before");
    expect(seen).toEqual([]);
    const ac = new AbortController();
    const t0 = performance.now();
    const during = all(conn.gather("room", enc("x"), { timeout: 10_000, signal: ac.signal }));
    setTimeout(() => ac.abort(new Error("stop now")), 100);
    await expect(during).rejects.toThrow("stop now");
    expect(performance.now() - t0).toBeLessThan(2_000);
    expect(seen).toHaveLength(1);
    expect(await listened(conn.nats, seen[0] ?? "")).toBe(false);
  });

  it("rejects with ClosedError when the connection closes during the gather", async () => {
    const ns = uniqueNamespace();
    const conn = await nats.open(ns);
    const nc = (await nats.open(ns)).nats;
    await emulatedMember(nc, ns, "room", "never", { silent: true });
    const pending = all(conn.gather("room", enc("x"), { timeout: 10_000 })).catch((e: unknown) => e);
    await sleep(100);
    await conn.close();
    expect(await pending).toBeInstanceOf(ClosedError);
    expect(() => conn.gather("room", enc("x"))).toThrow(ClosedError);
  });

  it("rejects bad input before sending anything", async () => {
    const conn = await nats.open(uniqueNamespace());
    const before = conn.nats.stats().outMsgs;
    const bad: [string, unknown, unknown][] = [
      ["a.b", enc("x"), undefined],
      ["ok", "x", undefined],
      ["ok", enc("x"), { timeout: 0 }],
      ["ok", enc("x"), { timeout: 1.5 }],
      ["ok", enc("x"), { max: 0 }],
      ["ok", enc("x"), { max: 2.5 }],
      ["ok", enc("x"), { max: "3" }],
      ["ok", enc("x"), { method: "a.b" }],
      ["ok", enc("x"), { method: "" }],
      ["ok", enc("x"), { signal: "no" }],
      ["ok", enc("x"), { timout: 5 }],
      ["ok", enc("x"), "fast"],
    ];
    for (const [cluster, payload, options] of bad) {
      expect(() => conn.gather(cluster, payload as Uint8Array, options as never), JSON.stringify(options)).toThrow(
        InvalidArgumentError,
      );
    }
    const max = conn.nats.info?.max_payload ?? 1024 * 1024;
    expect(() => conn.gather("ok", new Uint8Array(max + 1))).toThrow(PayloadTooLargeError);
    expect(conn.nats.stats().outMsgs).toBe(before);
  });

  it("sends nothing until iterated, and once per iteration", async () => {
    const ns = uniqueNamespace();
    const conn = await nats.open(ns);
    const nc = (await nats.open(ns)).nats;
    const seen = await emulatedMember(nc, ns, "room", "a");
    const answers = conn.gather("room", enc("x"), { timeout: 5_000 });
    await sleep(100);
    expect(seen).toEqual([]);
    expect((await all(answers)).map(text)).toEqual(["a:x"]);
    expect(await all(answers)).toEqual([]);
    expect(seen).toHaveLength(1);
  });
});

describe("gather refused by the server", () => {
  it("rejects with a PermissionError naming the subject, at once", async () => {
    const ns = uniqueNamespace();
    const file = join(tmpdir(), `jetmesh-gather-${process.pid}-${Date.now()}.conf`);
    await writeFile(
      file,
      `authorization { users = [ { user: "u", password: "pw", permissions: { publish: { deny: ["${ns}.all.>"] } } } ] }\n`,
    );
    await using server = await startNats({ useEnv: false, docker: false, args: ["-c", file] });
    await using conn: Connection = await connect({
      servers: server.url,
      user: "u",
      pass: "pw",
      namespace: ns,
      logger: silentLogger,
    });
    const t0 = performance.now();
    const err = await all(conn.gather("room", enc("x"), { timeout: 10_000 })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermissionError);
    expect((err as PermissionError).subject).toBe(`${ns}.all.room`);
    expect(performance.now() - t0).toBeLessThan(5_000);
  });
});

describe("gather on a 3-node cluster", () => {
  it("reaches members on every node, and ends at once when there is none", async () => {
    await using cluster = await startNatsCluster();
    const ns = uniqueNamespace();
    const open = (node: ClusterNode) => connect({ servers: node.url, namespace: ns, logger: silentLogger });
    const conns: Connection[] = [];
    try {
      for (const [i, node] of cluster.nodes.entries()) {
        const m = await open(node);
        conns.push(m);
        await m.register("room", { handleRequest: () => enc(`node ${i}`) });
      }
      const caller = await open(cluster.nodes[0] as ClusterNode);
      conns.push(caller);
      expect(await all(caller.gather("nobody", enc("x"), { timeout: 5_000 }))).toEqual([]);
      // the other nodes' members are known on the caller's node once the routes have told it
      await waitForAsync(
        "members of every node",
        async () => (await all(caller.gather("room", enc("x"), { timeout: 300 }))).length === 3,
      );
      const t0 = performance.now();
      const got = await all(caller.gather("room", enc("x"), { timeout: 5_000 }));
      expect(got.map(text).sort()).toEqual(["node 0", "node 1", "node 2"]);
      expect(performance.now() - t0).toBeLessThan(2_000);
    } finally {
      await Promise.all(conns.map((c) => c.close()));
    }
  }, 120_000);
});

describe("gather with tracing on", () => {
  const exporter = new InMemorySpanExporter();
  beforeAll(() => {
    new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }).register();
  });
  afterAll(() => trace.disable());

  it("is one client span, whose context the members get, ended with the gather (failed when it rejects)", async () => {
    const ns = uniqueNamespace();
    const conn = await nats.open(ns);
    const nc = (await nats.open(ns)).nats;
    const parents: string[] = [];
    nc.subscribe(`${ns}.all.room`, {
      callback: (_err, msg) => void parents.push(msg.headers?.get("traceparent") ?? ""),
    });
    await emulatedMember(nc, ns, "room", "a");
    expect((await all(conn.gather("room", enc("x"), { timeout: 5_000 }))).map(text)).toEqual(["a:x"]);
    const [span] = exporter.getFinishedSpans().filter((s) => s.name === "gather room");
    expect(span?.kind).toBe(SpanKind.CLIENT);
    expect(span?.status.code).not.toBe(SpanStatusCode.ERROR);
    expect(span?.attributes["messaging.destination.name"]).toBe(`${ns}.all.room`);
    expect(parents[0]).toContain(span?.spanContext().spanId);
    await emulatedMember(nc, ns, "room", "never", { silent: true });
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error("stop")), 50);
    await expect(all(conn.gather("room", enc("x"), { timeout: 5_000, signal: ac.signal }))).rejects.toThrow("stop");
    const spans = exporter.getFinishedSpans().filter((s) => s.name === "gather room");
    expect(spans).toHaveLength(2);
    expect(spans[1]?.status.code).toBe(SpanStatusCode.ERROR);
  });
});
