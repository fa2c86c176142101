import { describe, expect, it } from "vitest";
import {
  ClosedError,
  ConnectionError,
  connect,
  InvalidArgumentError,
  MemberLeftError,
  NoRespondersError,
  register,
  silentLogger,
} from "../src/index.js";
import { startNats } from "../src/testing/index.js";
import { dec, deferred, enc, uniqueNamespace, useNats, waitFor } from "./helpers.js";

const nats = useNats();

describe("register", () => {
  it("calls init once, with the connection, before any handler, and resolves once the member is live", async () => {
    const ns = uniqueNamespace();
    const conn = await nats.open(ns);
    const order: string[] = [];
    await conn.register("init", {
      init: async (c) => {
        expect(c).toBe(conn);
        await new Promise((r) => setTimeout(r, 50));
        order.push("init");
      },
      handleRequest: (req) => {
        order.push("request");
        return req;
      },
    });
    // sent right after register resolves: must reach the member
    const client = await nats.open(ns);
    expect(dec(await client.request("init", enc("x"), { timeout: 2000 }))).toBe("x");
    expect(order).toEqual(["init", "request"]);
  });

  it("rejects with init's error and leaves no member behind when init throws", async () => {
    const ns = uniqueNamespace();
    const conn = await nats.open(ns);
    await expect(
      conn.register("bad-init", {
        init: () => {
          throw new Error("no database");
        },
        handleRequest: (r) => r,
      }),
    ).rejects.toThrow("no database");
    await expect(conn.request("bad-init", enc("x"))).rejects.toMatchObject({ code: "NO_RESPONDERS" });
  });

  it("rejects a handler that is missing, not an object, has a method that is not a function or a misspelt one", async () => {
    const conn = await nats.open(uniqueNamespace());
    for (const handler of [undefined, null, 42, "h", { handleRequest: "yes" }, { handleRequests: () => {} }]) {
      await expect(conn.register("x", handler as never), String(handler)).rejects.toBeInstanceOf(InvalidArgumentError);
    }
    await expect(conn.register("bad name", { handleRequest: (r) => r })).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it("takes a member that only uses the connection init gives it, and one with no method at all", async () => {
    const ns = uniqueNamespace();
    const conn = await nats.open(ns);
    let given: unknown;
    const svc = await conn.register("watcher", {
      init: (c) => {
        given = c;
      },
    });
    expect(given).toBe(conn);
    const bare = await conn.register("bare", {});
    const client = await nats.open(ns);
    // it is a member (discoverable), and takes no requests
    const members = await client.discover(undefined, { timeout: 300 });
    expect(members.map((m) => m.cluster).sort()).toEqual(["bare", "watcher"]);
    await expect(client.request("watcher", enc("x"), { timeout: 1_000 })).rejects.toBeInstanceOf(NoRespondersError);
    await svc.unregister();
    await bare.unregister();
  });

  it("validates the top-level register's arguments before connecting", async () => {
    const started = Date.now();
    await expect(register("nats://127.0.0.1:1", "a.b", { handleRequest: (r) => r })).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
    await expect(register("nats://127.0.0.1:1", "ok", { handleRequset: () => {} } as never)).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
    expect(Date.now() - started).toBeLessThan(1000);
  });
});

describe("unregister", () => {
  it("lets running handlers finish and their replies go out, and takes no new work", async () => {
    const ns = uniqueNamespace();
    const member = await nats.open(ns);
    const started = deferred();
    const svc = await member.register("drain", {
      handleRequest: async (req) => {
        started.resolve();
        await new Promise((r) => setTimeout(r, 200));
        return req;
      },
    });
    const client = await nats.open(ns);
    const pending = client.request("drain", enc("in flight"));
    await started.promise;
    await svc.unregister();
    expect(dec(await pending)).toBe("in flight");
    await expect(client.request("drain", enc("x"))).rejects.toMatchObject({ code: "NO_RESPONDERS" });
    // conn.register's service leaves the connection open
    expect(dec(await member.request("drain2", enc("y")).catch((e: { code: string }) => enc(e.code)))).toBe(
      "NO_RESPONDERS",
    );
    expect(await svc.closed).toBeUndefined();
    await svc.unregister(); // idempotent
  });

  it("answers at once when handlers outlast the drain time-out: queued requests retryable, running ones not", async () => {
    const ns = uniqueNamespace();
    const member = await nats.open(ns, { drainTimeout: 100 });
    const svc = await member.register(
      "stuck",
      { handleRequest: () => new Promise<Uint8Array>(() => {}) },
      { requestThreads: 1 },
    );
    const client = await nats.open(ns);
    const running = client.request("stuck", enc("running"), { timeout: 20_000 }).catch((e: unknown) => e);
    await waitFor("running", () => svc.stats().requestsRunning === 1);
    const queued = client.request("stuck", enc("queued"), { timeout: 20_000 }).catch((e: unknown) => e);
    await waitFor("queued", () => svc.stats().requestsQueuedBytes > 0);
    const t0 = performance.now();
    await svc.unregister();
    const [q, r] = await Promise.all([queued, running]);
    // prompt answers, not the callers' 20 s time-outs
    expect(performance.now() - t0).toBeLessThan(5_000);
    expect(q).toBeInstanceOf(MemberLeftError);
    expect((q as MemberLeftError).retryable).toBe(true);
    expect((q as Error).message).toMatch(/left before handling/);
    expect(r).toBeInstanceOf(MemberLeftError);
    expect((r as MemberLeftError).retryable).toBe(false);
    expect((r as Error).message).toMatch(/left while handling/);
    // distinct from the caller's own connection closing
    expect(q).not.toBeInstanceOf(ClosedError);
    await member.register("stuck", { handleRequest: (req) => req });
    expect(dec(await client.request("stuck", enc("again")))).toBe("again");
  });

  it("answers the caller of a running handler at once when a top-level register() leaves past its drain time-out", async () => {
    const ns = uniqueNamespace();
    const svc = await register(
      { servers: nats.server().url, namespace: ns, logger: silentLogger, drainTimeout: 100 },
      "owned-stuck",
      { handleRequest: () => new Promise<Uint8Array>(() => {}) },
    );
    const client = await nats.open(ns);
    const running = client.request("owned-stuck", enc("x"), { timeout: 20_000 }).catch((e: unknown) => e);
    await waitFor("running", () => svc.stats().requestsRunning === 1);
    await svc.unregister();
    expect(await running).toBeInstanceOf(MemberLeftError);
  });

  it("aborts a running handler's signal with ClosedError when it outlasts the drain time-out", async () => {
    const ns = uniqueNamespace();
    const member = await nats.open(ns, { drainTimeout: 100 });
    const aborted = deferred<unknown>();
    const svc = await member.register("slow", {
      handleRequest: (_req, ctx) =>
        new Promise<Uint8Array>(() => {
          ctx.signal.addEventListener("abort", () => aborted.resolve(ctx.signal.reason));
        }),
    });
    const client = await nats.open(ns);
    void client.request("slow", enc("x"), { timeout: 10_000 }).catch(() => {});
    await waitFor("running", () => svc.stats().requestsRunning === 1);
    await svc.unregister();
    expect(await aborted.promise).toBeInstanceOf(ClosedError);
  });

  it("of a top-level register() closes the connection it owns", async () => {
    const ns = uniqueNamespace();
    const svc = await register({ servers: nats.server().url, namespace: ns, logger: silentLogger }, "owned", {
      handleRequest: (r) => r,
    });
    const client = await nats.open(ns);
    expect(dec(await client.request("owned", enc("hi")))).toBe("hi");
    let initConn: import("../src/index.js").Connection | undefined;
    const svc2 = await register({ servers: nats.server().url, namespace: ns, logger: silentLogger }, "owned2", {
      init: (c) => {
        initConn = c;
      },
      handleBroadcast: () => {},
    });
    await svc2.unregister();
    expect(await initConn?.closed).toBeUndefined();
    await expect(initConn?.request("owned", enc("x"))).rejects.toBeInstanceOf(ClosedError);
    await svc.unregister();
  });

  it("happens for every service when the connection closes", async () => {
    const ns = uniqueNamespace();
    const conn = await nats.open(ns);
    const a = await conn.register("a", { handleRequest: (r) => r });
    const b = await conn.register("b", { handleBroadcast: () => {} });
    await conn.close();
    expect(await a.closed).toBeUndefined();
    expect(await b.closed).toBeUndefined();
    const client = await nats.open(ns);
    await expect(client.request("a", enc("x"))).rejects.toMatchObject({ code: "NO_RESPONDERS" });
  });
});

describe("handleDrop", () => {
  it("runs when the connection is lost for good, and not on unregister or close", async () => {
    const server = await startNats({ useEnv: false });
    const drops: Error[] = [];
    try {
      const conn = await connect({
        servers: server.url,
        maxReconnectAttempts: 1,
        reconnectTimeWait: 50,
        logger: silentLogger,
      });
      const closedNormally = await conn.register("calm", {
        handleRequest: (r) => r,
        handleDrop: (reason) => void drops.push(reason),
      });
      await closedNormally.unregister();
      const svc = await conn.register("dropper", {
        handleRequest: (r) => r,
        handleDrop: (reason) => void drops.push(reason),
      });
      await server.stop();
      const reason = await svc.closed;
      expect(reason).toBeInstanceOf(Error);
      await waitFor("handleDrop", () => drops.length === 1);
      expect(drops[0]).toBe(reason);
      expect(await conn.closed).toBeInstanceOf(ConnectionError);
      await expect(conn.request("dropper", enc("x"))).rejects.toBeInstanceOf(ClosedError);
    } finally {
      await server.stop();
    }
    const conn2 = await nats.open(uniqueNamespace());
    await conn2.register("x", { handleRequest: (r) => r, handleDrop: (reason) => void drops.push(reason) });
    await conn2.close();
    expect(drops).toHaveLength(1);
  });
});
