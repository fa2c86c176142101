/**
 * Connection outages, injected with a TCP proxy between a connection and the
 * server, on the caller's side and on the member's side, of about 1 s, 7 s
 * and 30 s, while requests, broadcasts and publishes keep coming.
 */
import { jetstreamManager } from "@nats-io/jetstream";
import { connect as natsConnect } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import { type Connection, connect, JetmeshError, silentLogger, TimeoutError } from "../src/index.js";
import { type FaultProxy, startProxy } from "./faults/tcp-proxy.js";
import { dec, enc, TEST_STREAM_BYTES, uniqueNamespace, useNats, waitFor, waitForAsync } from "./helpers.js";

const nats = useNats();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function open(url: string, namespace: string): Promise<Connection> {
  return connect({
    servers: url,
    namespace,
    logger: silentLogger,
    reconnectTimeWait: 200,
    drainTimeout: 500,
    topics: { maxBytes: TEST_STREAM_BYTES },
    tunnels: { maxBytes: TEST_STREAM_BYTES },
  });
}

interface Outcome {
  requestsOk: number;
  requestErrors: unknown[];
  /** ms from the end of the outage to the first request answered after it. */
  recovery: number;
  resolved: number[];
  plain: number[];
  /** Stream sequences in the order the plain subscriber got them. */
  plainSeqs: number[];
  durable: number[];
  group: number[];
}

/** Runs traffic through an outage of `ms` on `side`, and reports what each end saw. */
async function throughOutage(side: "caller" | "member", ms: number): Promise<Outcome> {
  const ns = uniqueNamespace();
  await using memberProxy = await startProxy(nats.server().url);
  await using callerProxy = await startProxy(nats.server().url);
  const cut: FaultProxy = side === "caller" ? callerProxy : memberProxy;
  await using member = await open(memberProxy.url, ns);
  await using caller = await open(callerProxy.url, ns);
  await member.register("svc", { handleRequest: (r) => r, handleBroadcast: () => {} });
  const plain: number[] = [];
  const durable: number[] = [];
  const group: number[] = [];
  const plainSeqs: number[] = [];
  await member.subscribe(
    "t",
    (e, ctx) => {
      plain.push(Number(dec(e)));
      plainSeqs.push(ctx.seq);
    },
    { eventThreads: 1 },
  );
  await using second = await open(memberProxy.url, ns);
  await second.subscribe("t", (e) => void durable.push(Number(dec(e))), {
    durable: "d",
    eventThreads: 1,
    ackWait: 2_000,
  });
  await using third = await open(memberProxy.url, ns);
  await third.subscribe("t", (e) => void group.push(Number(dec(e))), { group: "g", eventThreads: 1, ackWait: 2_000 });
  expect(dec(await caller.request("svc", enc("warm")))).toBe("warm");

  let stop = false;
  let outageEnded = Number.POSITIVE_INFINITY;
  let firstAfter = Number.POSITIVE_INFINITY;
  let requestsOk = 0;
  const requestErrors: unknown[] = [];
  const requests = (async () => {
    while (!stop) {
      const sentAt = performance.now();
      try {
        await caller.request("svc", enc("x"), { timeout: 1_000 });
        requestsOk++;
        if (sentAt >= outageEnded && firstAfter === Number.POSITIVE_INFINITY) firstAfter = performance.now();
      } catch (err) {
        requestErrors.push(err);
        await sleep(50);
      }
      await caller.broadcast("svc", enc("b")).catch(() => {});
    }
  })();
  const resolved: number[] = [];
  const publishes = (async () => {
    const pending: Array<Promise<void>> = [];
    for (let i = 0; !stop; i++) {
      pending.push(
        caller.publish("t", enc(String(i)), { timeout: 60_000 }).then(
          () => void resolved.push(i),
          () => {},
        ),
      );
      await sleep(20);
    }
    await Promise.all(pending);
  })();

  await sleep(1_000);
  cut.down();
  await sleep(ms);
  cut.up();
  outageEnded = performance.now();
  await waitFor("a request answered after the outage", () => firstAfter !== Number.POSITIVE_INFINITY, 15_000);
  await sleep(1_000);
  stop = true;
  await Promise.all([requests, publishes]);
  resolved.sort((a, b) => a - b);
  const all = (got: number[]) => () => resolved.every((i) => got.includes(i));
  await waitFor("the plain subscriber has every stored event", all(plain), 30_000);
  await waitFor("the durable subscriber has every stored event", all(durable), 30_000);
  await waitFor("the group subscriber has every stored event", all(group), 30_000);
  return { requestsOk, requestErrors, recovery: firstAfter - outageEnded, resolved, plain, plainSeqs, durable, group };
}

function expectSound(o: Outcome): void {
  // requests fail only with errors that say a retry is safe
  for (const err of o.requestErrors) {
    expect(err).toBeInstanceOf(JetmeshError);
    expect((err as JetmeshError).retryable, String(err)).toBe(true);
  }
  expect(o.requestsOk).toBeGreaterThan(10);
  expect(o.recovery).toBeLessThan(10_000);
  expect(o.resolved.length).toBeGreaterThan(50);
  // the plain subscriber: nothing twice, in the stream's order; events never published never show up
  expect(new Set(o.plain).size).toBe(o.plain.length);
  expect(o.plainSeqs.every((seq, i) => i === 0 || seq > (o.plainSeqs[i - 1] ?? 0))).toBe(true);
  const attempted = Math.max(...o.resolved);
  for (const got of [o.plain, o.durable, o.group]) expect(Math.max(...got)).toBeLessThanOrEqual(attempted + 1_000);
}

describe("an outage", () => {
  for (const side of ["caller", "member"] as const) {
    for (const seconds of [1, 7, 30]) {
      it(`of ${seconds} s on the ${side}'s side: requests fail retryably and recover, no stored event is lost`, async () => {
        const o = await throughOutage(side, seconds * 1_000);
        console.info(
          `outage ${seconds} s, ${side}: ${o.requestsOk} requests answered, ${o.requestErrors.length} failed retryably, ` +
            `first answer ${Math.round(o.recovery)} ms after; ${o.resolved.length} publishes stored, ` +
            `plain/durable/group got ${o.plain.length}/${o.durable.length}/${o.group.length}`,
        );
        expectSound(o);
        if (side === "caller") expect(o.requestErrors.some((e) => e instanceof TimeoutError)).toBe(true);
      }, 120_000);
    }
  }

  it("of the subscriber's connection during subscribe: the time-out and the signal are honoured, and nothing is left subscribed", async () => {
    const ns = uniqueNamespace();
    await using proxy = await startProxy(nats.server().url);
    await using conn = await open(proxy.url, ns);
    // the stream exists: set-up only needs the consumer
    await conn.publish("s", enc("first"));
    proxy.stall();
    const t0 = performance.now();
    const timedOut = await conn.subscribe("s", () => {}, { timeout: 800 }).catch((e: unknown) => e);
    expect(timedOut).toBeInstanceOf(TimeoutError);
    expect(performance.now() - t0).toBeLessThan(3_000);
    const reason = new Error("gave up");
    const controller = new AbortController();
    setTimeout(() => controller.abort(reason), 300);
    const aborted = await conn
      .subscribe("s2", () => {}, { signal: controller.signal, timeout: 60_000 })
      .catch((e: unknown) => e);
    expect(aborted).toBe(reason);
    proxy.resume();
    // the set-ups that finish late are undone: the topics can be subscribed again, and no consumer is left
    const got: string[] = [];
    const sub = await conn.subscribe("s", (e) => void got.push(dec(e)));
    await conn.publish("s", enc("second"));
    await waitFor("event", () => got.includes("second"));
    await sub.unsubscribe();
    const raw = await natsConnect({ servers: nats.server().url });
    try {
      const jsm = await jetstreamManager(raw);
      const streams = await jsm.streams.list().next();
      const stream = streams.find((s) => s.config.subjects?.some((subject) => subject.startsWith(`${ns}.topic.`)));
      expect(stream).toBeDefined();
      await waitForAsync(
        "no consumer left",
        async () => (await jsm.consumers.list(stream?.config.name ?? "").next()).length === 0,
        15_000,
      );
    } finally {
      await raw.close();
    }
  }, 60_000);
});
