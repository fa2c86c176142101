import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { jetstreamManager } from "@nats-io/jetstream";
import { describe, expect, it } from "vitest";
import type { EventContext } from "../src/index.js";
import { dec, enc, TEST_STREAM_BYTES, uniqueNamespace, useNats, waitFor } from "./helpers.js";

const nats = useNats();
const root = fileURLToPath(new URL("..", import.meta.url));

/** A durable subscriber in its own process (built from src into .build/test-dist by test/global-setup.ts). */
function startSubscriber(url: string, namespace: string, durable: string, delayMs: number) {
  const child: ChildProcess = spawn(
    process.execPath,
    ["test/fixtures/durable-subscriber.mjs", url, namespace, durable, String(delayMs), String(TEST_STREAM_BYTES)],
    { cwd: root, stdio: ["ignore", "pipe", "inherit"] },
  );
  const lines: string[] = [];
  let buffer = "";
  child.stdout?.setEncoding("utf8");
  child.stdout?.on("data", (chunk: string) => {
    buffer += chunk;
    const parts = buffer.split("\n");
    buffer = parts.pop() ?? "";
    lines.push(...parts);
  });
  return { child, lines };
}

describe("durable subscriptions", () => {
  it("resume where they left off after the subscriber's process is killed, redelivering what it had not acknowledged", async () => {
    const ns = uniqueNamespace();
    const url = nats.server().url;
    const first = startSubscriber(url, ns, "worker", 20);
    try {
      await waitFor("subscriber ready", () => first.lines.includes("ready"), 20_000);
      const pub = await nats.open(ns);
      for (let i = 0; i < 60; i++) await pub.publish("jobs", enc(String(i)));
      await waitFor("some handled", () => first.lines.length > 20, 20_000);
      first.child.kill("SIGKILL");
      await new Promise((resolve) => first.child.once("exit", resolve));
      // published while no subscriber runs
      for (let i = 60; i < 80; i++) await pub.publish("jobs", enc(String(i)));

      const handledFirst = first.lines.filter((l) => l !== "ready").map((l) => Number(l.split(" ")[0]));
      // while it ran, nothing was delivered to it twice, though events waited longer than ackWait
      expect(new Set(handledFirst).size).toBe(handledFirst.length);

      const sub = await nats.open(ns);
      const second: Array<{ n: number; deliveries: number }> = [];
      await sub.subscribe(
        "jobs",
        (e, ctx) => {
          second.push({ n: Number(dec(e)), deliveries: ctx.deliveries });
        },
        { durable: "worker", eventThreads: 1, ackWait: 1000 },
      );
      const all = Array.from({ length: 80 }, (_, i) => i);
      await waitFor(
        "every job handled by one process or the other",
        () => new Set([...handledFirst, ...second.map((s) => s.n)]).size === 80,
        20_000,
      );
      expect([...new Set([...handledFirst, ...second.map((s) => s.n)])].sort((a, b) => a - b)).toEqual(all);
      // it resumed rather than starting over: at most the events in flight at the kill are handled twice
      const overlap = second.filter((s) => handledFirst.includes(s.n));
      expect(overlap.length).toBeLessThanOrEqual(3);
      // what the killed process held unacknowledged came back as a redelivery
      expect(second.some((s) => s.deliveries > 1)).toBe(true);
      expect(second.filter((s) => s.n >= 60).every((s) => s.deliveries === 1)).toBe(true);
    } finally {
      first.child.kill("SIGKILL");
    }
  }, 60_000);

  it("redeliver an event whose handler threw, and give it up to onDeadLetter after maxDeliver deliveries", async () => {
    const conn = await nats.open(uniqueNamespace());
    const attempts = new Map<string, number[]>();
    const dead: Array<{ event: string; error: string; deliveries: number }> = [];
    const sub = await conn.subscribe(
      "work",
      (e, ctx) => {
        const name = dec(e);
        attempts.set(name, [...(attempts.get(name) ?? []), ctx.deliveries]);
        if (name === "poison") throw new Error("cannot do it");
        if (name === "flaky" && ctx.deliveries === 1) throw new Error("not yet");
      },
      {
        durable: "dl",
        maxDeliver: 3,
        retryDelay: 0,
        onDeadLetter: (event: Uint8Array, ctx: EventContext, error: unknown) => {
          dead.push({ event: dec(event), error: (error as Error).message, deliveries: ctx.deliveries });
        },
      },
    );
    await conn.publish("work", enc("ok"));
    await conn.publish("work", enc("flaky"));
    await conn.publish("work", enc("poison"));
    await waitFor("dead letter", () => dead.length === 1);
    await waitFor("flaky done", () => attempts.get("flaky")?.length === 2);
    await new Promise((r) => setTimeout(r, 300));
    expect(attempts.get("ok")).toEqual([1]);
    expect(attempts.get("flaky")).toEqual([1, 2]);
    expect(attempts.get("poison")).toEqual([1, 2, 3]);
    expect(dead).toEqual([{ event: "poison", error: "cannot do it", deliveries: 3 }]);
    expect(sub.stats().deadLetters).toBe(1);
    expect(sub.stats().errors).toBe(4);
  });

  it("replay from a sequence when first created, then resume from their own position", async () => {
    const ns = uniqueNamespace();
    const conn = await nats.open(ns);
    for (let i = 0; i < 5; i++) await conn.publish("log", enc(String(i)));
    const got: string[] = [];
    const handler = (e: Uint8Array) => {
      got.push(dec(e));
    };
    const sub = await conn.subscribe("log", handler, { durable: "reader", from: { seq: 2 }, eventThreads: 1 });
    await waitFor("replayed", () => got.length === 4);
    await sub.unsubscribe();
    for (let i = 5; i < 8; i++) await conn.publish("log", enc(String(i)));
    // `from` applies at creation only: the durable goes on from where it stopped
    await conn.subscribe("log", handler, { durable: "reader", from: { seq: 1 }, eventThreads: 1 });
    await waitFor("resumed", () => got.length === 7);
    await new Promise((r) => setTimeout(r, 200));
    expect(got).toEqual(["1", "2", "3", "4", "5", "6", "7"]);
  });
});

describe("an existing durable", () => {
  it("keeps its own ackWait and maxDeliver unless they are given, and takes those given", async () => {
    const ns = uniqueNamespace();
    const conn = await nats.open(ns);
    const failing = () => {
      throw new Error("no");
    };
    const first = await conn.subscribe("d", failing, { durable: "keep", maxDeliver: 2, retryDelay: 0 });
    await first.unsubscribe();
    // subscribed again without maxDeliver: the consumer's 2 is in force, so the second failure dead-letters
    const deliveries: number[] = [];
    const dead: number[] = [];
    await conn.subscribe(
      "d",
      (_e, ctx) => {
        deliveries.push(ctx.deliveries);
        throw new Error("no");
      },
      { durable: "keep", retryDelay: 0, onDeadLetter: (_e, ctx) => void dead.push(ctx.deliveries) },
    );
    await conn.publish("d", enc("x"));
    await waitFor("dead-lettered", () => dead.length === 1);
    expect(deliveries).toEqual([1, 2]);
    await conn.unsubscribe("d");
    // given explicitly, the consumer is updated
    await conn.subscribe("d", () => {}, { durable: "keep", maxDeliver: 7, ackWait: 4_000 });
    const info = await (await jetstreamManager(conn.nats)).consumers.info(`JETMESH_TOPICS_${ns}`, "durable~d~keep");
    expect(info.config.max_deliver).toBe(7);
    expect(info.config.ack_wait).toBe(4_000 * 1e6);
  });
});

describe("group subscriptions", () => {
  it("share a backlog with a member that joins late, instead of one member holding it all", async () => {
    const ns = uniqueNamespace();
    const pub = await nats.open(ns);
    const a = await nats.open(ns);
    const b = await nats.open(ns);
    const got = { a: 0, b: 0 };
    const slow = (who: "a" | "b") => async () => {
      await new Promise((r) => setTimeout(r, 5));
      got[who]++;
    };
    await a.subscribe("backlog", slow("a"), { group: "g", eventThreads: 2 });
    await Promise.all(Array.from({ length: 200 }, (_, i) => pub.publish("backlog", enc(String(i)))));
    await b.subscribe("backlog", slow("b"), { group: "g", eventThreads: 2 });
    await waitFor("all handled", () => got.a + got.b === 200, 20_000);
    // alone, a would have handled nearly all of them; shared, b takes a good part
    expect(got.b).toBeGreaterThan(40);
  });

  it("hand each event to exactly one member of the group, sharing the load", async () => {
    const ns = uniqueNamespace();
    const members = await Promise.all([0, 1, 2].map(() => nats.open(ns)));
    const byMember: string[][] = members.map(() => []);
    await Promise.all(
      members.map((conn, m) =>
        conn.subscribe(
          "tasks",
          async (e) => {
            await new Promise((r) => setTimeout(r, 1));
            byMember[m]?.push(dec(e));
          },
          { group: "workers", eventThreads: 2 },
        ),
      ),
    );
    // a plain subscriber beside the group still sees every event
    const watcher = await nats.open(ns);
    let watched = 0;
    await watcher.subscribe("tasks", () => {
      watched++;
    });
    const pub = await nats.open(ns);
    await Promise.all(Array.from({ length: 300 }, (_, i) => pub.publish("tasks", enc(String(i)))));
    await waitFor("all handled", () => byMember.flat().length >= 300 && watched === 300, 20_000);
    await new Promise((r) => setTimeout(r, 300));
    const all = byMember.flat();
    expect(all).toHaveLength(300);
    expect(new Set(all).size).toBe(300);
    expect(byMember.filter((events) => events.length > 0).length).toBeGreaterThanOrEqual(2);
    expect(watched).toBe(300);
  });
});
