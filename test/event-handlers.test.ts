/**
 * Event handlers may return anything: `(e) => seen.push(e)` type-checks (this
 * file is typechecked with the rest by `npm run typecheck`), and a promise
 * returned is still awaited.
 */
import { describe, expect, expectTypeOf, it } from "vitest";
import type { EventContext, EventHandler, TopicHandler, TypedEventHandler } from "../src/index.js";
import { topicContract } from "../src/index.js";
import { dec, enc, uniqueNamespace, useNats, waitFor } from "./helpers.js";

const nats = useNats();

describe("event handlers", () => {
  it("are typed to return anything", () => {
    expectTypeOf<(e: Uint8Array) => number>().toExtend<EventHandler>();
    expectTypeOf<(e: Uint8Array, ctx: EventContext) => Promise<string>>().toExtend<EventHandler>();
    expectTypeOf<{ handleEvent: (e: Uint8Array) => number }>().toExtend<TopicHandler>();
    expectTypeOf<(e: { n: number }) => boolean>().toExtend<TypedEventHandler<{ n: number }>>();
  });

  it("may be `(e) => seen.push(e)`, byte-level and typed", async () => {
    const conn = await nats.open(uniqueNamespace());
    const seen: Uint8Array[] = [];
    await conn.subscribe("bytes", (e) => seen.push(e));
    const Numbers = topicContract({ name: "numbers", event: { type: "number" } as const, codec: "json" });
    const numbers: number[] = [];
    await conn.use(Numbers).subscribe((n) => numbers.push(n));
    const handled: string[] = [];
    await conn.subscribe("objects", { handleEvent: (e: Uint8Array) => handled.push(dec(e)) });
    await conn.publish("bytes", enc("a"));
    await conn.use(Numbers).publish(7);
    await conn.publish("objects", enc("b"));
    await waitFor("every event", () => seen.length === 1 && numbers.length === 1 && handled.length === 1);
    expect(dec(seen[0] as Uint8Array)).toBe("a");
    expect(numbers).toEqual([7]);
    expect(handled).toEqual(["b"]);
  });

  it("have a promise they return awaited: a rejected one is a failure, delivered again", async () => {
    const conn = await nats.open(uniqueNamespace());
    let calls = 0;
    const sub = await conn.subscribe(
      "retried",
      (e) => {
        calls++;
        return calls === 1 ? Promise.reject(new Error(`first try of ${dec(e)} fails`)) : Promise.resolve(calls);
      },
      { durable: "d", retryDelay: 0 },
    );
    await conn.publish("retried", enc("x"));
    await waitFor("the second delivery", () => calls === 2);
    expect(sub.stats().errors).toBe(1);
  });
});
