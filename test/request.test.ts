import { describe, expect, it } from "vitest";
import {
  ClosedError,
  InvalidArgumentError,
  NoRespondersError,
  PayloadTooLargeError,
  RemoteError,
  TimeoutError,
} from "../src/index.js";
import { dec, deferred, enc, uniqueNamespace, useNats } from "./helpers.js";

const nats = useNats();

describe("request", () => {
  it("echoes across many clients and many members, spreading load over the members", async () => {
    const ns = uniqueNamespace();
    const perMember = new Map<string, number>();
    const members = await Promise.all(
      Array.from({ length: 3 }, async (_, i) => {
        const conn = await nats.open(ns);
        return conn.register("echo", {
          handleRequest: (req) => {
            perMember.set(`m${i}`, (perMember.get(`m${i}`) ?? 0) + 1);
            return req;
          },
        });
      }),
    );
    const clients = await Promise.all(Array.from({ length: 4 }, () => nats.open(ns)));
    const results = await Promise.all(
      clients.flatMap((c, ci) =>
        Array.from({ length: 150 }, async (_, i) => {
          const text = `client ${ci} request ${i}`;
          return [text, dec(await c.request("echo", enc(text)))] as const;
        }),
      ),
    );
    for (const [sent, got] of results) expect(got).toBe(sent);
    expect(results).toHaveLength(600);
    expect([...perMember.values()].reduce((a, b) => a + b, 0)).toBe(600);
    expect(perMember.size).toBe(3);
    expect(members.reduce((n, m) => n + m.stats().requests, 0)).toBe(600);
  });

  it("carries binary payloads byte-exact, including empty ones", async () => {
    const ns = uniqueNamespace();
    const conn = await nats.open(ns);
    await conn.register("bin", { handleRequest: (req) => req });
    const payload = new Uint8Array(64 * 1024).map((_, i) => (i * 31) & 0xff);
    expect(await conn.request("bin", payload)).toEqual(payload);
    expect((await conn.request("bin", new Uint8Array(0))).byteLength).toBe(0);
  });

  it("replies with empty bytes when the handler returns nothing, and awaits async handlers", async () => {
    const ns = uniqueNamespace();
    const conn = await nats.open(ns);
    await conn.register("void", { handleRequest: () => {} });
    await conn.register("slow", {
      handleRequest: async (req) => {
        await new Promise((r) => setTimeout(r, 20));
        return enc(`late ${dec(req)}`);
      },
    });
    expect((await conn.request("void", enc("x"))).byteLength).toBe(0);
    expect(dec(await conn.request("slow", enc("x")))).toBe("late x");
  });

  it("rejects with NoRespondersError at once when no member is registered", async () => {
    const conn = await nats.open(uniqueNamespace());
    const started = Date.now();
    await expect(conn.request("nobody", enc("x"), { timeout: 5000 })).rejects.toBeInstanceOf(NoRespondersError);
    expect(Date.now() - started).toBeLessThan(2500);
  });

  it("rejects with RemoteError carrying the handler's message and code", async () => {
    const ns = uniqueNamespace();
    const conn = await nats.open(ns);
    await conn.register("fails", {
      handleRequest: (req) => {
        const text = dec(req);
        if (text === "plain") throw new Error("it broke");
        if (text === "async") return Promise.reject(Object.assign(new Error("async broke"), { code: "E_ASYNC" }));
        throw Object.assign(new Error("not found\r\nat all"), { code: "E_NOT_FOUND" });
      },
    });
    const plain = await conn.request("fails", enc("plain")).catch((e: unknown) => e);
    expect(plain).toBeInstanceOf(RemoteError);
    expect((plain as RemoteError).message).toBe("it broke");
    expect((plain as RemoteError).code).toBe("REMOTE");
    expect((plain as RemoteError).remoteCode).toBe("500");
    const coded = (await conn.request("fails", enc("coded")).catch((e: unknown) => e)) as RemoteError;
    expect(coded).toBeInstanceOf(RemoteError);
    expect(coded.remoteCode).toBe("E_NOT_FOUND");
    expect(coded.message).toBe("not found at all");
    const asyncErr = (await conn.request("fails", enc("async")).catch((e: unknown) => e)) as RemoteError;
    expect(asyncErr.remoteCode).toBe("E_ASYNC");
    expect(asyncErr.message).toBe("async broke");
  });

  it("gives the caller a RemoteError coded BAD_REPLY when the handler returns something that is not bytes", async () => {
    const ns = uniqueNamespace();
    const conn = await nats.open(ns);
    const svc = await conn.register("wrong", { handleRequest: () => "a string" as unknown as Uint8Array });
    const err = (await conn.request("wrong", enc("x")).catch((e: unknown) => e)) as RemoteError;
    expect(err).toBeInstanceOf(RemoteError);
    expect(err.remoteCode).toBe("BAD_REPLY");
    expect(err.message).toMatch(/not a Uint8Array/);
    expect(svc.stats().requestErrors).toBe(1);
  });

  it("gives the caller a RemoteError when the reply exceeds the server's max payload", async () => {
    const ns = uniqueNamespace();
    const conn = await nats.open(ns);
    const max = conn.nats.info?.max_payload ?? 1024 * 1024;
    await conn.register("big", { handleRequest: () => new Uint8Array(max + 1) });
    const err = (await conn.request("big", enc("x")).catch((e: unknown) => e)) as RemoteError;
    expect(err).toBeInstanceOf(RemoteError);
    expect(err.remoteCode).toBe("REPLY_TOO_LARGE");
    expect(err.message).toMatch(/max payload/);
  });

  it("rejects with TimeoutError when the member does not answer in time", async () => {
    const ns = uniqueNamespace();
    const conn = await nats.open(ns);
    const release = deferred();
    await conn.register("stuck", { handleRequest: () => release.promise.then(() => enc("late")) });
    const started = Date.now();
    const err = await conn.request("stuck", enc("x"), { timeout: 200 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as TimeoutError).code).toBe("TIMEOUT");
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    release.resolve();
  });

  it("times out each request on its own time-out when many different ones are in flight", async () => {
    const ns = uniqueNamespace();
    const conn = await nats.open(ns);
    await conn.register("delay", {
      handleRequest: async (req) => {
        await new Promise((r) => setTimeout(r, Number(dec(req))));
        return req;
      },
    });
    const started = Date.now();
    const outcome = async (delay: number, timeout: number) => {
      try {
        await conn.request("delay", enc(String(delay)), { timeout });
        return { delay, timeout, result: "ok", at: Date.now() - started };
      } catch (err) {
        return { delay, timeout, result: (err as TimeoutError).code, at: Date.now() - started };
      }
    };
    const results = await Promise.all([
      outcome(1500, 10_000),
      outcome(1500, 150),
      outcome(10, 5000),
      outcome(1500, 400),
      outcome(10, 3000),
    ]);
    expect(results.map((r) => r.result)).toEqual(["ok", "TIMEOUT", "ok", "TIMEOUT", "ok"]);
    const [, short, , medium] = results;
    expect(short?.at).toBeGreaterThanOrEqual(140);
    expect(short?.at).toBeLessThan(1400);
    expect(medium?.at).toBeGreaterThanOrEqual(390);
    expect(medium?.at).toBeLessThan(1400);
    expect(medium?.at).toBeGreaterThan(short?.at ?? 0);
  });

  it("uses the connection's default time-out when none is given", async () => {
    const ns = uniqueNamespace();
    const conn = await nats.open(ns, { timeout: 150 });
    await conn.register("stuck", { handleRequest: () => new Promise<Uint8Array>(() => {}) });
    await expect(conn.request("stuck", enc("x"))).rejects.toBeInstanceOf(TimeoutError);
  });

  it("gives the handler the caller's remaining time and a signal that aborts at the deadline", async () => {
    const ns = uniqueNamespace();
    const conn = await nats.open(ns);
    const seen = deferred<{ remaining: number; deadline: number; aborted: boolean; reason: unknown }>();
    // The member's deadline and the caller's are the same instant seen from two
    // timers; the handler holds its reply until the caller has given up, so the
    // caller's outcome does not depend on which timer fires first.
    const release = deferred<void>();
    await conn.register("ctx", {
      handleRequest: async (_req, ctx) => {
        const remaining = ctx.remaining();
        await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve));
        seen.resolve({ remaining, deadline: ctx.deadline, aborted: ctx.signal.aborted, reason: ctx.signal.reason });
        await release.promise;
        return undefined;
      },
    });
    await expect(conn.request("ctx", enc("x"), { timeout: 300 })).rejects.toBeInstanceOf(TimeoutError);
    release.resolve();
    const got = await seen.promise;
    expect(got.remaining).toBeGreaterThan(0);
    expect(got.remaining).toBeLessThanOrEqual(300);
    expect(Number.isFinite(got.deadline)).toBe(true);
    expect(got.aborted).toBe(true);
  });

  it("rejects with PayloadTooLargeError before sending when the payload exceeds the max payload", async () => {
    const conn = await nats.open(uniqueNamespace());
    const max = conn.nats.info?.max_payload ?? 1024 * 1024;
    const before = conn.nats.stats().outMsgs;
    await expect(conn.request("echo", new Uint8Array(max + 1))).rejects.toBeInstanceOf(PayloadTooLargeError);
    expect(conn.nats.stats().outMsgs).toBe(before);
  });

  it("rejects with the signal's reason when aborted, before or while waiting", async () => {
    const ns = uniqueNamespace();
    const conn = await nats.open(ns);
    await conn.register("stuck", { handleRequest: () => new Promise<Uint8Array>(() => {}) });
    const pre = AbortSignal.abort(new Error("gave up early"));
    await expect(conn.request("stuck", enc("x"), { signal: pre })).rejects.toThrow("gave up early");
    const ctl = new AbortController();
    const pending = conn.request("stuck", enc("x"), { signal: ctl.signal, timeout: 10_000 });
    setTimeout(() => ctl.abort(new Error("user cancelled")), 50);
    await expect(pending).rejects.toThrow("user cancelled");
  });

  it("rejects pending requests with ClosedError promptly when the connection closes", async () => {
    const ns = uniqueNamespace();
    const member = await nats.open(ns);
    await member.register("stuck", { handleRequest: () => new Promise<Uint8Array>(() => {}) });
    const conn = await nats.open(ns);
    const pending = Array.from({ length: 10 }, () =>
      conn.request("stuck", enc("x"), { timeout: 20_000 }).catch((e: unknown) => e),
    );
    await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    await conn.close();
    const errors = await Promise.all(pending);
    expect(Date.now() - started).toBeLessThan(5000);
    for (const err of errors) expect(err).toBeInstanceOf(ClosedError);
    await expect(conn.request("stuck", enc("x"))).rejects.toBeInstanceOf(ClosedError);
  });

  it("validates its arguments before touching the network", async () => {
    const conn = await nats.open(uniqueNamespace());
    const before = conn.nats.stats().outMsgs;
    const bad: Array<[unknown, unknown, unknown]> = [
      ["", enc("x"), undefined],
      ["a.b", enc("x"), undefined],
      ["a*", enc("x"), undefined],
      [">", enc("x"), undefined],
      ["has space", enc("x"), undefined],
      [42, enc("x"), undefined],
      ["x".repeat(129), enc("x"), undefined],
      ["ok", "not bytes", undefined],
      ["ok", [1, 2], undefined],
      ["ok", enc("x"), { timeout: 0 }],
      ["ok", enc("x"), { timeout: 0.5 }],
      ["ok", enc("x"), { timeout: -1 }],
      ["ok", enc("x"), { timeout: "1000" }],
      ["ok", enc("x"), { timeuot: 1000 }],
      ["ok", enc("x"), { signal: "nope" }],
      ["ok", enc("x"), "options"],
    ];
    for (const [cluster, payload, options] of bad) {
      const call = (conn.request as (...a: unknown[]) => Promise<Uint8Array>)(cluster, payload, options);
      await expect(call, `request(${String(cluster)}, ..., ${JSON.stringify(options)})`).rejects.toBeInstanceOf(
        InvalidArgumentError,
      );
    }
    await expect(conn.request("ok", enc("x"), { timeout: 0.5 })).rejects.toThrow(/timeout must be an integer >= 1 ms/);
    await expect(conn.request("a.b", enc("x"))).rejects.toThrow(/cluster/);
    expect(conn.nats.stats().outMsgs).toBe(before);
  });
});
