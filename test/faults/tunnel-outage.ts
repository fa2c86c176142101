/** Tunnels whose opener or member loses its connection, through the fault proxy, with traffic both ways. */
import { expect } from "vitest";
import type { Tunnel } from "../../src/index.js";
import { deferred, uniqueNamespace, type useNats, waitFor } from "../helpers.js";
import { startProxy } from "./tcp-proxy.js";
import { expectWholeThenClosed, startTraffic } from "./tunnel-traffic.js";

type Nats = ReturnType<typeof useNats>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Heartbeats far shorter than the outages: the old 5-heartbeat rule would end every tunnel here. */
export const HEARTBEAT = 100;
const WINDOW = 1024 * 1024;

/**
 * A tunnel whose opener or member connects through a fault proxy, both ends
 * sending and reading numbered messages.
 */
export async function proxiedTunnel(nats: Nats, side: "opener" | "member", outageTimeout: number) {
  const ns = uniqueNamespace();
  const proxy = await startProxy(nats.server().url);
  const url = (mine: "opener" | "member") => (side === mine ? proxy.url : nats.server().url);
  // the proxied end reconnects quickly once the proxy is up again
  const fast = { reconnectTimeWait: 100 };
  const accepted = deferred<Tunnel>();
  const member = await nats.open(ns, { servers: url("member"), ...fast, tunnels: { window: WINDOW } });
  await member.register("peer", { handleTunnel: (tun) => accepted.resolve(tun) });
  const conn = await nats.open(ns, {
    servers: url("opener"),
    ...fast,
    tunnels: { window: WINDOW, heartbeat: HEARTBEAT, outageTimeout },
  });
  const tun = await conn.tunnel("peer", { timeout: 5000 });
  const mtun = await accepted.promise;
  return { proxy, tun, mtun, opener: startTraffic(tun), memberSide: startTraffic(mtun) };
}

/**
 * A tunnel whose `side` loses its connection for `outage` ms, with traffic
 * both ways throughout: everything resolved arrives once and in order, and
 * the tunnel then closes normally.
 */
export async function rideOutOutage(nats: Nats, side: "opener" | "member", outage: number, outageTimeout: number) {
  const { proxy, tun, opener, memberSide } = await proxiedTunnel(nats, side, outageTimeout);
  try {
    await waitFor("traffic both ways", () => opener.received.length > 50 && memberSide.received.length > 50);
    const down = side === "opener" ? opener : memberSide;
    const before = down.resolved.length;
    proxy.down();
    await sleep(outage); // the fault itself: the connection is gone this long
    // the end that lost its connection went on sending into its window meanwhile
    const duringOutage = down.resolved.length - before;
    proxy.up();
    const atUp = { o: opener.resolved.length, m: memberSide.resolved.length };
    await waitFor(
      "traffic again both ways",
      () => opener.resolved.length > atUp.o + 100 && memberSide.resolved.length > atUp.m + 100,
      30_000,
    );
    expect(duringOutage).toBeGreaterThan(0);
    await expectWholeThenClosed(tun, opener, memberSide);
  } finally {
    await proxy.close();
  }
}
