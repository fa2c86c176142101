import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type NatsServer, startNats } from "../../src/testing/index.js";
import { waitFor } from "../helpers.js";
import { startProxy } from "./tcp-proxy.js";

describe("the fault proxy", () => {
  let server: NatsServer;
  beforeAll(async () => {
    server = await startNats();
  });
  afterAll(() => server.stop());

  async function echoPair(url: string): Promise<{ nc: NatsConnection; close: () => Promise<void> }> {
    const responder = await connect({ servers: server.url });
    responder.subscribe("echo", { callback: (_e, m) => void m.respond(m.data) });
    await responder.flush();
    const nc = await connect({ servers: url, reconnectTimeWait: 50, maxReconnectAttempts: -1 });
    return { nc, close: async () => void (await Promise.all([nc.close(), responder.close()])) };
  }

  it("forwards both ways, and a client reconnects through it after a cut and after being down", async () => {
    await using proxy = await startProxy(server.url);
    const { nc, close } = await echoPair(proxy.url);
    expect((await nc.request("echo", "a")).string()).toBe("a");
    proxy.cut();
    await waitFor("a new connection", () => proxy.accepted >= 2 && proxy.open === 1);
    expect((await nc.request("echo", "b", { timeout: 2_000 })).string()).toBe("b");
    proxy.down();
    await expect(nc.request("echo", "c", { timeout: 300 })).rejects.toThrow();
    expect(proxy.open).toBe(0);
    proxy.up();
    await waitFor("reconnected", () => proxy.open === 1);
    expect((await nc.request("echo", "d", { timeout: 2_000 })).string()).toBe("d");
    await close();
  });

  it("stalls without closing, then delivers what it held", async () => {
    await using proxy = await startProxy(server.url);
    const { nc, close } = await echoPair(proxy.url);
    proxy.stall();
    const late = nc.request("echo", "held", { timeout: 5_000 });
    await expect(nc.request("echo", "x", { timeout: 300 })).rejects.toThrow();
    expect(proxy.open).toBe(1);
    proxy.resume();
    expect((await late).string()).toBe("held");
    await close();
  });

  it("adds latency", async () => {
    await using proxy = await startProxy(server.url);
    const { nc, close } = await echoPair(proxy.url);
    await nc.request("echo", "warm");
    proxy.slow({ latency: 150 });
    const t0 = performance.now();
    await nc.request("echo", "slow", { timeout: 5_000 });
    // both directions are delayed
    expect(performance.now() - t0).toBeGreaterThanOrEqual(290);
    proxy.slow({});
    await close();
  });
});
