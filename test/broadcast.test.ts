import { describe, expect, it } from "vitest";
import { protocolOf } from "../src/core/index.js";
import { ClosedError, InvalidArgumentError, PayloadTooLargeError } from "../src/index.js";
import { dec, enc, uniqueNamespace, useNats, waitFor } from "./helpers.js";

const nats = useNats();

describe("broadcast", () => {
  it("reaches every member of the cluster, and only that cluster", async () => {
    const ns = uniqueNamespace();
    const got: string[][] = [[], [], [], []];
    const contexts = new Set<string>();
    for (let i = 0; i < 3; i++) {
      const conn = await nats.open(ns);
      await conn.register("room", {
        handleBroadcast: (msg, ctx) => {
          contexts.add(`${ctx.cluster} ${ctx.subject}`);
          got[i]?.push(dec(msg));
        },
      });
    }
    const other = await nats.open(ns);
    await other.register("other", { handleBroadcast: (msg) => void got[3]?.push(dec(msg)) });
    const sender = await nats.open(ns);
    for (let i = 0; i < 50; i++) await sender.broadcast("room", enc(`m${i}`));
    await waitFor("every member got 50", () => got.slice(0, 3).every((g) => g.length === 50));
    const expected = Array.from({ length: 50 }, (_, i) => `m${i}`);
    for (const g of got.slice(0, 3)) expect([...g].sort()).toEqual([...expected].sort());
    expect(got[3]).toEqual([]);
    expect([...contexts]).toEqual([`room ${ns}.bcast.room`]);
  });

  it("does not reach members of the same cluster in another namespace", async () => {
    const a = await nats.open(uniqueNamespace());
    const b = await nats.open(uniqueNamespace());
    const got: string[] = [];
    await b.register("room", { handleBroadcast: (msg) => void got.push(dec(msg)) });
    await a.register("room", { handleBroadcast: () => {} });
    await a.broadcast("room", enc("hello"));
    await b.broadcast("room", enc("mine"));
    await waitFor("own message", () => got.length === 1);
    expect(got).toEqual(["mine"]);
  });

  it("resolves without error when the cluster has no member", async () => {
    const conn = await nats.open(uniqueNamespace());
    await expect(conn.broadcast("nobody", enc("x"))).resolves.toBeUndefined();
  });

  it("keeps delivering after a handler throws", async () => {
    const ns = uniqueNamespace();
    const conn = await nats.open(ns);
    const got: string[] = [];
    const svc = await conn.register("flaky", {
      handleBroadcast: (msg) => {
        if (dec(msg) === "boom") throw new Error("boom");
        got.push(dec(msg));
      },
    });
    await conn.broadcast("flaky", enc("boom"));
    await conn.broadcast("flaky", enc("after"));
    await waitFor("after", () => got.length === 1);
    expect(svc.stats().broadcastErrors).toBe(1);
    expect(svc.stats().broadcasts).toBe(2);
  });

  it("rejects bad input and oversized payloads before sending, and ClosedError after close", async () => {
    const conn = await nats.open(uniqueNamespace());
    const before = conn.nats.stats().outMsgs;
    await expect(conn.broadcast("a.b", enc("x"))).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(conn.broadcast("ok", "x" as never)).rejects.toBeInstanceOf(InvalidArgumentError);
    const max = conn.nats.info?.max_payload ?? 1024 * 1024;
    await expect(conn.broadcast("ok", new Uint8Array(max + 1))).rejects.toBeInstanceOf(PayloadTooLargeError);
    expect(conn.nats.stats().outMsgs).toBe(before);
    await conn.close();
    await expect(conn.broadcast("ok", enc("x"))).rejects.toBeInstanceOf(ClosedError);
  });

  it("sends a loop of awaited broadcasts in a few socket writes, in order with the connection's requests", async () => {
    const ns = uniqueNamespace();
    const member = await nats.open(ns);
    const seen: string[] = [];
    await member.register("log", {
      handleBroadcast: (msg) => void seen.push(dec(msg)),
      handleRequest: (msg) => {
        seen.push(dec(msg));
        return msg;
      },
    });
    const sender = await nats.open(ns);
    // the client's own flush (not public API): found, or coalescing is silently off
    expect(protocolOf(sender.nats)).toBeDefined();
    type Write = (...args: unknown[]) => unknown;
    const socket = (
      sender.nats as unknown as { protocol: { transport: { socket: { _write?: Write; _writev?: Write } } } }
    ).protocol.transport.socket;
    let writes = 0;
    for (const name of ["_write", "_writev"] as const) {
      const original = socket[name];
      if (!original) continue;
      socket[name] = function (this: unknown, ...args: unknown[]) {
        writes++;
        return original.apply(this, args);
      };
    }
    const n = 2000;
    const expected: string[] = [];
    const requests: Promise<unknown>[] = [];
    for (let i = 0; i < n; i++) {
      await sender.broadcast("log", enc(`b${i}`));
      expected.push(`b${i}`);
      if (i % 500 === 250) {
        requests.push(sender.request("log", enc(`r${i}`)));
        expected.push(`r${i}`);
      }
    }
    const written = writes;
    await Promise.all(requests);
    await waitFor("every broadcast handled", () => seen.length === expected.length);
    // one core NATS member handles in arrival order: broadcasts and requests as they were made
    expect(seen).toEqual(expected);
    // uncoalesced, each awaited broadcast is its own write (2000); flushed once a turn, a handful
    expect(written).toBeLessThan(n / 10);
  });

  it("still flushes a full buffer at once while writes are coalesced: a loop of large broadcasts is bounded", async () => {
    const ns = uniqueNamespace();
    const member = await nats.open(ns);
    let bytes = 0;
    let count = 0;
    await member.register("big", {
      handleBroadcast: (msg) => {
        bytes += msg.byteLength;
        count++;
      },
    });
    const sender = await nats.open(ns);
    const protocol = (sender.nats as unknown as { protocol: { outbound: { size(): number }; pendingLimit: number } })
      .protocol;
    const payload = new Uint8Array(64 * 1024).fill(1);
    let most = 0;
    for (let i = 0; i < 200; i++) {
      await sender.broadcast("big", payload);
      most = Math.max(most, protocol.outbound.size());
    }
    // the client's own bound (32 KiB), crossed by at most one message and its protocol line
    expect(most).toBeLessThanOrEqual(protocol.pendingLimit + payload.byteLength + 1024);
    await waitFor("every large broadcast handled", () => count === 200);
    expect(bytes).toBe(200 * payload.byteLength);
  });
});
