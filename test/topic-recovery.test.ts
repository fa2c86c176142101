import { describe, expect, it } from "vitest";
import { type ConnectOptions, connect, silentLogger } from "../src/index.js";
import { startNats } from "../src/testing/index.js";
import { dec, enc, uniqueNamespace, waitFor } from "./helpers.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A server of its own (the binary: restart() keeps its port and store), and options for quick reconnects to it. */
async function restartable(topics?: ConnectOptions["topics"]) {
  const server = await startNats({ useEnv: false, docker: false });
  const options: ConnectOptions = {
    servers: server.url,
    namespace: uniqueNamespace(),
    logger: silentLogger,
    reconnectTimeWait: 100,
    drainTimeout: 500,
    ...(topics ? { topics } : {}),
  };
  return { server, options };
}

describe("topics across a server restart", () => {
  it("lose no event and hand none twice when nats-server restarts during a publish loop", async () => {
    const { server, options } = await restartable();
    await using _server = server;
    await using pub = await connect(options);
    await using ordered = await connect(options);
    await using durable = await connect(options);
    const orderedGot: number[] = [];
    await ordered.subscribe(
      "feed",
      (e) => {
        orderedGot.push(Number(dec(e)));
      },
      { eventThreads: 1 },
    );
    const durableGot = new Set<number>();
    await durable.subscribe(
      "feed",
      (e) => {
        durableGot.add(Number(dec(e)));
      },
      { durable: "archive", eventThreads: 1, ackWait: 2_000 },
    );

    let reconnects = 0;
    (async () => {
      for await (const s of ordered.status()) if (s.type === "reconnect") reconnects++;
    })().catch(() => {});

    const total = 1500;
    let acked = 0;
    const failures: unknown[] = [];
    const loop = (async () => {
      let window: Array<Promise<unknown>> = [];
      for (let i = 0; i < total; i++) {
        window.push(
          pub.publish("feed", enc(String(i)), { timeout: 30_000 }).then(
            () => acked++,
            (err: unknown) => failures.push(err),
          ),
        );
        if (window.length === 20) {
          await Promise.all(window);
          window = [];
          await sleep(1); // spread the loop over the restart
        }
      }
      await Promise.all(window);
    })();
    await waitFor("a third acknowledged", () => acked >= total / 3, 20_000);
    const ackedAtRestart = acked;
    await server.restart();
    await loop;
    // the loop was still running when the server went away, and the clients came back
    expect(ackedAtRestart).toBeLessThan(total);
    await waitFor("the subscriber reconnected", () => reconnects >= 1);
    expect(failures).toEqual([]);
    expect(acked).toBe(total);

    const all = Array.from({ length: total }, (_, i) => i);
    await waitFor("the ordered subscriber has every event", () => orderedGot.length >= total, 30_000);
    await waitFor("the durable subscriber has every event", () => durableGot.size >= total, 30_000);
    await sleep(500);
    // each event once, in publish order: nothing lost, nothing handed twice, no publish stored twice
    expect(orderedGot).toEqual(all);
    expect([...durableGot].sort((a, b) => a - b)).toEqual(all);
  }, 120_000);

  it("read a memory stream made anew after a restart from its start", async () => {
    const { server, options } = await restartable({ storage: "memory" });
    await using _server = server;
    await using pub = await connect(options);
    await using sub = await connect(options);
    const got: string[] = [];
    await sub.subscribe(
      "m",
      (e) => {
        got.push(dec(e));
      },
      { eventThreads: 1 },
    );
    for (let i = 0; i < 5; i++) await pub.publish("m", enc(`before${i}`));
    await waitFor("before", () => got.length === 5);
    await server.restart(); // memory storage: the stream and its events are gone
    for (let i = 0; i < 3; i++) await pub.publish("m", enc(`after${i}`), { timeout: 20_000 });
    await waitFor("after", () => got.length === 8, 20_000);
    expect(got).toEqual(["before0", "before1", "before2", "before3", "before4", "after0", "after1", "after2"]);
  }, 60_000);
});
