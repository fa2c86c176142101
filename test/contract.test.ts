import { encode } from "@msgpack/msgpack";
import { Type } from "@sinclair/typebox";
import { describe, expect, expectTypeOf, it } from "vitest";
import {
  type CodecName,
  contract,
  InvalidArgumentError,
  type Logger,
  RemoteError,
  type StandardSchemaV1,
  schema,
  topicContract,
} from "../src/index.js";
import { enc, uniqueNamespace, useNats, waitFor } from "./helpers.js";

const nats = useNats();

const Text = {
  type: "object",
  properties: { text: { type: "string", minLength: 1 }, times: { type: "integer", minimum: 1 } },
  required: ["text"],
  additionalProperties: false,
} as const;

const Echoed = {
  type: "object",
  properties: { text: { type: "string" }, length: { type: "integer" } },
  required: ["text", "length"],
} as const;

function echoContract(codec: CodecName) {
  return contract({ name: "echo", request: Text, reply: Echoed, broadcast: Text, codec });
}

/** A logger that keeps what it is given. */
function recorder(): Logger & { lines: { level: string; obj: Record<string, unknown>; msg: string }[] } {
  const lines: { level: string; obj: Record<string, unknown>; msg: string }[] = [];
  const at =
    (level: string) =>
    (obj: object, msg?: string): void =>
      void lines.push({ level, obj: obj as Record<string, unknown>, msg: msg ?? "" });
  return { lines, debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

describe("typed contracts", () => {
  for (const codec of ["msgpack", "json"] as const) {
    it(`round-trips requests and broadcasts with ${codec}`, async () => {
      const ns = uniqueNamespace();
      const Echo = echoContract(codec);
      const member = await nats.open(ns);
      const heard: string[] = [];
      let raw: Uint8Array | undefined;
      await member.register(Echo, {
        handleRequest: (req) => ({ text: req.text.repeat(req.times ?? 1), length: req.text.length }),
        handleBroadcast: (msg) => void heard.push(msg.text),
      });
      const caller = await nats.open(ns);
      const echo = caller.use(Echo);
      const rep = await echo.request({ text: "ab", times: 3 });
      expectTypeOf(rep).toEqualTypeOf<{ text: string; length: number; [key: string]: unknown }>();
      expect(rep).toEqual({ text: "ababab", length: 2 });
      const rep2 = await echo.request({ text: "é€😀" }, { timeout: 2000 });
      expect(rep2).toEqual({ text: "é€😀", length: 4 });
      await echo.broadcast({ text: "all" });
      await waitFor("broadcast", () => heard.length === 1);
      expect(heard).toEqual(["all"]);

      // the wire format is the codec's: a byte-level member reads it as such
      await member.register("peek", {
        handleRequest: (req) => {
          raw = new Uint8Array(req);
        },
      });
      await caller.use(contract({ name: "peek", request: Text, codec })).request({ text: "x" });
      expect(raw).toEqual(encodeWith(codec, { text: "x" }));
    });
  }

  it("refuses invalid outgoing data locally, listing the schema's complaints, and sends nothing", async () => {
    const ns = uniqueNamespace();
    const Echo = echoContract("msgpack");
    const member = await nats.open(ns);
    let calls = 0;
    await member.register("echo", {
      handleRequest: () => {
        calls++;
        return undefined;
      },
      handleBroadcast: () => void calls++,
    });
    const echo = (await nats.open(ns)).use(Echo);
    const bad = { text: "", times: 0, extra: true } as unknown as { text: string };
    const err = await echo.request(bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    const message = (err as Error).message;
    expect(message).toContain('request to "echo" does not match the contract');
    expect(message).toContain("/text must NOT have fewer than 1 characters");
    expect(message).toContain("/times must be >= 1");
    expect(message).toContain("must NOT have additional properties (extra)");
    await expect(echo.broadcast({ text: 42 } as unknown as { text: string })).rejects.toThrow(
      /broadcast to "echo" does not match the contract: \/text must be string/,
    );
    // a value the codec cannot carry is refused the same way
    await expect(echo.request({ text: "a", times: 1n } as unknown as { text: string })).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
    await new Promise((r) => setTimeout(r, 100));
    expect(calls).toBe(0);
  });

  it("answers an invalid incoming request BAD_REQUEST without calling the handler, and logs it", async () => {
    const ns = uniqueNamespace();
    const Echo = echoContract("msgpack");
    const logger = recorder();
    const member = await nats.open(ns, { logger });
    let calls = 0;
    const svc = await member.register(Echo, {
      handleRequest: (req) => {
        calls++;
        return { text: req.text, length: req.text.length };
      },
    });
    const caller = await nats.open(ns);
    // bytes that match no request of the contract, from a byte-level caller
    for (const payload of [encode({ text: 7 }), enc("\xc1 not msgpack"), encode({ text: "ok", more: 1 })]) {
      const err = await caller.request("echo", payload).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RemoteError);
      expect((err as RemoteError).remoteCode).toBe("BAD_REQUEST");
      expect((err as Error).message).toMatch(/request to "echo" does not match the contract: /);
    }
    expect(calls).toBe(0);
    expect(svc.stats().malformed).toBe(3);
    const warned = logger.lines.filter((l) => l.level === "warn");
    expect(warned).toHaveLength(3);
    expect(warned[0]?.obj).toMatchObject({ cluster: "echo", subject: `${ns}.req.echo` });
    expect(String(warned[0]?.obj.err)).toContain("/text must be string");
    // the member goes on serving
    expect(await caller.use(Echo).request({ text: "fine" })).toEqual({ text: "fine", length: 4 });
  });

  it("turns a reply that breaks the contract into BAD_REPLY at the caller, on either side", async () => {
    const ns = uniqueNamespace();
    const Echo = echoContract("json");
    const logger = recorder();
    const member = await nats.open(ns, { logger });
    const svc = await member.register(Echo, {
      // the member checks its own replies
      handleRequest: () => ({ text: 5 }) as unknown as { text: string; length: number },
    });
    const caller = await nats.open(ns);
    const err = await caller
      .use(Echo)
      .request({ text: "a" })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteError);
    expect((err as RemoteError).remoteCode).toBe("BAD_REPLY");
    expect((err as Error).message).toMatch(/reply from "echo" does not match the contract: .*\/text must be string/);
    expect(svc.stats().requestErrors).toBe(1);
    expect(logger.lines.some((l) => l.level === "warn" && l.obj.cluster === "echo")).toBe(true);
    await svc.unregister();

    // a member that is not typed (or runs another version): the caller checks the reply
    await member.register("echo", { handleRequest: () => enc('{"text":"x"}') });
    const err2 = await caller
      .use(Echo)
      .request({ text: "a" })
      .catch((e: unknown) => e);
    expect(err2).toBeInstanceOf(RemoteError);
    expect((err2 as RemoteError).remoteCode).toBe("BAD_REPLY");
    expect((err2 as Error).message).toContain("must have required property 'length'");
  });

  it("drops and counts a broadcast that breaks the contract", async () => {
    const ns = uniqueNamespace();
    const Echo = echoContract("msgpack");
    const member = await nats.open(ns);
    const heard: string[] = [];
    const svc = await member.register(Echo, { handleBroadcast: (m) => void heard.push(m.text) });
    const sender = await nats.open(ns);
    await sender.broadcast("echo", encode({ nope: 1 }));
    await sender.use(Echo).broadcast({ text: "good" });
    await waitFor("good broadcast", () => heard.length === 1);
    await waitFor("malformed count", () => svc.stats().malformed === 1);
    expect(heard).toEqual(["good"]);
    expect(svc.stats().broadcastErrors).toBe(0);
  });

  it("publishes and subscribes typed events; an event that breaks the contract is never handed over", async () => {
    const ns = uniqueNamespace();
    const Orders = topicContract({
      name: "orders",
      event: {
        type: "object",
        properties: { id: { type: "string" }, qty: { type: "integer", minimum: 1 } },
        required: ["id", "qty"],
      } as const,
    });
    const conn = await nats.open(ns);
    const got: { id: string; qty: number }[] = [];
    const orders = conn.use(Orders);
    const sub = await orders.subscribe((o, ctx) => {
      expectTypeOf(o.qty).toEqualTypeOf<number>();
      expect(ctx.topic).toBe("orders");
      got.push({ id: o.id, qty: o.qty });
    });
    // a durable subscriber gives a bad event up at once, with its bytes
    const dead: Uint8Array[] = [];
    const durableGot: string[] = [];
    const other = await nats.open(ns);
    const durable = await other
      .use(Orders)
      .subscribe(
        { handleEvent: (o) => void durableGot.push(o.id) },
        { durable: "billing", maxDeliver: 5, retryDelay: 10, onDeadLetter: (bytes) => void dead.push(bytes) },
      );
    await expect(orders.publish({ id: "x", qty: 0 })).rejects.toBeInstanceOf(InvalidArgumentError);
    await orders.publish({ id: "A1", qty: 2 });
    await conn.publish("orders", encode({ id: "B2" }));
    await orders.publish({ id: "C3", qty: 1 });
    await waitFor("two good events", () => got.length === 2 && durableGot.length === 2);
    expect(got).toEqual([
      { id: "A1", qty: 2 },
      { id: "C3", qty: 1 },
    ]);
    expect(durableGot).toEqual(["A1", "C3"]);
    await waitFor("bad event counted", () => sub.stats().malformed === 1);
    await waitFor("dead letter", () => dead.length === 1);
    expect(new Uint8Array(dead[0] ?? [])).toEqual(encode({ id: "B2" }));
    expect(durable.stats().deadLetters).toBe(1);
    expect(durable.stats().events).toBe(3);
  });

  it("takes TypeBox schemas, Standard Schemas and explicitly typed JSON Schemas", async () => {
    const ns = uniqueNamespace();
    const Sum = contract({
      name: "sum",
      request: Type.Object({ a: Type.Number(), b: Type.Number() }),
      reply: Type.Number(),
    });
    // a minimal Standard Schema, as Zod or Valibot would give (it trims, so its output differs from its input)
    const trimmed: StandardSchemaV1<string, string> = {
      "~standard": {
        version: 1,
        vendor: "test",
        validate: (v) =>
          typeof v === "string" ? { value: v.trim() } : { issues: [{ message: "expected a string", path: [] }] },
      },
    };
    const Trim = contract({ name: "trim", request: trimmed, reply: trimmed });
    interface Point {
      x: number;
      y: number;
    }
    const Mirror = contract({
      name: "mirror",
      request: schema<Point>({ type: "object", required: ["x", "y"] }),
      reply: schema<Point>({ type: "object", required: ["x", "y"] }),
      codec: "json",
    });
    const member = await nats.open(ns);
    await member.register(Sum, { handleRequest: ({ a, b }) => a + b });
    await member.register(Trim, { handleRequest: (s) => `[${s}]  ` });
    await member.register(Mirror, { handleRequest: (p) => ({ x: p.y, y: p.x }) });
    const caller = await nats.open(ns);
    const sum = await caller.use(Sum).request({ a: 2, b: 3 });
    expectTypeOf(sum).toEqualTypeOf<number>();
    expect(sum).toBe(5);
    expect(await caller.use(Trim).request("  hi ")).toBe("[hi]");
    await expect(caller.use(Trim).request(5 as unknown as string)).rejects.toThrow(/\/ expected a string/);
    const p = await caller.use(Mirror).request({ x: 1, y: 2 });
    expectTypeOf(p).toEqualTypeOf<Point>();
    expect(p).toEqual({ x: 2, y: 1 });
    await expect(caller.use(Sum).request({ a: 1 } as unknown as { a: number; b: number })).rejects.toThrow(
      /must have required property 'b'/,
    );
  });

  it("checks a transforming Standard Schema at both ends: callers give its input, handlers get its output", async () => {
    const ns = uniqueNamespace();
    // as z.string().transform(Number) would: input string, output number
    const numeric: StandardSchemaV1<string, number> = {
      "~standard": {
        version: 1,
        vendor: "test",
        validate: (v) =>
          typeof v === "string" && /^\d+$/.test(v)
            ? { value: Number(v) }
            : { issues: [{ message: "expected digits", path: [{ key: "n" }] }] },
      },
    };
    const Double = contract({ name: "double", request: numeric, reply: { type: "number" } as const });
    const member = await nats.open(ns);
    const seen: unknown[] = [];
    await member.register(Double, {
      handleRequest: (n) => {
        expectTypeOf(n).toEqualTypeOf<number>();
        seen.push(n);
        return n * 2;
      },
    });
    const client = (await nats.open(ns)).use(Double);
    expectTypeOf<Parameters<typeof client.request>[0]>().toEqualTypeOf<string>();
    expect(await client.request("21")).toBe(42);
    expect(seen).toEqual([21]);
    await expect(client.request("x1")).rejects.toThrow(/\/n expected digits/);
  });

  it("carries JSON values only: undefined members are left out, NaN and Dates are refused before sending", async () => {
    const ns = uniqueNamespace();
    const Echo = echoContract("msgpack");
    const member = await nats.open(ns);
    await member.register(Echo, { handleRequest: (r) => ({ text: r.text, length: Object.keys(r).length }) });
    const echo = (await nats.open(ns)).use(Echo);
    // `times: undefined` is not sent, so the member's schema (no additional properties, times >= 1) accepts it
    expect(await echo.request({ text: "a", times: undefined })).toEqual({ text: "a", length: 1 });
    const Num = contract({ name: "num", request: { type: "number" } as const, codec: "json" });
    for (const n of [Number.NaN, Number.POSITIVE_INFINITY]) {
      await expect((await nats.open(ns)).use(Num).request(n)).rejects.toThrow(/\/ must be number/);
    }
    const Stamp = contract({ name: "stamp", request: { type: "object" } as const });
    await expect((await nats.open(ns)).use(Stamp).request({ at: new Date() })).rejects.toThrow(
      /cannot be encoded as msgpack: a Date is not a JSON value/,
    );
    // a msgpack timestamp from a byte-level sender is refused by the member
    let calls = 0;
    await member.register(Stamp, {
      handleRequest: () => {
        calls++;
      },
    });
    const timestamp = Uint8Array.from([0x81, 0xa2, 0x61, 0x74, 0xd6, 0xff, 0, 0, 0, 1]);
    await expect((await nats.open(ns)).request("stamp", timestamp)).rejects.toMatchObject({
      remoteCode: "BAD_REQUEST",
      message: expect.stringMatching(/msgpack extension type -1 is not a JSON value/),
    });
    expect(calls).toBe(0);
  });

  it("takes schemas with an $id more than once, and draft 2019-09 and 2020-12 schemas", async () => {
    const withId = () => ({ $id: "https://example.com/text.json", type: "string" }) as const;
    expect(() => contract({ name: "a", request: withId() })).not.toThrow();
    expect(() => contract({ name: "b", request: withId() })).not.toThrow();
    const ns = uniqueNamespace();
    const member = await nats.open(ns);
    const caller = await nats.open(ns);
    for (const draft of ["2019-09", "2020-12"]) {
      const C = contract({
        name: `d${draft.slice(0, 4)}`,
        request: {
          $schema: `https://json-schema.org/draft/${draft}/schema`,
          type: "array",
          prefixItems: [{ type: "string" }],
          minItems: 1,
        } as const,
        reply: { type: "integer" } as const,
        codec: "json",
      });
      await member.register(C, { handleRequest: (a) => (a as unknown[]).length });
      expect(await caller.use(C).request(["x", 1])).toBe(2);
      await expect(caller.use(C).request([])).rejects.toThrow(/must NOT have fewer than 1 items/);
    }
  });

  it("rejects bad contracts and bad use before anything touches the network", async () => {
    expect(() => contract({ name: "bad name", request: Text })).toThrow(InvalidArgumentError);
    expect(() => contract({ name: "x" })).toThrow(/must have a request or a broadcast schema/);
    expect(() => contract({ name: "x", request: Text, codec: "xml" as CodecName })).toThrow(/codec must be/);
    expect(() => contract({ name: "x", request: { type: "nonsense" } })).toThrow(/not a valid JSON Schema/);
    expect(() => contract({ name: "x", request: Text, extra: 1 } as never)).toThrow(/unknown key "extra"/);
    expect(() => topicContract({ name: "t" } as never)).toThrow(/must have an event schema/);
    const ns = uniqueNamespace();
    const conn = await nats.open(ns);
    const OnlyBroadcast = contract({ name: "b", broadcast: Text });
    await expect(conn.register(OnlyBroadcast, { handleRequest: () => undefined } as never)).rejects.toThrow(
      /has no request schema/,
    );
    await expect(conn.use(OnlyBroadcast).request(undefined as never)).rejects.toThrow(/has no request schema/);
    const NoReply = contract({ name: "noreply", request: Text });
    // @ts-expect-error: the contract declares no reply, so a handler may not return one
    await conn.register(NoReply, { handleRequest: () => 42 });
    expectTypeOf(conn.use(NoReply).request).returns.toEqualTypeOf<Promise<void>>();
    expect(() => conn.use({ kind: "service", name: "echo", codec: "json" } as never)).toThrow(
      /takes a contract made by contract\(\)/,
    );
    await expect(conn.use(echoContract("json")).request({ text: "x" })).rejects.toMatchObject({
      code: "NO_RESPONDERS",
    });
  });
});

function encodeWith(codec: CodecName, value: unknown): Uint8Array {
  return codec === "json" ? enc(JSON.stringify(value)) : encode(value);
}
