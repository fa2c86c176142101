import { describe, expect, it } from "vitest";
import {
  ClosedError,
  type EventContext,
  InvalidArgumentError,
  PayloadTooLargeError,
  type Subscription,
} from "../src/index.js";
import { dec, deferred, enc, uniqueNamespace, useNats, waitFor } from "./helpers.js";

const nats = useNats();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("publish and subscribe", () => {
  it("publish resolves with JetStream's sequence; a subscriber gets its own events in order, with their metadata", async () => {
    const conn = await nats.open(uniqueNamespace());
    const got: Array<{ text: string; ctx: EventContext }> = [];
    await conn.subscribe("news", (event, ctx) => {
      got.push({ text: dec(event), ctx });
    });
    const before = Date.now();
    const acks = [];
    for (let i = 0; i < 5; i++) acks.push(await conn.publish("news", enc(`e${i}`)));
    expect(acks.map((a) => a.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(acks.every((a) => a.duplicate === false)).toBe(true);
    await waitFor("5 events", () => got.length === 5);
    expect(got.map((g) => g.text)).toEqual(["e0", "e1", "e2", "e3", "e4"]);
    const first = got[0]?.ctx;
    expect(first?.topic).toBe("news");
    expect(first?.seq).toBe(1);
    expect(first?.subject).toBe(`${conn.namespace}.topic.news`);
    expect(first?.deliveries).toBe(1);
    expect(first?.time.getTime()).toBeGreaterThanOrEqual(before - 1000);
    expect(first?.time.getTime()).toBeLessThanOrEqual(Date.now() + 1000);
  });

  it("delivers only events published after the subscription, and nothing of other topics", async () => {
    const conn = await nats.open(uniqueNamespace());
    await conn.publish("t", enc("before"));
    const got: string[] = [];
    await conn.subscribe("t", (e) => {
      got.push(dec(e));
    });
    await conn.publish("other", enc("elsewhere"));
    await conn.publish("t", enc("after"));
    await waitFor("one event", () => got.length >= 1);
    await sleep(100);
    expect(got).toEqual(["after"]);
  });

  it("pipelines many publishes in flight and acks each one", async () => {
    const conn = await nats.open(uniqueNamespace());
    const acks = await Promise.all(Array.from({ length: 2000 }, (_, i) => conn.publish("bulk", enc(String(i)))));
    const seqs = acks.map((a) => a.seq).sort((a, b) => a - b);
    expect(seqs).toEqual(Array.from({ length: 2000 }, (_, i) => i + 1));
  });

  it("gives each of many subscribers every event of its topics, in each publisher's order", async () => {
    const ns = uniqueNamespace();
    const topics = ["alpha", "beta", "gamma"];
    const publishers = await Promise.all([0, 1, 2].map(() => nats.open(ns)));
    const subscribers = await Promise.all([0, 1, 2, 3].map(() => nats.open(ns)));
    const perEvent = 150;
    // received[subscriber][topic] = events in arrival order
    const received = subscribers.map(() => new Map<string, string[]>(topics.map((t) => [t, []])));
    await Promise.all(
      subscribers.flatMap((conn, s) =>
        topics.map((topic) =>
          conn.subscribe(
            topic,
            (event) => {
              received[s]?.get(topic)?.push(dec(event));
            },
            { eventThreads: 1 },
          ),
        ),
      ),
    );
    await Promise.all(
      publishers.flatMap((conn, p) =>
        topics.map(async (topic) => {
          const inFlight = [];
          for (let i = 0; i < perEvent; i++) inFlight.push(conn.publish(topic, enc(`${p}:${i}`)));
          await Promise.all(inFlight);
        }),
      ),
    );
    const total = publishers.length * perEvent;
    await waitFor("every subscriber has every event", () =>
      received.every((m) => topics.every((t) => m.get(t)?.length === total)),
    );
    await sleep(100);
    for (const byTopic of received) {
      for (const topic of topics) {
        const events = byTopic.get(topic) ?? [];
        expect(events).toHaveLength(total);
        expect(new Set(events).size).toBe(total);
        for (let p = 0; p < publishers.length; p++) {
          const mine = events.filter((e) => e.startsWith(`${p}:`)).map((e) => Number(e.split(":")[1]));
          expect(mine).toEqual(Array.from({ length: perEvent }, (_, i) => i));
        }
      }
    }
  });

  it("accepts sync and async handlers and Iris's handleEvent objects", async () => {
    const conn = await nats.open(uniqueNamespace());
    const got: string[] = [];
    await conn.subscribe("a", async (e) => {
      await sleep(1);
      got.push(`async:${dec(e)}`);
    });
    await conn.subscribe("b", {
      handleEvent(e) {
        got.push(`object:${dec(e)}`);
      },
    });
    await conn.publish("a", enc("1"));
    await conn.publish("b", enc("2"));
    await waitFor("both", () => got.length === 2);
    expect(got.sort()).toEqual(["async:1", "object:2"]);
  });

  it("logs and counts a handler that throws, and keeps delivering", async () => {
    const conn = await nats.open(uniqueNamespace());
    const got: number[] = [];
    const sub = await conn.subscribe(
      "flaky",
      async (e) => {
        const n = Number(dec(e));
        if (n % 2 === 0) throw new Error(`even ${n}`);
        got.push(n);
      },
      { eventThreads: 1 },
    );
    for (let i = 0; i < 10; i++) await conn.publish("flaky", enc(String(i)));
    await waitFor("all handled", () => sub.stats().events === 10);
    expect(got).toEqual([1, 3, 5, 7, 9]);
    expect(sub.stats().errors).toBe(5);
  });

  it("refuses a second subscription to a topic on one connection, and unsubscribing a topic not subscribed", async () => {
    const conn = await nats.open(uniqueNamespace());
    await conn.subscribe("once", () => {});
    await expect(conn.subscribe("once", () => {})).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(conn.unsubscribe("never")).rejects.toBeInstanceOf(InvalidArgumentError);
    await conn.unsubscribe("once");
    await expect(conn.unsubscribe("once")).rejects.toBeInstanceOf(InvalidArgumentError);
    // once unsubscribed, the topic may be subscribed again
    const again = await conn.subscribe("once", () => {});
    expect(again.topic).toBe("once");
  });

  it("hands no event to the handler after unsubscribe, by topic or by Subscription", async () => {
    const conn = await nats.open(uniqueNamespace());
    let byTopic = 0;
    let bySub = 0;
    await conn.subscribe("x", () => {
      byTopic++;
    });
    const sub = await conn.subscribe("y", () => {
      bySub++;
    });
    await conn.publish("x", enc("1"));
    await conn.publish("y", enc("1"));
    await waitFor("first events", () => byTopic === 1 && bySub === 1);
    await conn.unsubscribe("x");
    await sub.unsubscribe();
    await sub.unsubscribe(); // idempotent
    for (let i = 0; i < 20; i++) {
      await conn.publish("x", enc("more"));
      await conn.publish("y", enc("more"));
    }
    await sleep(300);
    expect(byTopic).toBe(1);
    expect(bySub).toBe(1);
  });

  it("drops events still queued at unsubscribe instead of starting them, and lets running handlers finish", async () => {
    const conn = await nats.open(uniqueNamespace());
    const release = deferred();
    const started: string[] = [];
    let finished = 0;
    const sub = await conn.subscribe(
      "q",
      async (e) => {
        started.push(dec(e));
        await release.promise;
        finished++;
      },
      { eventThreads: 1 },
    );
    for (let i = 0; i < 5; i++) await conn.publish("q", enc(String(i)));
    await waitFor("first running and the rest queued", () => started.length === 1 && sub.stats().queuedBytes > 0);
    const stopping = sub.unsubscribe();
    release.resolve();
    await stopping;
    expect(started).toEqual(["0"]);
    expect(finished).toBe(1);
  });

  it("validates publish and subscribe arguments before touching the network", async () => {
    const conn = await nats.open(uniqueNamespace());
    const out = conn.nats.stats().outMsgs;
    const bad: Array<() => Promise<unknown>> = [
      () => conn.publish("a.b", enc("x")),
      () => conn.publish("", enc("x")),
      () => conn.publish("t", "text" as unknown as Uint8Array),
      () => conn.publish("t", enc("x"), { timeout: 0 }),
      () => conn.publish("t", enc("x"), { timeout: 1.5 }),
      () => conn.publish("t", enc("x"), { tiemout: 5 } as never),
      () => conn.subscribe("a*", () => {}),
      () => conn.subscribe("t", "not a handler" as never),
      () => conn.subscribe("t", {} as never),
      () => conn.subscribe("t", () => {}, { eventThreads: 0 }),
      () => conn.subscribe("t", () => {}, { eventMemory: -1 }),
      () => conn.subscribe("t", () => {}, { eventTreads: 2 } as never),
      () => conn.subscribe("t", () => {}, { durable: "a.b" }),
      () => conn.subscribe("t", () => {}, { durable: "a", group: "b" }),
      () => conn.subscribe("t", () => {}, { maxDeliver: 3 }),
      () => conn.subscribe("t", () => {}, { durable: "d", maxDeliver: 0 }),
      () => conn.subscribe("t", () => {}, { from: { seq: 0 } }),
      () => conn.subscribe("t", () => {}, { from: { time: new Date(Number.NaN) } }),
      () => conn.subscribe("t", () => {}, { from: { seq: 1, time: 5 } as never }),
      () => conn.unsubscribe("a b"),
    ];
    for (const call of bad) await expect(call()).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(conn.nats.stats().outMsgs).toBe(out);
  });

  it("rejects an event above the server's max payload with PayloadTooLargeError before sending", async () => {
    const conn = await nats.open(uniqueNamespace());
    const max = conn.nats.info?.max_payload ?? 1024 * 1024;
    const out = conn.nats.stats().outMsgs;
    await expect(conn.publish("big", new Uint8Array(max))).rejects.toBeInstanceOf(PayloadTooLargeError);
    expect(conn.nats.stats().outMsgs).toBe(out);
    // the largest event that fits is stored
    const ack = await conn.publish("big", new Uint8Array(max - 200));
    expect(ack.seq).toBe(1);
  });

  it("rejects with the signal's reason when aborted, before or while waiting for the ack", async () => {
    const conn = await nats.open(uniqueNamespace());
    const reason = new Error("stop");
    await expect(conn.publish("t", enc("x"), { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    await conn.publish("t", enc("the stream exists now"));
    const controller = new AbortController();
    const waiting = conn.publish("t", enc("y"), { signal: controller.signal });
    controller.abort(reason); // before the ack can have arrived: it needs a turn of the event loop
    await expect(waiting).rejects.toBe(reason);
  });

  it("rejects publishes still waiting for their ack with ClosedError when the connection closes", async () => {
    const conn = await nats.open(uniqueNamespace());
    await conn.publish("t", enc("the stream exists now"));
    const waiting = Array.from({ length: 10 }, (_, i) => conn.publish("t", enc(String(i))));
    const closing = conn.close();
    for (const p of waiting) await expect(p).rejects.toBeInstanceOf(ClosedError);
    await closing;
  });

  it("rides out a dropped connection: publishes in flight are sent again and stored once, subscribers miss nothing", async () => {
    const ns = uniqueNamespace();
    const pub = await nats.open(ns, { reconnectTimeWait: 50 });
    const subConn = await nats.open(ns, { reconnectTimeWait: 50 });
    const got: number[] = [];
    await subConn.subscribe(
      "drop",
      (e) => {
        got.push(Number(dec(e)));
      },
      { eventThreads: 1 },
    );
    let reconnects = 0;
    (async () => {
      for await (const st of pub.status()) if (st.type === "reconnect") reconnects++;
    })().catch(() => {});
    const total = 600;
    const acks = [];
    for (let i = 0; i < total; i++) {
      acks.push(pub.publish("drop", enc(String(i))));
      if (i % 100 === 99) await sleep(5);
      // drop both connections once the server has these publishes but before their acks are read
      if (i === total / 2) {
        setImmediate(() => {
          void pub.nats.reconnect();
          void subConn.nats.reconnect();
        });
      }
    }
    const settled = await Promise.all(acks);
    const seqs = settled.map((a) => a.seq);
    await waitFor("the publisher reconnected", () => reconnects >= 1);
    // every event stored once: the sequences are exactly 1..total, whatever was sent twice
    expect(new Set(seqs).size).toBe(total);
    expect(Math.max(...seqs)).toBe(total);
    await waitFor("every event", () => got.length >= total);
    await sleep(200);
    // every event once, in stream order: publishes in flight at once are stored in the order
    // JetStream took them, and one sent again after the reconnect may land after later ones
    expect([...got].sort((a, b) => a - b)).toEqual(Array.from({ length: total }, (_, i) => i));
    const seqOf = (event: number) => seqs[event] as number;
    for (let i = 1; i < got.length; i++) {
      expect(seqOf(got[i] as number)).toBeGreaterThan(seqOf(got[i - 1] as number));
    }
  });

  it("rejects later calls with ClosedError once closed, and stops its subscriptions", async () => {
    const ns = uniqueNamespace();
    const conn = await nats.open(ns);
    let got = 0;
    const sub: Subscription = await conn.subscribe("c", () => {
      got++;
    });
    await conn.close();
    await expect(conn.publish("c", enc("x"))).rejects.toBeInstanceOf(ClosedError);
    await expect(conn.subscribe("d", () => {})).rejects.toBeInstanceOf(ClosedError);
    await expect(conn.unsubscribe("c")).rejects.toBeInstanceOf(ClosedError);
    const other = await nats.open(ns);
    await other.publish("c", enc("after close"));
    await sleep(200);
    expect(got).toBe(0);
    expect(sub.stats().events).toBe(0);
  });
});
