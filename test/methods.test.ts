import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  CancelledError,
  type Interceptor,
  InvalidArgumentError,
  MemberLeftError,
  NoRespondersError,
  OverloadedError,
  RemoteError,
} from "../src/index.js";
import { dec, deferred, enc, uniqueNamespace, useNats, waitFor } from "./helpers.js";

const nats = useNats();

describe("named methods", () => {
  it("routes each method to its handler, handleRequest stays the default, an unknown method has no responders", async () => {
    const ns = uniqueNamespace();
    const member = await nats.open(ns);
    const seen: Array<string | undefined> = [];
    const svc = await member.register("text", {
      handleRequest: (req, ctx) => {
        seen.push(ctx.method);
        return req;
      },
      methods: {
        upper: (req, ctx) => {
          seen.push(ctx.method);
          return enc(dec(req).toUpperCase());
        },
        lower: async (req) => enc(dec(req).toLowerCase()),
        fail: () => {
          throw Object.assign(new Error("no such order"), { code: "E_NOT_FOUND" });
        },
      },
    });
    const client = await nats.open(ns);
    expect(dec(await client.request("text", enc("MiXed"), { method: "upper" }))).toBe("MIXED");
    expect(dec(await client.request("text", enc("MiXed"), { method: "lower" }))).toBe("mixed");
    expect(dec(await client.request("text", enc("MiXed")))).toBe("MiXed");
    expect(seen).toEqual(["upper", undefined]);
    const failed = await client.request("text", enc("x"), { method: "fail" }).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(RemoteError);
    expect((failed as RemoteError).remoteCode).toBe("E_NOT_FOUND");
    await expect(client.request("text", enc("x"), { method: "nope", timeout: 5000 })).rejects.toBeInstanceOf(
      NoRespondersError,
    );
    // any NATS client can call a method on its subject
    const raw = await client.nats.request(`${ns}.req.text.upper`, enc("raw"), { timeout: 2000 });
    expect(dec(raw.data)).toBe("RAW");

    const stats = svc.stats();
    expect(stats.requests).toBe(5);
    expect(stats.methods.upper?.requests).toBe(2);
    expect(stats.methods.lower?.requests).toBe(1);
    expect(stats.methods[""]?.requests).toBe(1);
    expect(stats.methods.fail?.requestErrors).toBe(1);
    expect(stats.requestErrors).toBe(1);
  });

  it("shows one micro endpoint per method, with its subject and stats", async () => {
    const ns = uniqueNamespace();
    const member = await nats.open(ns);
    await member.register("orders", { methods: { create: (r) => r, get: (r) => r } });
    const client = await nats.open(ns);
    await client.request("orders", enc("a"), { method: "create" });
    const [found] = await client.discover("orders");
    const byName = new Map(found?.endpoints.map((e) => [e.name, e]));
    expect([...byName.keys()].sort()).toEqual(["create", "get"]);
    expect(byName.get("create")?.subject).toBe(`${ns}.req.orders.create`);
    expect(byName.get("create")?.queue_group).toBe("q");
    expect(byName.get("create")?.num_requests).toBe(1);
    expect(byName.get("get")?.num_requests).toBe(0);
  });

  it("refuses bad method names before anything touches the network", async () => {
    const ns = uniqueNamespace();
    const conn = await nats.open(ns);
    await expect(conn.register("a", { methods: { "no.dots": (r) => r } })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(conn.register("a", { methods: { broadcast: (r) => r } })).rejects.toThrow(/own micro endpoints/);
    await expect(
      conn.register("a", { methods: { x: "not a function" as unknown as () => undefined } }),
    ).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(conn.request("a", enc("x"), { method: "bad method" })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(conn.request("a", enc("x"), { retry: { attempts: 0 } })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(conn.request("a", enc("x"), { idempotent: "yes" as unknown as boolean })).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
  });
});

describe("retries", () => {
  /** A member that takes one request at a time and queues none: a second one at once is overloaded. */
  async function busyMember(ns: string) {
    const member = await nats.open(ns);
    const release = deferred();
    const started = deferred();
    let handled = 0;
    const svc = await member.register(
      "busy",
      {
        handleRequest: async (req) => {
          handled++;
          started.resolve();
          if (dec(req) === "block") await release.promise;
          return req;
        },
      },
      { requestThreads: 1, requestMemory: 1 },
    );
    return { svc, release, started, handled: () => handled };
  }

  it("retries a member that is overloaded until it recovers", async () => {
    const ns = uniqueNamespace();
    const m = await busyMember(ns);
    const client = await nats.open(ns);
    const blocking = client.request("busy", enc("block"));
    await m.started.promise;
    // without retries: overloaded at once
    await expect(client.request("busy", enc("hi"))).rejects.toBeInstanceOf(OverloadedError);
    setTimeout(() => m.release.resolve(), 300);
    const reply = await client.request("busy", enc("hi"), { retry: { attempts: 50, backoff: 20, maxBackoff: 100 } });
    expect(dec(reply)).toBe("hi");
    expect(dec(await blocking)).toBe("block");
    expect(m.svc.stats().overloaded).toBeGreaterThanOrEqual(2);
  });

  it("fails after the attempts run out, saying how many were made, with the last error", async () => {
    const ns = uniqueNamespace();
    const m = await busyMember(ns);
    const client = await nats.open(ns, { retry: { attempts: 3, backoff: 5 } });
    const blocking = client.request("busy", enc("block"));
    await m.started.promise;
    const err = await client.request("busy", enc("hi")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OverloadedError);
    expect((err as OverloadedError).attempts).toBe(3);
    expect((err as Error).message).toMatch(/after 3 attempts/);
    // retry: false turns the connection's default off
    const once = await client.request("busy", enc("hi"), { retry: false }).catch((e: unknown) => e);
    expect((once as OverloadedError).attempts).toBeUndefined();
    m.release.resolve();
    await blocking;
  });

  it("retries no responders within the grace, while a member starts", async () => {
    const ns = uniqueNamespace();
    const client = await nats.open(ns);
    const member = await nats.open(ns);
    setTimeout(() => void member.register("late", { handleRequest: (r) => r }), 400);
    const reply = await client.request("late", enc("hi"), { retry: { attempts: 100, backoff: 50, maxBackoff: 100 } });
    expect(dec(reply)).toBe("hi");
    // past the grace, no responders is final
    const err = await client
      .request("never", enc("x"), { retry: { attempts: 100, backoff: 20, noRespondersGrace: 0 } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NoRespondersError);
  });

  it("never retries a request whose handler ran, unless it is idempotent", async () => {
    const ns = uniqueNamespace();
    const member = await nats.open(ns, { drainTimeout: 200 });
    let calls = 0;
    await member.register("flaky", {
      handleRequest: () => {
        calls++;
        throw new Error("boom");
      },
    });
    const client = await nats.open(ns);
    await expect(client.request("flaky", enc("x"), { retry: 5 })).rejects.toBeInstanceOf(RemoteError);
    expect(calls).toBe(1);

    // a member that leaves while handling: MemberLeftError, retried only when idempotent
    const leaving = await nats.open(ns, { drainTimeout: 100 });
    const started = deferred();
    let slowCalls = 0;
    await leaving.register("slow", {
      handleRequest: async () => {
        slowCalls++;
        started.resolve();
        await new Promise((r) => setTimeout(r, 5000));
      },
    });
    const pending = client.request("slow", enc("x"), { retry: 5, timeout: 8000 }).catch((e: unknown) => e);
    await started.promise;
    await leaving.close();
    const err = await pending;
    expect(err).toBeInstanceOf(MemberLeftError);
    expect(slowCalls).toBe(1);

    const again = await nats.open(ns, { drainTimeout: 100 });
    const startedAgain = deferred();
    await again.register("slow", {
      handleRequest: async () => {
        slowCalls++;
        startedAgain.resolve();
        await new Promise((r) => setTimeout(r, 5000));
      },
    });
    const spare = await nats.open(ns);
    const idem = client
      .request("slow", enc("x"), { retry: { attempts: 5, noRespondersGrace: 5000 }, idempotent: true, timeout: 8000 })
      .catch((e: unknown) => e);
    await startedAgain.promise;
    await again.close();
    // the retry finds the replacement
    await spare.register("slow", { handleRequest: () => enc("done") });
    const idemReply = await idem;
    expect(idemReply instanceof Uint8Array ? dec(idemReply) : idemReply).toBe("done");
  });
});

describe("cancellation", () => {
  it("aborts the member's ctx.signal when the caller's signal aborts", async () => {
    const ns = uniqueNamespace();
    const member = await nats.open(ns);
    const started = deferred();
    const aborted = deferred<unknown>();
    const svc = await member.register("work", {
      handleRequest: async (_req, ctx) => {
        ctx.signal.addEventListener("abort", () => aborted.resolve(ctx.signal.reason));
        started.resolve();
        await new Promise((r) => setTimeout(r, 10_000));
      },
    });
    const client = await nats.open(ns);
    const ac = new AbortController();
    const call = client.request("work", enc("x"), { signal: ac.signal, timeout: 60_000 }).catch((e: unknown) => e);
    await started.promise;
    const t0 = performance.now();
    ac.abort(new Error("user gave up"));
    expect(((await call) as Error).message).toBe("user gave up");
    const reason = await aborted.promise;
    expect(reason).toBeInstanceOf(CancelledError);
    // well before the caller's deadline (60 s): promptly
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(svc.stats().cancelled).toBe(1);
  });

  it("aborts the handlers of a caller whose connection closes, and skips its queued requests", async () => {
    const ns = uniqueNamespace();
    const member = await nats.open(ns);
    const started = deferred();
    const aborted = deferred<unknown>();
    let runs = 0;
    const svc = await member.register(
      "work",
      {
        handleRequest: async (_req, ctx) => {
          runs++;
          ctx.signal.addEventListener("abort", () => aborted.resolve(ctx.signal.reason));
          started.resolve();
          await new Promise((r) => setTimeout(r, 3000));
        },
      },
      { requestThreads: 1 },
    );
    const client = await nats.open(ns);
    const calls = [1, 2, 3].map(() => client.request("work", enc("x"), { timeout: 60_000 }).catch((e: unknown) => e));
    await started.promise;
    await waitFor("two queued", () => svc.stats().requestsQueuedBytes === 2);
    await client.close();
    await Promise.all(calls);
    expect(await aborted.promise).toBeInstanceOf(CancelledError);
    expect(svc.stats().cancelled).toBe(3);
    // the queued two never ran
    await new Promise((r) => setTimeout(r, 300));
    expect(runs).toBe(1);
  });
});

describe("interceptors", () => {
  it("wrap every outgoing call and every handler, connection's outside the service's, in order", async () => {
    const ns = uniqueNamespace();
    const log: string[] = [];
    const tag = (name: string): Interceptor => ({
      async outgoing(call, next) {
        log.push(`${name}>${call.kind}:${call.target}`);
        call.headers.set("x-from", name);
        return next();
      },
      async incoming(call, next) {
        log.push(`${name}<${call.kind}:${call.target}:${call.headers?.get("x-from") ?? ""}`);
        return next();
      },
    });
    const member = await nats.open(ns, { interceptors: [tag("conn")] });
    const got = deferred();
    await member.register(
      "svc",
      {
        handleRequest: (r) => r,
        handleBroadcast: () => got.resolve(),
      },
      { interceptors: [tag("svc")] },
    );
    const event = deferred();
    await member.subscribe("news", () => event.resolve(), { interceptors: [tag("sub")] });
    const client = await nats.open(ns, { interceptors: [tag("a"), tag("b")] });
    await client.request("svc", enc("x"));
    await client.broadcast("svc", enc("x"));
    await got.promise;
    await client.publish("news", enc("x"));
    await event.promise;
    expect(log).toEqual([
      "a>request:svc",
      "b>request:svc",
      "conn<request:svc:b",
      "svc<request:svc:b",
      "a>broadcast:svc",
      "b>broadcast:svc",
      "conn<broadcast:svc:b",
      "svc<broadcast:svc:b",
      "a>publish:news",
      "b>publish:news",
      "conn<event:news:b",
      "sub<event:news:b",
    ]);
  });

  it("wrap a gather, and a gather left early cancels the members still working on it", async () => {
    const ns = uniqueNamespace();
    const member = await nats.open(ns);
    const aborted = deferred<unknown>();
    const svc = await member.register("g", {
      handleRequest: async (req, ctx) => {
        if (dec(req) !== "slow!") return req;
        ctx.signal.addEventListener("abort", () => aborted.resolve(ctx.signal.reason));
        await new Promise((r) => setTimeout(r, 10_000));
        return req;
      },
    });
    const kinds: string[] = [];
    const client = await nats.open(ns, {
      interceptors: [
        {
          async outgoing(call, next) {
            kinds.push(call.kind);
            call.payload = enc(`${dec(call.payload)}!`);
            return next();
          },
        },
      ],
    });
    const fast: string[] = [];
    for await (const r of client.gather("g", enc("hi"), { timeout: 5000 })) if (r.ok) fast.push(dec(r.data));
    expect(fast).toEqual(["hi!"]);
    const ac = new AbortController();
    const slow = (async () => {
      for await (const _ of client.gather("g", enc("slow"), { timeout: 30_000, signal: ac.signal })) {
        // no answer comes: the handler runs until cancelled
      }
    })().catch((e: unknown) => e);
    await waitFor("the slow handler runs", () => svc.stats().methods[""]?.requests === 2);
    ac.abort(new Error("enough"));
    expect(((await slow) as Error).message).toBe("enough");
    expect(await aborted.promise).toBeInstanceOf(CancelledError);
    expect(kinds).toEqual(["gather", "gather"]);
    expect(svc.stats().cancelled).toBe(1);
  });

  it("wrap a tunnel's set-up at both ends; a refused accept reaches the opener as a RemoteError", async () => {
    const ns = uniqueNamespace();
    const seen: string[] = [];
    const member = await nats.open(ns);
    let accepted = 0;
    await member.register(
      "pipe",
      {
        async handleTunnel(tun) {
          accepted++;
          for await (const m of tun) await tun.send(m);
        },
      },
      {
        interceptors: [
          {
            async incoming(call, next) {
              seen.push(`${call.kind}:${call.target}:${call.headers?.get("x-key") ?? ""}`);
              if (call.headers?.get("x-key") !== "open sesame") {
                throw Object.assign(new Error("wrong key"), { code: "E_KEY" });
              }
              return next();
            },
          },
        ],
      },
    );
    const keyed = await nats.open(ns, {
      interceptors: [
        {
          async outgoing(call, next) {
            if (call.kind === "tunnel") call.headers.set("x-key", "open sesame");
            return next();
          },
        },
      ],
    });
    const tun = await keyed.tunnel("pipe");
    await tun.send(enc("ping"));
    expect(dec(await tun.recv())).toBe("ping");
    await tun.close();
    const other = await nats.open(ns);
    const refused = await other.tunnel("pipe").catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(RemoteError);
    expect((refused as RemoteError).remoteCode).toBe("E_KEY");
    expect(accepted).toBe(1);
    expect(seen).toEqual(["tunnel:pipe:open sesame", "tunnel:pipe:"]);
  });

  it("may change the payload, refuse a call before it is sent, and refuse a request at the member as a RemoteError", async () => {
    const ns = uniqueNamespace();
    const member = await nats.open(ns);
    let handled = 0;
    await member.register(
      "guarded",
      {
        handleRequest: (r) => {
          handled++;
          return r;
        },
      },
      {
        interceptors: [
          {
            async incoming(call, next) {
              if (call.headers?.get("authorization") !== "yes") {
                throw Object.assign(new Error("not allowed"), { code: 403 });
              }
              return next();
            },
          },
        ],
      },
    );
    const client = await nats.open(ns, {
      interceptors: [
        {
          async outgoing(call, next) {
            if (dec(call.payload) === "forbidden") throw new InvalidArgumentError("refused here");
            if (dec(call.payload) === "auth") call.headers.set("authorization", "yes");
            call.payload = enc(`${dec(call.payload)}!`);
            return next();
          },
        },
      ],
    });
    expect(dec(await client.request("guarded", enc("auth")))).toBe("auth!");
    await expect(client.request("guarded", enc("forbidden"))).rejects.toThrow("refused here");
    const refused = await client.request("guarded", enc("anon")).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(RemoteError);
    expect((refused as RemoteError).message).toBe("not allowed");
    expect((refused as RemoteError).remoteCode).toBe("403");
    expect(handled).toBe(1);
  });

  it("work across processes: a member process with methods and interceptors", async () => {
    const ns = uniqueNamespace();
    const script = fileURLToPath(new URL("./fixtures/methods-member.mjs", import.meta.url));
    const child = spawn(process.execPath, [script, nats.server().url, ns], { stdio: ["ignore", "pipe", "inherit"] });
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on("data", (d: Buffer) => {
          if (d.toString().includes("ready")) resolve();
        });
        child.once("exit", (code) => reject(new Error(`member exited ${code}`)));
      });
      const client = await nats.open(ns, {
        interceptors: [
          {
            async outgoing(call, next) {
              call.headers.set("x-tenant", "acme");
              return next();
            },
          },
        ],
      });
      expect(dec(await client.request("shop", enc("a1"), { method: "create" }))).toBe("created a1 for acme");
      expect(dec(await client.request("shop", enc("a1"), { method: "get" }))).toBe("got a1 for acme");
      const plain = await nats.open(ns);
      const refused = await plain.request("shop", enc("a1"), { method: "create" }).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(RemoteError);
      expect((refused as RemoteError).remoteCode).toBe("401");
      const seen = JSON.parse(dec(await plain.request("shop", enc(""), { method: "seen" }))) as string[];
      expect(seen).toEqual(["request:create:acme", "request:get:acme", "request:create:"]);
    } finally {
      child.kill("SIGKILL");
    }
  });
});
