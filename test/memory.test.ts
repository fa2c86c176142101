/**
 * Memory bounds, measured as what the process really retains (heap and
 * ArrayBuffers after full collections), not as jetmesh's own counters.
 */
import { createInbox } from "@nats-io/nats-core";
import { connect as natsConnect } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import type { Tunnel } from "../src/index.js";
import { MiB, mib, retained } from "./faults/memory.js";
import { dec, enc, uniqueNamespace, useNats, waitFor } from "./helpers.js";

const nats = useNats();

/** Sends `count` requests with at most `depth` in flight. */
async function requests(send: () => Promise<unknown>, count: number, depth: number): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < count) {
      next++;
      await send();
    }
  };
  await Promise.all(Array.from({ length: depth }, lane));
}

describe("memory", () => {
  it("does not grow per request whose handler reads ctx.signal, with a deadline or without", async () => {
    const ns = uniqueNamespace();
    const member = await nats.open(ns);
    let aborted = 0;
    await member.register("sig", {
      handleRequest: (req, ctx) => {
        if (ctx.signal.aborted) aborted++;
        return req;
      },
    });
    const client = await nats.open(ns);
    // without a deadline: a raw client sends no Jetmesh-Timeout header
    const raw = await natsConnect({ servers: nats.server().url });
    const inbox = createInbox();
    let rawReplies = 0;
    raw.subscribe(`${inbox}.*`, {
      callback: () => {
        rawReplies++;
      },
    });
    const payload = enc("x");
    const rawBatch = async (n: number) => {
      const target = rawReplies + n;
      for (let i = 0; i < n; i++) {
        raw.publish(`${ns}.req.sig`, payload, { reply: `${inbox}.${i}` });
        if (i % 256 === 255) await waitFor("raw replies", () => rawReplies >= target - n + i - 512, 30_000);
      }
      await waitFor("raw replies", () => rawReplies >= target, 30_000);
    };
    const round = async (n: number) => {
      await requests(() => client.request("sig", payload, { timeout: 30_000 }), n, 64);
      await rawBatch(n / 4);
    };
    await round(20_000); // warm-up: caches, JIT, pools
    const before = await retained();
    await round(160_000);
    const after = await retained();
    await raw.close();
    const growth = after.heap - before.heap;
    console.info(`ctx.signal: heap ${mib(growth)} over 200k requests (160k with a deadline, 40k without)`);
    expect(aborted).toBe(0);
    // 200k requests; a leak of even 20 bytes a request would be 4 MB
    expect(growth, `heap grew ${mib(growth)} over 200k requests`).toBeLessThan(3 * MiB);
  }, 180_000);

  it("holds no more than the limits of queued requests, broadcasts and events, whatever else came through the socket", async () => {
    const ns = uniqueNamespace();
    const member = await nats.open(ns);
    const limit = MiB;
    let release!: () => void;
    const blocked = new Promise<void>((r) => {
      release = r;
    });
    const svc = await member.register(
      "held",
      { handleRequest: (r) => blocked.then(() => r), handleBroadcast: () => blocked },
      { requestThreads: 1, requestMemory: limit, broadcastThreads: 1, broadcastMemory: limit },
    );
    let events = 0;
    const sub = await member.subscribe(
      "feed",
      async () => {
        await blocked;
        events++;
      },
      { eventThreads: 1, eventMemory: limit },
    );
    const raw = await natsConnect({ servers: nats.server().url });
    const inbox = createInbox();
    let replies = 0;
    raw.subscribe(`${inbox}.*`, {
      callback: () => {
        replies++;
      },
    });
    const publisher = await nats.open(ns);
    const count = 1_000;
    const big = new Uint8Array(64 * 1024).fill(7);
    const small = new Uint8Array(16).fill(1);
    // one request and one broadcast take the only threads
    raw.publish(`${ns}.req.held`, small, { reply: `${inbox}.first` });
    raw.publish(`${ns}.bcast.held`, small);
    await waitFor("threads busy", () => svc.stats().requestsRunning === 1 && svc.stats().broadcastsRunning === 1);
    await publisher.publish("feed", small);
    await waitFor("event handler busy", () => sub.stats().running === 1);
    const before = await retained();

    // small requests and events between large broadcasts: each small one shares socket reads with large ones
    const published: Array<Promise<unknown>> = [];
    for (let i = 0; i < count; i++) {
      raw.publish(`${ns}.bcast.held`, big);
      raw.publish(`${ns}.req.held`, small, { reply: `${inbox}.${i}` });
      if (i % 5 === 0) published.push(publisher.publish("feed", small));
      if (i % 100 === 99) await raw.flush();
    }
    await raw.flush();
    await Promise.all(published);
    await waitFor(
      "everything arrived",
      () => {
        const s = svc.stats();
        return s.dropped + s.broadcastsQueuedBytes / big.byteLength >= count && s.requestsQueuedBytes >= count * 16;
      },
      60_000,
    );
    await waitFor("events queued", () => sub.stats().queuedBytes >= 100 * small.byteLength, 30_000);
    const during = await retained();
    const held = during.arrayBuffers - before.arrayBuffers;
    const s = svc.stats();
    console.info(
      `queues: ${mib(held)} of ArrayBuffers held for ${mib(s.requestsQueuedBytes)} requests, ` +
        `${mib(s.broadcastsQueuedBytes)} broadcasts and ${mib(sub.stats().queuedBytes)} events counted ` +
        `(limits 3 x ${mib(limit)}) after ${mib(count * big.byteLength)} went through the socket`,
    );
    // what the queues count is within their limits...
    expect(s.requestsQueuedBytes).toBeLessThanOrEqual(limit);
    expect(s.broadcastsQueuedBytes).toBeLessThanOrEqual(limit);
    expect(sub.stats().queuedBytes).toBeLessThanOrEqual(limit + small.byteLength);
    // ...and so is what is really held: 64 MiB went through the socket
    expect(held, `ArrayBuffers grew ${mib(held)}`).toBeLessThan(3 * limit + 8 * MiB);

    release();
    await waitFor("every request answered", () => replies === count + 1, 30_000);
    await waitFor("every event handled", () => events === 1 + published.length, 30_000);
    await raw.close();
  }, 120_000);

  it("holds no more than a tunnel's window of messages nobody reads, whatever else came through the socket", async () => {
    const ns = uniqueNamespace();
    const member = await nats.open(ns);
    let held: Tunnel | undefined;
    const svc = await member.register(
      "unread",
      {
        // takes the tunnel and never reads it
        handleTunnel: (tun) => {
          held = tun;
        },
        handleBroadcast: () => new Promise<void>(() => {}),
      },
      { broadcastThreads: 1, broadcastMemory: 1 },
    );
    const opener = await nats.open(ns);
    const tun = await opener.tunnel("unread");
    await waitFor("accepted", () => held !== undefined);
    const raw = await natsConnect({ servers: nats.server().url });
    const big = new Uint8Array(64 * 1024).fill(7);
    raw.publish(`${ns}.bcast.unread`, big);
    await raw.flush();
    const before = await retained();
    const count = 1_000;
    const sends: Array<Promise<void>> = [];
    // one message at a time between large broadcasts, so that each arrives in a socket read of its own
    for (let i = 0; i < count; i++) {
      raw.publish(`${ns}.bcast.unread`, big);
      await raw.flush();
      sends.push(tun.send(enc(`message ${i}`), { timeout: 60_000 }));
      await new Promise((r) => setTimeout(r, 1));
    }
    await raw.flush();
    await Promise.all(sends);
    await waitFor("the broadcasts went by", () => svc.stats().dropped >= count, 60_000);
    const during = await retained();
    const grew = during.arrayBuffers - before.arrayBuffers;
    console.info(
      `tunnel: ${mib(grew)} of ArrayBuffers held for ${count} unread messages after ${mib(count * big.byteLength)} went by`,
    );
    expect(grew, `ArrayBuffers grew ${mib(grew)}`).toBeLessThan(2 * MiB);
    // and every message is still there, in order
    const got: string[] = [];
    for (let i = 0; i < count; i++) got.push(dec(await (held as Tunnel).recv({ timeout: 10_000 })));
    expect(got).toEqual(Array.from({ length: count }, (_, i) => `message ${i}`));
    await raw.close();
    await tun.close();
  }, 120_000);

  it("does not grow per subscription made and ended", async () => {
    const ns = uniqueNamespace();
    const conn = await nats.open(ns);
    const cycle = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const sub = await conn.subscribe("cycle", () => {});
        await sub.unsubscribe();
      }
    };
    await cycle(30);
    const before = await retained();
    await cycle(200);
    const after = await retained();
    const growth = after.heap - before.heap;
    console.info(`subscriptions: heap ${mib(growth)} over 200 made and ended`);
    expect(growth, `heap grew ${mib(growth)} over 200 subscriptions`).toBeLessThan(2 * MiB);
  }, 120_000);
});
