import { type ChildProcess, fork } from "node:child_process";
import { connect as connectTcp } from "node:net";
import { fileURLToPath } from "node:url";
import { SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import {
  AggregationTemporality,
  type DataPoint,
  type Histogram,
  MeterProvider,
  MetricReader,
} from "@opentelemetry/sdk-metrics";
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Logger, RemoteError } from "../src/index.js";
import { PUBLISH_HEADER_BYTES } from "../src/jetstream/index.js";
import { deferred, enc, TEST_STREAM_BYTES, uniqueNamespace, useNats, waitFor } from "./helpers.js";

const nats = useNats();

const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const tracer = trace.getTracer("test");

interface RemoteSpan {
  name: string;
  kind: SpanKind;
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  attributes: Record<string, unknown>;
  links: string[];
  status: { code: SpanStatusCode; message?: string };
}

/** The member process of the trace tests (test/fixtures/traced-member.mjs), and its spans. */
class Member {
  readonly child: ChildProcess;
  readonly ready: Promise<void>;

  constructor(url: string, namespace: string) {
    const script = fileURLToPath(new URL("./fixtures/traced-member.mjs", import.meta.url));
    this.child = fork(script, [url, namespace, String(TEST_STREAM_BYTES)], { stdio: "inherit" });
    this.ready = new Promise((resolve, reject) => {
      this.child.once("message", () => resolve());
      this.child.once("exit", (code) => reject(new Error(`member exited with ${code}`)));
    });
  }

  async spans(): Promise<RemoteSpan[]> {
    const got = new Promise<RemoteSpan[]>((resolve) => this.child.once("message", (m) => resolve(m as RemoteSpan[])));
    this.child.send("spans");
    return got;
  }

  /** Waits until a span named `name` has ended in the member. */
  async span(name: string, where: (s: RemoteSpan) => boolean = () => true): Promise<RemoteSpan> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const found = (await this.spans()).find((s) => s.name === name && where(s));
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no span "${name}" in the member`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

function local(name: string): ReadableSpan[] {
  return exporter.getFinishedSpans().filter((s) => s.name === name);
}

describe("tracing across processes", () => {
  let member: Member;
  let ns: string;

  beforeAll(async () => {
    provider.register();
    ns = uniqueNamespace();
    member = new Member(nats.server().url, ns);
    await member.ready;
  });

  afterAll(() => {
    member?.child.kill();
  });

  it("makes the member's handler span a child of the caller's request span, with messaging attributes", async () => {
    const conn = await nats.open(ns);
    exporter.reset();
    const rootId = await tracer.startActiveSpan("caller work", async (root) => {
      await conn.request("traced", enc("hi"));
      root.end();
      return root.spanContext().spanId;
    });
    const [client] = local("request traced");
    expect(client).toBeDefined();
    if (!client) return;
    expect(client.kind).toBe(SpanKind.CLIENT);
    expect(client.parentSpanContext?.spanId).toBe(rootId);
    expect(client.attributes).toMatchObject({
      "messaging.system": "nats",
      "messaging.destination.name": `${ns}.req.traced`,
      "messaging.operation.name": "request",
      "messaging.operation.type": "send",
      "messaging.message.body.size": 2,
      "jetmesh.cluster": "traced",
    });
    expect(client.status.code).not.toBe(SpanStatusCode.ERROR);

    const traceId = client.spanContext().traceId;
    const server = await member.span("process traced", (s) => s.traceId === traceId);
    expect(server.kind).toBe(SpanKind.SERVER);
    expect(server.parentSpanId).toBe(client.spanContext().spanId);
    expect(server.attributes).toMatchObject({
      "messaging.system": "nats",
      "messaging.destination.name": `${ns}.req.traced`,
      "messaging.operation.type": "process",
      "messaging.consumer.group.name": "traced",
      "messaging.message.body.size": 2,
    });
    // spans the handler makes are children of its span
    const inner = await member.span("inner work", (s) => s.traceId === traceId);
    expect(inner.parentSpanId).toBe(server.spanId);
  });

  it("marks both sides failed when the handler throws, with the error's code as error.type", async () => {
    const conn = await nats.open(ns);
    exporter.reset();
    await expect(conn.request("traced", enc("fail"))).rejects.toBeInstanceOf(RemoteError);
    const [client] = local("request traced");
    expect(client?.status.code).toBe(SpanStatusCode.ERROR);
    expect(client?.attributes["error.type"]).toBe("E_BOOM");
    const traceId = client?.spanContext().traceId;
    const server = await member.span("process traced", (s) => s.traceId === traceId);
    expect(server.status.code).toBe(SpanStatusCode.ERROR);
    expect(server.status.message).toBe("boom");
    expect(server.attributes["error.type"]).toBe("E_BOOM");
  });

  it("links every handler of a published event, in both processes, to the publish span", async () => {
    const conn = await nats.open(ns);
    const handled = deferred();
    await conn.subscribe("news", () => handled.resolve());
    exporter.reset();
    const ack = await conn.publish("news", enc("extra!"));
    await handled.promise;
    const [publish] = local("publish news");
    expect(publish?.kind).toBe(SpanKind.PRODUCER);
    expect(publish?.attributes).toMatchObject({
      "messaging.destination.name": `${ns}.topic.news`,
      "messaging.operation.name": "publish",
      "jetmesh.seq": ack.seq,
    });
    const publishId = publish?.spanContext().spanId;
    await waitFor("local process span", () => local("process news").length === 1);
    const [here] = local("process news");
    expect(here?.kind).toBe(SpanKind.CONSUMER);
    expect(here?.links.map((l) => l.context.spanId)).toEqual([publishId]);
    expect(here?.attributes["jetmesh.seq"]).toBe(ack.seq);
    const there = await member.span("process news", (s) => s.links.includes(publishId ?? "none"));
    expect(there.kind).toBe(SpanKind.CONSUMER);
    expect(there.attributes["messaging.operation.type"]).toBe("process");
  });

  it("links a broadcast's handlers to it, and traces tunnel set-up end to end", async () => {
    const conn = await nats.open(ns);
    exporter.reset();
    await conn.broadcast("traced", enc("to all"));
    const [sent] = local("broadcast traced");
    expect(sent?.kind).toBe(SpanKind.PRODUCER);
    const got = await member.span("process traced", (s) => s.links.includes(sent?.spanContext().spanId ?? "none"));
    expect(got.kind).toBe(SpanKind.CONSUMER);

    const tun = await conn.tunnel("traced");
    await tun.send(enc("ping"));
    expect(new TextDecoder().decode(await tun.recv({ timeout: 5000 }))).toBe("ping");
    await tun.close();
    const [open] = local("tunnel traced");
    expect(open?.kind).toBe(SpanKind.CLIENT);
    expect(open?.attributes["jetmesh.tunnel.id"]).toBe(tun.id);
    const accept = await member.span("accept traced", (s) => s.parentSpanId === open?.spanContext().spanId);
    expect(accept.kind).toBe(SpanKind.SERVER);
    expect(accept.attributes["jetmesh.tunnel.id"]).toBe(tun.id);
  });
  it("makes handler spans of broadcasts and events roots of their own, whatever was active at subscribe time", async () => {
    const conn = await nats.open(ns);
    const handled = deferred();
    await tracer.startActiveSpan("startup", async (startup) => {
      await conn.subscribe("boot", () => handled.resolve());
      startup.end();
    });
    exporter.reset();
    await conn.publish("boot", enc("x"));
    await handled.promise;
    await waitFor("process span", () => local("process boot").length === 1);
    const [span] = local("process boot");
    expect(span?.parentSpanContext).toBeUndefined();
    expect(span?.links.map((l) => l.context.spanId)).toEqual([local("publish boot")[0]?.spanContext().spanId]);
  });

  it("still hands over events, and answers tunnel set-ups, whose headers cannot be read", async () => {
    const conn = await nats.open(ns);
    const got: string[] = [];
    await conn.subscribe("garbled", (e) => void got.push(new TextDecoder().decode(e)));
    await conn.register("garbled", { handleTunnel: () => {} });
    // a header name with a space: the NATS client cannot parse these headers
    const { port } = new URL(nats.server().url);
    const hpub = (subject: string, reply: string, body: string): string => {
      const hdr = "NATS/1.0\r\nbad key: 1\r\n\r\n";
      return `HPUB ${subject} ${reply} ${hdr.length} ${hdr.length + body.length}\r\n${hdr}${body}\r\n`;
    };
    const answers = await new Promise<string>((resolve, reject) => {
      const socket = connectTcp(Number(port), "127.0.0.1");
      let seen = "";
      socket.on("error", reject);
      socket.on("data", (d) => {
        seen += d.toString();
        if (seen.includes("MSG _R.tun")) {
          socket.end();
          resolve(seen);
        }
      });
      socket.write('CONNECT {"verbose":false,"headers":true,"no_responders":true}\r\nSUB _R.> 1\r\n');
      socket.write(hpub(`${ns}.topic.garbled`, "_R.pub", "hello"));
      socket.write(hpub(`${ns}.tun.garbled`, "_R.tun", "not a set-up"));
    });
    expect(answers).toMatch(/Jetmesh-Error: BAD_REQUEST/);
    await waitFor("the event", () => got.length === 1);
    expect(got).toEqual(["hello"]);
  });

  it("leaves the trace context out of a message it would push over the max payload", async () => {
    const conn = await nats.open(ns);
    const max = conn.nats.info?.max_payload ?? 0;
    exporter.reset();
    const ack = await conn.publish("news", new Uint8Array(max - PUBLISH_HEADER_BYTES));
    expect(ack.seq).toBeGreaterThan(0);
    await conn.broadcast("traced", new Uint8Array(max));
    await expect(conn.request("nobody", new Uint8Array(max - 64))).rejects.toMatchObject({ code: "NO_RESPONDERS" });
    expect(local("publish news")[0]?.status.code).not.toBe(SpanStatusCode.ERROR);
    expect(local("broadcast traced")).toHaveLength(1);
  });
});

/** A metric reader the test collects from by hand. */
class TestReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}

  /** Every data point of metric `name`. */
  async points(name: string): Promise<DataPoint<unknown>[]> {
    const { resourceMetrics } = await this.collect();
    return resourceMetrics.scopeMetrics
      .flatMap((s) => s.metrics)
      .filter((m) => m.descriptor.name === name)
      .flatMap((m) => m.dataPoints as DataPoint<unknown>[]);
  }

  /** The sum of metric `name` over the points whose attributes include `where`. */
  async sum(name: string, where: Record<string, unknown> = {}): Promise<number> {
    return (await this.points(name))
      .filter((p) => Object.entries(where).every(([k, v]) => p.attributes[k] === v))
      .reduce((n, p) => n + (p.value as number), 0);
  }
}

describe("metrics", () => {
  it("records request durations at both ends, and reads the in-process counters", async () => {
    const reader = new TestReader();
    const meterProvider = new MeterProvider({ readers: [reader] });
    const ns = uniqueNamespace();
    const conn = await nats.open(ns, { telemetry: { meterProvider } });
    const other = await nats.open(ns);
    const release = deferred();
    const started = deferred();
    await conn.register(
      "metered",
      {
        handleRequest: async (req) => {
          if (new TextDecoder().decode(req) === "block") {
            started.resolve();
            await release.promise;
          }
          if (new TextDecoder().decode(req) === "fail") throw new Error("no");
          return req;
        },
        handleBroadcast: async () => {
          await release.promise;
        },
      },
      { requestThreads: 1, requestMemory: 1, broadcastThreads: 1, broadcastMemory: 1 },
    );
    for (let i = 0; i < 4; i++) await other.request("metered", enc("ok"));
    await expect(other.request("metered", enc("fail"))).rejects.toBeInstanceOf(RemoteError);
    await conn.request("metered", enc("ok"));

    const server = (await reader.points("jetmesh.server.request.duration")) as DataPoint<Histogram>[];
    expect(server.reduce((n, p) => n + p.value.count, 0)).toBe(6);
    expect(server.find((p) => p.attributes["error.type"] === "500")?.value.count).toBe(1);
    const client = (await reader.points("jetmesh.client.request.duration")) as DataPoint<Histogram>[];
    expect(client.reduce((n, p) => n + p.value.count, 0)).toBe(1);
    expect(client[0]?.value.sum).toBeGreaterThan(0);
    expect(await reader.sum("jetmesh.server.requests", { "jetmesh.cluster": "metered" })).toBe(6);
    expect(await reader.sum("jetmesh.server.request.errors")).toBe(1);

    // one handler busy, one request queued (1 byte fits), the next overloaded
    const blocked = other.request("metered", enc("block"), { timeout: 10_000 });
    await started.promise;
    const queued = other.request("metered", enc("k"), { timeout: 10_000 });
    await expect(other.request("metered", enc("ok"))).rejects.toMatchObject({ code: "OVERLOADED" });
    expect(await reader.sum("jetmesh.server.requests.overloaded")).toBe(1);
    expect(await reader.sum("jetmesh.handlers.active", { "jetmesh.kind": "request" })).toBe(1);
    expect(await reader.sum("jetmesh.queue.bytes", { "jetmesh.kind": "request" })).toBe(1);

    // broadcasts: one runs, one waits, the rest are dropped
    for (let i = 0; i < 5; i++) await other.broadcast("metered", enc("b"));
    await other.nats.flush();
    const deadline = Date.now() + 5000;
    while ((await reader.sum("jetmesh.broadcasts.dropped")) < 3 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(await reader.sum("jetmesh.broadcasts.dropped")).toBe(3);
    release.resolve();
    await Promise.all([blocked, queued]);

    // events and tunnel bytes
    await conn.subscribe("ticks", () => {});
    for (let i = 0; i < 3; i++) await other.publish("ticks", enc("t"));
    const until = Date.now() + 5000;
    while ((await reader.sum("jetmesh.events.delivered", { "jetmesh.topic": "ticks" })) < 3 && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(await reader.sum("jetmesh.events.delivered", { "jetmesh.topic": "ticks" })).toBe(3);
    await other.register("sink", {
      async handleTunnel(tun) {
        for await (const m of tun) await tun.send(m);
      },
    });
    const tun = await conn.tunnel("sink");
    await tun.send(new Uint8Array(1000).fill(1));
    await tun.recv({ timeout: 5000 });
    await tun.close();
    expect(await reader.sum("jetmesh.tunnel.bytes", { "jetmesh.direction": "sent" })).toBe(1000);
    expect(await reader.sum("jetmesh.tunnel.bytes", { "jetmesh.direction": "received" })).toBe(1000);
    await meterProvider.shutdown();
  });
});

describe("metrics of several connections", () => {
  it("adds up what connections sharing a meter provider observe under the same attributes", async () => {
    const reader = new TestReader();
    const meterProvider = new MeterProvider({ readers: [reader] });
    const ns = uniqueNamespace();
    const a = await nats.open(ns, { telemetry: { meterProvider } });
    const b = await nats.open(ns, { telemetry: { meterProvider } });
    let handled = 0;
    await a.subscribe("shared", () => void handled++);
    await b.subscribe("shared", () => void handled++);
    await a.publish("shared", enc("1"));
    await a.publish("shared", enc("2"));
    await waitFor("4 deliveries", () => handled === 4);
    expect(await reader.sum("jetmesh.events.delivered", { "jetmesh.topic": "shared" })).toBe(4);
    await b.close();
    // a closed connection no longer reports
    expect(await reader.sum("jetmesh.events.delivered", { "jetmesh.topic": "shared" })).toBe(2);
    await meterProvider.shutdown();
  });
});

describe("logging", () => {
  it("sends every warning through the logger, with its context", async () => {
    const lines: { level: string; obj: Record<string, unknown>; msg: string }[] = [];
    const at =
      (level: string) =>
      (obj: object, msg?: string): void =>
        void lines.push({ level, obj: obj as Record<string, unknown>, msg: msg ?? "" });
    const logger: Logger = { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
    const ns = uniqueNamespace();
    const conn = await nats.open(ns, { logger });
    const other = await nats.open(ns);
    const release = deferred();
    await conn.register(
      "noisy",
      {
        handleRequest: () => {
          throw new Error("request failed");
        },
        handleBroadcast: async (m) => {
          if (new TextDecoder().decode(m) === "throw") throw new Error("broadcast failed");
          await release.promise;
        },
      },
      { broadcastThreads: 1, broadcastMemory: 1 },
    );
    await conn.subscribe("events", () => {
      throw new Error("event failed");
    });
    await expect(other.request("noisy", enc("x"))).rejects.toBeInstanceOf(RemoteError);
    await other.broadcast("noisy", enc("throw"));
    await waitFor("broadcast threw", () => lines.some((l) => l.msg === "handleBroadcast threw"));
    for (let i = 0; i < 4; i++) await other.broadcast("noisy", enc("hold"));
    await other.publish("events", enc("e"));
    // a request without a reply subject, from a raw client
    other.nats.publish(`${ns}.req.noisy`, enc("no reply"));
    await waitFor("every warning", () =>
      ["request failed", "event failed", "dropped", "without a reply"].every((w) =>
        lines.some((l) => `${l.msg} ${String((l.obj.err as Error)?.message ?? "")}`.includes(w)),
      ),
    );
    release.resolve();
    const find = (text: string) => lines.find((l) => l.msg.includes(text));
    expect(find("handleRequest threw")).toMatchObject({
      level: "warn",
      obj: { cluster: "noisy", subject: `${ns}.req.noisy` },
    });
    expect(find("handleRequest threw")?.obj.err).toMatchObject({ message: "request failed" });
    expect(find("handleBroadcast threw")?.obj).toMatchObject({ cluster: "noisy" });
    expect(find("broadcasts dropped")).toMatchObject({ level: "warn", obj: { cluster: "noisy" } });
    expect(find("event handler threw")?.obj).toMatchObject({ topic: "events" });
    expect(find("without a reply")).toMatchObject({
      level: "warn",
      obj: { cluster: "noisy", subject: `${ns}.req.noisy` },
    });
  });
});
