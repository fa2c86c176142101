import { availableParallelism } from "node:os";
import { jetstreamManager } from "@nats-io/jetstream";
import { describe, expect, it } from "vitest";
import { VERSION } from "../src/config/index.js";
import { ConfigurationError, connect, DEFAULT_TOPIC_LIMITS, silentLogger } from "../src/index.js";
import { startNats } from "../src/testing/index.js";
import { dec, deferred, enc, uniqueNamespace, useNats, waitFor } from "./helpers.js";

const nats = useNats();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("topic limits", () => {
  it("default to 4 x CPU count handlers and 64 MiB, as in Iris", async () => {
    expect(DEFAULT_TOPIC_LIMITS).toEqual({ eventThreads: 4 * availableParallelism(), eventMemory: 64 * 1024 * 1024 });
    const conn = await nats.open(uniqueNamespace());
    const sub = await conn.subscribe("d", () => {}, { eventThreads: 2 });
    expect(sub.limits).toEqual({ ...DEFAULT_TOPIC_LIMITS, eventThreads: 2 });
  });

  it("never runs more than eventThreads handlers at once, and handles every event", async () => {
    const conn = await nats.open(uniqueNamespace());
    let running = 0;
    let peak = 0;
    const seen = new Set<string>();
    const sub = await conn.subscribe(
      "busy",
      async (e) => {
        running++;
        peak = Math.max(peak, running);
        await sleep(3);
        seen.add(dec(e));
        running--;
      },
      { eventThreads: 3 },
    );
    await Promise.all(Array.from({ length: 120 }, (_, i) => conn.publish("busy", enc(String(i)))));
    await waitFor("all handled", () => seen.size === 120);
    expect(peak).toBe(3);
    expect(sub.stats().events).toBe(120);
  });

  it("stops pulling when a slow subscriber's queue is full: every event still arrives, queued bytes stay within the limit plus one event", async () => {
    const conn = await nats.open(uniqueNamespace());
    const eventSize = 300;
    const eventMemory = 1024; // three events
    const got: number[] = [];
    let peakQueued = 0;
    const sub = await conn.subscribe(
      "slow",
      async (e) => {
        peakQueued = Math.max(peakQueued, sub.stats().queuedBytes);
        await sleep(2);
        got.push(e[0] ?? -1);
      },
      { eventThreads: 1, eventMemory },
    );
    const count = 200;
    await Promise.all(
      Array.from({ length: count }, (_, i) => conn.publish("slow", new Uint8Array(eventSize).fill(i % 256))),
    );
    await waitFor("every event", () => got.length === count, 20_000);
    expect(got).toEqual(Array.from({ length: count }, (_, i) => i % 256));
    expect(sub.stats().peakQueuedBytes).toBeLessThanOrEqual(eventMemory + eventSize);
    expect(peakQueued).toBeLessThanOrEqual(eventMemory + eventSize);
    // the queue was used: back-pressure, not one-by-one delivery
    expect(sub.stats().peakQueuedBytes).toBeGreaterThan(0);
  });

  it("delivers an event larger than eventMemory, alone, once the queue is empty", async () => {
    const conn = await nats.open(uniqueNamespace());
    const sizes: number[] = [];
    const sub = await conn.subscribe(
      "huge",
      (e) => {
        sizes.push(e.byteLength);
      },
      { eventThreads: 1, eventMemory: 100 },
    );
    await conn.publish("huge", new Uint8Array(50));
    await conn.publish("huge", new Uint8Array(10_000));
    await conn.publish("huge", new Uint8Array(50));
    await waitFor("three events", () => sizes.length === 3);
    expect(sizes).toEqual([50, 10_000, 50]);
    expect(sub.stats().peakQueuedBytes).toBeLessThanOrEqual(100 + 10_000);
  });

  it("goes on at once when a pull's bytes are used up exactly (the server ends such a pull without a word)", async () => {
    const conn = await nats.open(uniqueNamespace());
    // one event's size as the server counts it is about 250 bytes here: try every
    // eventMemory around it, so that some pull is used up to the byte
    for (let eventMemory = 180; eventMemory <= 330; eventMemory++) {
      const got: number[] = [];
      await conn.subscribe(
        "exact",
        (e) => {
          got.push(e.byteLength);
        },
        { eventThreads: 1, eventMemory },
      );
      await conn.publish("exact", new Uint8Array(100));
      await conn.publish("exact", new Uint8Array(100));
      await conn.publish("exact", new Uint8Array(100));
      // a stalled pull would only be noticed by the heartbeat watchdog, after 10 s or more
      await waitFor(`3 events with eventMemory ${eventMemory}`, () => got.length === 3, 3_000);
      await conn.unsubscribe("exact");
    }
  }, 60_000);

  it("with eventThreads above 1, handles events concurrently, each exactly once", async () => {
    const conn = await nats.open(uniqueNamespace());
    const release = deferred();
    let running = 0;
    let peak = 0;
    const got: string[] = [];
    await conn.subscribe(
      "par",
      async (e) => {
        running++;
        peak = Math.max(peak, running);
        await release.promise;
        got.push(dec(e));
        running--;
      },
      { eventThreads: 4 },
    );
    for (let i = 0; i < 8; i++) await conn.publish("par", enc(String(i)));
    await waitFor("four running", () => running === 4);
    release.resolve();
    await waitFor("all", () => got.length === 8);
    expect(peak).toBe(4);
    expect(got.sort()).toEqual(["0", "1", "2", "3", "4", "5", "6", "7"]);
  });
});

describe("the topics stream", () => {
  it("is created once on first use, even when many connections race to create it", async () => {
    const ns = uniqueNamespace();
    // the defaults, without the small test stream size
    const conns = await Promise.all(Array.from({ length: 6 }, () => nats.open(ns, { topics: {} })));
    const acks = await Promise.all(conns.map((c, i) => c.publish("race", enc(String(i)))));
    expect(acks.map((a) => a.seq).sort()).toEqual([1, 2, 3, 4, 5, 6]);
    const jsm = await jetstreamManager(conns[0]?.nats ?? (await nats.open(ns)).nats);
    const info = await jsm.streams.info(`JETMESH_TOPICS_${ns}`);
    expect(info.config.subjects).toEqual([`${ns}.topic.>`]);
    expect(info.config.storage).toBe("file");
    expect(info.config.max_bytes).toBe(1024 * 1024 * 1024);
    expect(info.config.max_age).toBe(24 * 60 * 60 * 1e9);
    expect(info.config.discard).toBe("old");
    expect(info.state.messages).toBe(6);
  });

  it("is tagged as jetmesh's in its metadata where the server keeps metadata (2.10 and later), and made without it before", async () => {
    const ns = uniqueNamespace();
    const conn = await nats.open(ns);
    await conn.publish("tagged", enc("x"));
    const info = await (await jetstreamManager(conn.nats)).streams.info(`JETMESH_TOPICS_${ns}`);
    const [major = 0, minor = 0] = (conn.nats.info?.version ?? "").split(".").map(Number);
    if (major > 2 || (major === 2 && minor >= 10)) {
      expect(info.config.metadata).toMatchObject({
        "jetmesh.made_by": `jetmesh ${VERSION}`,
        "jetmesh.kind": "topics",
        "jetmesh.subject": `${ns}.topic.>`,
      });
    } else {
      expect(info.config.metadata?.["jetmesh.kind"]).toBeUndefined();
    }
  });

  it("takes its settings from connect options", async () => {
    const ns = uniqueNamespace();
    const conn = await nats.open(ns, {
      topics: { stream: `custom-${ns}`, storage: "memory", maxAge: 60_000, maxBytes: 1_000_000, discard: "new" },
    });
    await conn.publish("s", enc("x"));
    const info = await (await jetstreamManager(conn.nats)).streams.info(`custom-${ns}`);
    expect(info.config.storage).toBe("memory");
    expect(info.config.max_age).toBe(60_000 * 1e6);
    expect(info.config.max_bytes).toBe(1_000_000);
    expect(info.config.discard).toBe("new");
    expect(info.config.duplicate_window).toBe(60_000 * 1e6);
  });

  it("reports an existing stream with other settings clearly and leaves it as it is", async () => {
    const ns = uniqueNamespace();
    const first = await nats.open(ns, { topics: { maxAge: 3_600_000 } });
    await first.publish("s", enc("x"));
    const second = await nats.open(ns, { topics: { maxAge: 60_000, storage: "memory" } });
    const err = await second.publish("s", enc("y")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigurationError);
    expect(String((err as Error).message)).toMatch(/max_age/);
    expect(String((err as Error).message)).toMatch(/storage/);
    await expect(second.subscribe("s", () => {})).rejects.toBeInstanceOf(ConfigurationError);
    const info = await (await jetstreamManager(first.nats)).streams.info(`JETMESH_TOPICS_${ns}`);
    expect(info.config.max_age).toBe(3_600_000 * 1e6);
    // a connection that asks for nothing in particular uses the stream as it is
    const third = await nats.open(ns, { topics: {} });
    expect((await third.publish("s", enc("z"))).seq).toBe(2);
  });

  it("refuses a full stream with discard new as OverloadedError", async () => {
    const ns = uniqueNamespace();
    const conn = await nats.open(ns, { topics: { maxBytes: 4096, discard: "new", storage: "memory" } });
    let overloaded: unknown;
    for (let i = 0; i < 100 && overloaded === undefined; i++) {
      await conn.publish("full", new Uint8Array(512)).catch((e: unknown) => {
        overloaded = e;
      });
    }
    expect((overloaded as Error | undefined)?.name).toBe("OverloadedError");
  });

  it("says how to fix a server without JetStream, in one clear error", async () => {
    await using plain = await startNats({ jetstream: false });
    const conn = await connect({ servers: plain.url, logger: silentLogger, drainTimeout: 500 });
    try {
      const err = await conn.publish("t", enc("x"), { timeout: 5000 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConfigurationError);
      expect((err as Error).message).toMatch(/JetStream is not enabled/);
      expect((err as Error).message).toMatch(/-js/);
      await expect(conn.subscribe("t", () => {})).rejects.toBeInstanceOf(ConfigurationError);
    } finally {
      await conn.close();
    }
  });
});

describe("replay", () => {
  it("starts from a stream sequence or a time when asked", async () => {
    const conn = await nats.open(uniqueNamespace());
    for (let i = 0; i < 5; i++) await conn.publish("r", enc(`old${i}`));
    await sleep(50);
    const cut = new Date();
    await sleep(50);
    for (let i = 0; i < 3; i++) await conn.publish("r", enc(`new${i}`));
    const fromSeq: string[] = [];
    const bySeq = await conn.subscribe(
      "r",
      (e) => {
        fromSeq.push(dec(e));
      },
      { from: { seq: 3 } },
    );
    await waitFor("from seq 3", () => fromSeq.length === 6);
    await bySeq.unsubscribe();
    expect(fromSeq).toEqual(["old2", "old3", "old4", "new0", "new1", "new2"]);
    const fromTime: string[] = [];
    await conn.subscribe(
      "r",
      (e) => {
        fromTime.push(dec(e));
      },
      { from: { time: cut } },
    );
    await waitFor("from the cut", () => fromTime.length === 3);
    await conn.publish("r", enc("live"));
    await waitFor("and live ones after", () => fromTime.length === 4);
    expect(fromTime).toEqual(["new0", "new1", "new2", "live"]);
  });
});
