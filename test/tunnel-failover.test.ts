import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Connection, connect, silentLogger, type Tunnel } from "../src/index.js";
import { type NatsCluster, startCluster } from "./faults/cluster.js";
import { expectWholeThenClosed, startTraffic } from "./faults/tunnel-traffic.js";
import { deferred, TEST_STREAM_BYTES, uniqueNamespace, waitFor } from "./helpers.js";

/** How many times the failover runs (FAILOVER_RUNS=10 to check it is reliable). */
const RUNS = Number(process.env.FAILOVER_RUNS ?? 1);

describe("tunnels on a replicated stream in a 3-node cluster", () => {
  let cluster: NatsCluster | undefined;
  const opened: Connection[] = [];
  beforeAll(async () => {
    cluster = await startCluster();
  });
  afterAll(async () => {
    await Promise.all(opened.map((c) => c.close()));
    await cluster?.stop();
  });

  for (let run = 1; run <= RUNS; run++) {
    it(`carry on through a stream-leader failover, delivering every message resolved once and in order (run ${run})`, async () => {
      if (!cluster) throw new Error("no cluster");
      const ns = uniqueNamespace();
      const stream = `JETMESH_TUNNELS_${ns}`;
      const open = async () => {
        const conn = await connect({
          servers: cluster?.urls ?? [],
          namespace: ns,
          logger: silentLogger,
          drainTimeout: 500,
          reconnectTimeWait: 250,
          topics: { maxBytes: TEST_STREAM_BYTES, replicas: 3 },
          tunnels: { maxBytes: TEST_STREAM_BYTES, replicas: 3 },
        });
        opened.push(conn);
        return conn;
      };
      const accepted = deferred<Tunnel>();
      const member = await open();
      await member.register("peer", { handleTunnel: (tun) => accepted.resolve(tun) });
      const conn = await open();
      const tun = await conn.tunnel("peer", { timeout: 20_000 });
      const mtun = await accepted.promise;
      // 64 KiB messages as fast as credit allows: megabytes in flight when the leader dies
      const opener = startTraffic(tun, { size: 64 * 1024, pace: 0 });
      const memberSide = startTraffic(mtun, { size: 64 * 1024, pace: 0 });
      await waitFor(
        "traffic both ways",
        () => opener.received.length > 100 && memberSide.received.length > 100,
        30_000,
      );
      const leader = await cluster.streamLeader(stream);
      expect(leader).toBeDefined();
      const atKill = { o: opener.resolved.length, m: memberSide.resolved.length };
      const killed = performance.now();
      await cluster.kill(leader ?? "");
      // messages sent after the kill arrive both ways: the tunnel recovered
      await waitFor(
        "traffic again after the failover",
        () => memberSide.received.length > atKill.o + 50 && opener.received.length > atKill.m + 50,
        45_000,
      );
      const recovery = performance.now() - killed;
      const newLeader = await cluster.streamLeader(stream);
      console.info(
        `failover run ${run}: leader ${leader} killed; new leader ${newLeader}; traffic again after ${Math.round(recovery)} ms; ` +
          `${atKill.o + atKill.m} messages (${((atKill.o + atKill.m) * 64) / 1024} MiB) resolved before the kill`,
      );
      expect(newLeader).not.toBe(leader);
      await cluster.restart(leader ?? "");
      await expectWholeThenClosed(tun, opener, memberSide);
    }, 150_000);
  }
});
