/**
 * The call pipeline under stress: cancellations that must hit only their own
 * request, retries and interceptors within one overall time-out, gathers
 * left early, tunnels at unregister, and tracing through interceptors.
 */
import { propagation, SpanKind, trace } from "@opentelemetry/api";
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { describe, expect, it } from "vitest";
import { CancelledError, OverloadedError, TimeoutError } from "../src/index.js";
import { dec, deferred, enc, uniqueNamespace, useNats, waitFor } from "./helpers.js";

const nats = useNats();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("cancellation is precise", () => {
  it("aborts only the request whose signal aborted, and ignores forged or garbled cancellations", async () => {
    const ns = uniqueNamespace();
    const member = await nats.open(ns);
    const aborted = new Map<string, unknown>();
    const running = new Set<string>();
    await member.register("work", {
      handleRequest: async (req, ctx) => {
        const name = dec(req);
        running.add(name);
        ctx.signal.addEventListener("abort", () => aborted.set(name, ctx.signal.reason));
        await sleep(name === "keep" ? 1500 : 10_000);
        return req;
      },
    });
    const client = await nats.open(ns);
    const ac = new AbortController();
    const keep = client.request("work", enc("keep"), { timeout: 20_000 });
    const drop = client.request("work", enc("drop"), { timeout: 20_000, signal: ac.signal }).catch((e: unknown) => e);
    await waitFor("both running", () => running.size === 2);

    // a third client sends what it can guess: the namespace's inbox prefix, garbage, an empty message
    const intruder = await nats.open(ns);
    for (const forged of [`_INBOX_${ns}.`, `_INBOX_${ns}`, "*", ">", "", "x".repeat(600)]) {
      intruder.nats.publish(`${ns}.cancel.work`, enc(forged));
    }
    await intruder.nats.flush();
    await sleep(200);
    expect(aborted.size).toBe(0);

    ac.abort(new Error("only this one"));
    expect(((await drop) as Error).message).toBe("only this one");
    await waitFor("the dropped one's signal aborted", () => aborted.has("drop"));
    expect(aborted.get("drop")).toBeInstanceOf(CancelledError);
    expect(dec(await keep)).toBe("keep");
    expect(aborted.has("keep")).toBe(false);
  });

  it("still reaches a running handler while its member drains", async () => {
    const ns = uniqueNamespace();
    const member = await nats.open(ns, { drainTimeout: 5000 });
    const started = deferred();
    const aborted = deferred<unknown>();
    const svc = await member.register("work", {
      handleRequest: async (_req, ctx) => {
        started.resolve();
        await new Promise<void>((resolve) => {
          ctx.signal.addEventListener("abort", () => {
            aborted.resolve(ctx.signal.reason);
            resolve();
          });
        });
      },
    });
    const client = await nats.open(ns);
    const ac = new AbortController();
    const call = client.request("work", enc("x"), { timeout: 20_000, signal: ac.signal }).catch(() => undefined);
    await started.promise;
    const leaving = svc.unregister();
    await sleep(100);
    ac.abort();
    expect(await aborted.promise).toBeInstanceOf(CancelledError);
    await call;
    const t0 = performance.now();
    await leaving;
    // the handler ended when cancelled: the member did not wait out its drain time-out
    expect(performance.now() - t0).toBeLessThan(4000);
  });
});

describe("one time-out for the whole call", () => {
  it("counts an interceptor's time, and stops retrying when the time is spent", async () => {
    const ns = uniqueNamespace();
    const member = await nats.open(ns);
    await member.register("slow", {
      handleRequest: async (req) => {
        await sleep(900);
        return req;
      },
    });
    const blocked = deferred();
    const release = deferred();
    await member.register(
      "busy",
      {
        handleRequest: async (req) => {
          blocked.resolve();
          await release.promise;
          return req;
        },
      },
      { requestThreads: 1, requestMemory: 1 },
    );
    const client = await nats.open(ns, {
      interceptors: [
        {
          async outgoing(_call, next) {
            await sleep(800);
            return next();
          },
        },
      ],
    });
    // 800 ms in the interceptor, 900 in the handler: past a 1 s time-out
    const t0 = performance.now();
    await expect(client.request("slow", enc("x"), { timeout: 1000, retry: 3 })).rejects.toBeInstanceOf(TimeoutError);
    expect(performance.now() - t0).toBeLessThan(1600);

    // an overloaded member, retried until the time is spent, not until the attempts run out
    const plain = await nats.open(ns);
    const blocking = plain.request("busy", enc("block"), { timeout: 20_000 });
    await blocked.promise;
    const t1 = performance.now();
    // two bytes: more than the one byte the member may queue, so each attempt is refused at once
    const err = await plain
      .request("busy", enc("yy"), { timeout: 700, retry: { attempts: 100, backoff: 20, maxBackoff: 50 } })
      .catch((e: unknown) => e);
    const spent = performance.now() - t1;
    // the last attempt's error: overloaded, or (should an attempt outlast the estimate) the time-out itself
    expect(err instanceof OverloadedError || err instanceof TimeoutError).toBe(true);
    expect((err as OverloadedError).attempts).toBeGreaterThan(1);
    expect((err as OverloadedError).attempts).toBeLessThan(100);
    expect(spent).toBeLessThan(1500);
    release.resolve();
    await blocking;
  });
});

describe("gather left early", () => {
  it("cancels the members still working when it ends at max", async () => {
    const ns = uniqueNamespace();
    const fast = await nats.open(ns);
    await fast.register("g", { handleRequest: (req) => req });
    const slow = await nats.open(ns);
    const aborted = deferred<unknown>();
    const slowStarted = deferred();
    await slow.register("g", {
      handleRequest: async (req, ctx) => {
        ctx.signal.addEventListener("abort", () => aborted.resolve(ctx.signal.reason));
        slowStarted.resolve();
        await sleep(10_000);
        return req;
      },
    });
    const client = await nats.open(ns);
    const got: string[] = [];
    for await (const r of client.gather("g", enc("hi"), { timeout: 20_000, max: 1 })) {
      if (r.ok) got.push(dec(r.data));
      // the slow member got it too before the fast answer ends the gather
      await slowStarted.promise;
    }
    expect(got).toEqual(["hi"]);
    expect(await aborted.promise).toBeInstanceOf(CancelledError);
  });
});

describe("tunnels at unregister", () => {
  it("closes a member's open tunnels at once instead of waiting out the drain time-out", async () => {
    const ns = uniqueNamespace();
    const member = await nats.open(ns, { drainTimeout: 5000 });
    const svc = await member.register("pipe", {
      async handleTunnel(tun) {
        for await (const m of tun) await tun.send(m);
      },
    });
    const client = await nats.open(ns);
    const tun = await client.tunnel("pipe");
    await tun.send(enc("ping"));
    expect(dec(await tun.recv())).toBe("ping");
    const t0 = performance.now();
    await svc.unregister();
    expect(performance.now() - t0).toBeLessThan(2500);
    await tun.close();
  });
});

describe("tracing through the pipeline", () => {
  it("keeps one trace from caller to handler across interceptors and retries", async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    // the W3C propagator, as an application's SDK set-up registers it
    provider.register();
    const ns = uniqueNamespace();
    const seen: Array<string | undefined> = [];
    const member = await nats.open(ns, {
      telemetry: { tracerProvider: provider },
      interceptors: [
        {
          async incoming(call, next) {
            seen.push(call.headers?.get("x-tenant"));
            return next();
          },
        },
      ],
    });
    let first = true;
    await member.register(
      "traced",
      {
        handleRequest: async (req) => {
          if (first) {
            first = false;
            throw Object.assign(new Error("busy"), { code: "x" });
          }
          return req;
        },
      },
      {},
    );
    const client = await nats.open(ns, {
      telemetry: { tracerProvider: provider },
      interceptors: [
        {
          async outgoing(call, next) {
            call.headers.set("x-tenant", "acme");
            return next();
          },
        },
      ],
    });
    // the first attempt fails with a RemoteError, which is retried only because retryOn says so
    const reply = await client.request("traced", enc("hi"), { retry: { attempts: 3, retryOn: () => true } });
    expect(dec(reply)).toBe("hi");
    expect(seen).toEqual(["acme", "acme"]);
    await provider.forceFlush();
    const spans = exporter.getFinishedSpans();
    const clients = spans.filter((s) => s.kind === SpanKind.CLIENT);
    const servers = spans.filter((s) => s.kind === SpanKind.SERVER);
    expect(clients).toHaveLength(2);
    expect(servers).toHaveLength(2);
    for (const server of servers) {
      const parent = clients.find((c) => c.spanContext().spanId === server.parentSpanContext?.spanId);
      expect(parent).toBeDefined();
      expect(server.spanContext().traceId).toBe(parent?.spanContext().traceId);
    }
    await provider.shutdown();
    trace.disable();
    propagation.disable();
  });
});
