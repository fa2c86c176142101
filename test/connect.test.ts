import { connect as natsConnect } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import {
  ClosedError,
  ConnectionError,
  type ConnectionStatus,
  connect,
  fromNats,
  InvalidArgumentError,
  silentLogger,
} from "../src/index.js";
import { startNats } from "../src/testing/index.js";
import { dec, enc, uniqueNamespace, useNats, waitFor } from "./helpers.js";

const nats = useNats();

describe("connect", () => {
  it("fails with ConnectionError within connectTimeout when no server answers", async () => {
    const started = Date.now();
    const err = await connect({ servers: "nats://127.0.0.1:1", connectTimeout: 600, logger: silentLogger }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConnectionError);
    expect((err as ConnectionError).message).toMatch(/127\.0\.0\.1:1 within 600 ms/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(500);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it("passes credentials through: a wrong token is a ConnectionError at once, the right one connects", async () => {
    await using server = await startNats({ token: "s3cret", useEnv: false });
    const started = Date.now();
    const err = await connect({
      servers: server.url,
      token: "wrong",
      connectTimeout: 5000,
      logger: silentLogger,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionError);
    expect((err as Error).message).toMatch(/authentication/);
    expect((err as ConnectionError).retryable).toBe(false);
    expect(Date.now() - started).toBeLessThan(2500);
    await using conn = await connect({ servers: server.url, token: "s3cret", logger: silentLogger });
    await conn.register("e", { handleRequest: (r) => r });
    expect(dec(await conn.request("e", enc("ok")))).toBe("ok");
  });

  it("stops trying and rejects with the signal's reason when aborted", async () => {
    const started = Date.now();
    const signal = AbortSignal.timeout(200);
    const err = await connect({
      servers: "nats://127.0.0.1:1",
      connectTimeout: 10_000,
      signal,
      logger: silentLogger,
    }).catch((e: unknown) => e);
    expect((err as Error).name).toBe("TimeoutError"); // AbortSignal.timeout's DOMException
    expect(err).not.toBeInstanceOf(ConnectionError);
    expect(Date.now() - started).toBeLessThan(3000);
    await expect(connect({ servers: nats.server().url, signal: "no" as never })).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
  });

  it("never puts credentials from a server URL into its errors", async () => {
    const err = (await connect({
      servers: "nats://bob:hunter2@127.0.0.1:1",
      connectTimeout: 300,
      logger: silentLogger,
    }).catch((e: unknown) => e)) as ConnectionError;
    expect(err).toBeInstanceOf(ConnectionError);
    expect(err.retryable).toBe(true);
    expect(err.message).not.toMatch(/hunter2/);
  });

  it("sends replies to the NATS client's inbox prefix when one is set", async () => {
    const ns = uniqueNamespace();
    const conn = await connect({
      servers: nats.server().url,
      namespace: ns,
      logger: silentLogger,
      nats: { inboxPrefix: "_JM_INBOX.app" },
    });
    const seen: string[] = [];
    await conn.register("who", {
      handleRequest: (req, ctx) => {
        seen.push(ctx.subject);
        return req;
      },
    });
    const watcher = await natsConnect({ servers: nats.server().url });
    const replies: string[] = [];
    watcher.subscribe("_JM_INBOX.app.>", { callback: (_e, m) => void replies.push(m.subject) });
    await watcher.flush();
    expect(dec(await conn.request("who", enc("x")))).toBe("x");
    expect(seen).toEqual([`${ns}.req.who`]);
    await waitFor("the watcher sees the reply", () => replies.length === 1);
    expect(replies[0]).toMatch(/^_JM_INBOX\.app\./);
    await watcher.close();
    await conn.close();
  });

  it("accepts user and password", async () => {
    await using server = await startNats({ user: "alice", pass: "pw", useEnv: false });
    await expect(
      connect({ servers: server.url, user: "alice", pass: "nope", logger: silentLogger }),
    ).rejects.toBeInstanceOf(ConnectionError);
    await using conn = await connect({ servers: server.url, user: "alice", pass: "pw", logger: silentLogger });
    expect(conn.namespace).toBe("jetmesh");
  });

  it("rejects bad options before dialing", async () => {
    const bad: unknown[] = [
      { servers: [] },
      { servers: "" },
      { namespace: "a b" },
      { namespace: "a.*" },
      { timeout: 0 },
      { connectTimeout: 1.5 },
      { maxReconnectAttempts: -2 },
      { logger: {} },
      { serverz: "x" },
      42,
    ];
    for (const options of bad) {
      await expect(connect(options as never), JSON.stringify(options)).rejects.toBeInstanceOf(InvalidArgumentError);
    }
    await expect(connect({ credsFile: "/nonexistent/user.creds" })).rejects.toThrow(/credsFile/);
  });

  it("checks each server URL before dialing, naming the URL and what is wrong with it", async () => {
    const cases: Array<[string | string[], RegExp]> = [
      // one slash: once tried for the connect time-out, then "getaddrinfo ENOTFOUND nats"
      ["nats:/127.0.0.1:4222", /"nats:\/127\.0\.0\.1:4222" is not a server URL: write it nats:\/\/host:port/],
      ["http://127.0.0.1:4222", /the scheme must be nats:\/\/ or tls:\/\/, not http:\/\//],
      ["ws://127.0.0.1:4222", /does not speak WebSocket/],
      ["nats://:4222", /names no host/],
      [["nats://127.0.0.1:4222", "nats://127.0.0.1:70000"], /"nats:\/\/127\.0\.0\.1:70000".*port must be 1 to 65535/],
    ];
    for (const [servers, message] of cases) {
      const started = performance.now();
      const err = await connect({ servers, connectTimeout: 5000, logger: silentLogger }).catch((e: unknown) => e);
      expect(err, String(servers)).toBeInstanceOf(InvalidArgumentError);
      expect((err as Error).message).toMatch(message);
      expect(performance.now() - started, "nothing dialed").toBeLessThan(500);
    }
  });

  it("still dials host:port and a bare host, as the NATS client does", async () => {
    const { port } = new URL(nats.server().url);
    await using hostPort = await connect({ servers: `127.0.0.1:${port}`, logger: silentLogger });
    expect(hostPort.nats.isClosed()).toBe(false);
    await using tls = await connect({ servers: `tls://127.0.0.1:${port}`, logger: silentLogger });
    expect(tls.nats.isClosed()).toBe(false);
    // a bare host means port 4222: refused here (no server there), but dialed, not rejected
    const bare = await connect({ servers: "127.0.0.1", connectTimeout: 300, logger: silentLogger }).catch(
      (e: unknown) => e,
    );
    expect(bare).not.toBeInstanceOf(InvalidArgumentError);
    if (!(bare instanceof Error)) await (bare as { close(): Promise<void> }).close();
  });

  it("reconnects after a server restart and reports it through status()", async () => {
    const server = await startNats({ useEnv: false, docker: false });
    try {
      const ns = uniqueNamespace();
      const conn = await connect({ servers: server.url, namespace: ns, reconnectTimeWait: 100, logger: silentLogger });
      await conn.register("echo", { handleRequest: (r) => r });
      const seen: ConnectionStatus["type"][] = [];
      void (async () => {
        for await (const s of conn.status()) seen.push(s.type);
      })();
      await server.restart();
      await waitFor("reconnect", () => seen.includes("reconnect"), 15_000);
      expect(seen).toContain("disconnect");
      expect(dec(await conn.request("echo", enc("back"), { timeout: 5000 }))).toBe("back");
      await conn.close();
    } finally {
      await server.stop();
    }
  });
});

describe("close", () => {
  it("is idempotent, resolves closed, works with await using, and makes every call reject ClosedError", async () => {
    const conn = await nats.open(uniqueNamespace());
    await Promise.all([conn.close(), conn.close()]);
    expect(await conn.closed).toBeUndefined();
    await expect(conn.request("x", enc("x"))).rejects.toBeInstanceOf(ClosedError);
    await expect(conn.broadcast("x", enc("x"))).rejects.toBeInstanceOf(ClosedError);
    await expect(conn.register("x", { handleRequest: (r) => r })).rejects.toBeInstanceOf(ClosedError);
    await expect(
      (async () => {
        for await (const _ of conn.status()) {
        }
      })(),
    ).rejects.toBeInstanceOf(ClosedError);
    expect(conn.nats.isClosed()).toBe(true);

    let disposed: import("../src/index.js").Connection | undefined;
    {
      await using c = await nats.open(uniqueNamespace());
      disposed = c;
    }
    expect(await disposed.closed).toBeUndefined();
    expect(disposed.nats.isClosed()).toBe(true);
  });
});

describe("fromNats", () => {
  it("works over an existing NATS connection and leaves it open on close", async () => {
    const nc = await natsConnect({ servers: nats.server().url });
    const ns = uniqueNamespace();
    const conn = fromNats(nc, { namespace: ns, logger: silentLogger });
    await conn.register("wrapped", { handleRequest: (r) => r });
    expect(dec(await conn.request("wrapped", enc("w")))).toBe("w");
    await conn.close();
    expect(nc.isClosed()).toBe(false);
    await nc.close();
  });

  it("treats the owner closing the NATS connection as a close, not a drop", async () => {
    const nc = await natsConnect({ servers: nats.server().url });
    const conn = fromNats(nc, { namespace: uniqueNamespace(), logger: silentLogger });
    const drops: Error[] = [];
    const svc = await conn.register("owned", { handleRequest: (r) => r, handleDrop: (e) => void drops.push(e) });
    await nc.close();
    expect(await conn.closed).toBeUndefined();
    expect(await svc.closed).toBeUndefined();
    expect(drops).toEqual([]);
    expect(() => fromNats(nc)).toThrow(ClosedError);
  });
});
