import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { decode } from "@msgpack/msgpack";
import { afterEach, describe, expect, expectTypeOf, it } from "vitest";
import {
  contract,
  InvalidArgumentError,
  NoRespondersError,
  RemoteError,
  type RequestContext,
  type StandardSchemaV1,
} from "../src/index.js";
import { dec, enc, uniqueNamespace, useNats } from "./helpers.js";

const nats = useNats();

const Order = {
  type: "object",
  properties: { id: { type: "string" }, sku: { type: "string" }, status: { enum: ["open", "cancelled"] } },
  required: ["id", "sku", "status"],
  additionalProperties: false,
} as const;

const NewOrder = {
  type: "object",
  properties: { sku: { type: "string", minLength: 1 } },
  required: ["sku"],
  additionalProperties: false,
} as const;

/** The contract test/fixtures/contract-member.mjs serves (its own copy there): json, cancel not served. */
const Orders = contract({
  name: "orders",
  codec: "json",
  methods: {
    create: { request: NewOrder, reply: Order },
    get: { request: { type: "string" }, reply: Order },
    count: { reply: { type: "integer", minimum: 0 } },
    cancel: { request: { type: "string" }, reply: Order },
  },
});

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill("SIGKILL");
});

/** Starts test/fixtures/contract-member.mjs in a process of its own, resolving once it is registered. */
async function memberProcess(ns: string): Promise<ChildProcess> {
  const script = fileURLToPath(new URL("./fixtures/contract-member.mjs", import.meta.url));
  const child = spawn(process.execPath, [script, nats.server().url, ns], { stdio: ["ignore", "pipe", "inherit"] });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`contract-member exited with ${code} before it was ready`)));
    child.stdout?.on("data", (b: Buffer) => {
      if (b.toString().includes("ready")) resolve();
    });
  });
  return child;
}

describe("typed contracts with methods", () => {
  for (const codec of ["msgpack", "json"] as const) {
    it(`calls each method by its own typed function, across two connections, with ${codec}`, async () => {
      const ns = uniqueNamespace();
      const Shop = contract({
        name: "shop",
        codec,
        methods: {
          create: { request: NewOrder, reply: Order },
          rename: { request: { type: "array", items: { type: "string" }, minItems: 2, maxItems: 2 }, reply: Order },
          count: { reply: { type: "integer" } },
          forget: { request: { type: "string" } },
        },
      });
      const member = await nats.open(ns);
      const contexts: RequestContext[] = [];
      const forgotten: string[] = [];
      let count = 0;
      const svc = await member.register(Shop, {
        methods: {
          // replies with an enum field, written without `as const`
          create(req, ctx) {
            contexts.push(ctx);
            count++;
            return { id: `o${count}`, sku: req.sku, status: "open" };
          },
          rename: async ([id, sku]) => ({ id: id ?? "", sku: sku ?? "", status: "cancelled" }),
          count: (nothing) => {
            expect(nothing).toBeUndefined();
            return count;
          },
          forget: (id) => void forgotten.push(id),
        },
      });
      const shop = (await nats.open(ns)).use(Shop);
      const created = await shop.create({ sku: "A1" });
      expectTypeOf(created).toEqualTypeOf<{ id: string; sku: string; status: "open" | "cancelled" }>();
      expect(created).toEqual({ id: "o1", sku: "A1", status: "open" });
      expect(await shop.create({ sku: "B2" }, { timeout: 2000 })).toEqual({ id: "o2", sku: "B2", status: "open" });
      expect(await shop.rename(["o1", "C3"])).toEqual({ id: "o1", sku: "C3", status: "cancelled" });
      expect(await shop.count()).toBe(2);
      expect(await shop.forget("o2")).toBeUndefined();
      expect(forgotten).toEqual(["o2"]);
      // each method is a subject of its own
      expect(contexts[0]?.method).toBe("create");
      expect(contexts[0]?.subject).toBe(`${ns}.req.shop.create`);
      expect(contexts[0]?.cluster).toBe("shop");
      expect(svc.stats().methods.create?.requests).toBe(2);
      expect(svc.stats().methods.count?.requests).toBe(1);
      // the wire format is the codec's: a byte-level caller reads the reply as such
      const raw = await (await nats.open(ns)).request("shop", new Uint8Array(0), { method: "count" });
      expect(codec === "json" ? JSON.parse(dec(raw)) : decode(raw)).toBe(2);
    });
  }

  it("serves a typed member in a process of its own: calls, its errors, its bad replies, and methods it lacks", async () => {
    const ns = uniqueNamespace();
    await memberProcess(ns);
    const orders = (await nats.open(ns)).use(Orders);
    const a = await orders.create({ sku: "A1" });
    expect(a).toEqual({ id: "create-1", sku: "A1", status: "open" });
    expect(await orders.get(a.id)).toEqual(a);
    expect(await orders.count()).toBe(1);
    // the handler's own error
    await expect(orders.get("nope")).rejects.toMatchObject({ name: "RemoteError", message: "no order nope" });
    // a reply that breaks the contract, refused by the member itself
    const bad = await orders.get("broken").catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(RemoteError);
    expect((bad as RemoteError).remoteCode).toBe("BAD_REPLY");
    expect((bad as Error).message).toMatch(
      /reply from "orders.get" does not match the contract: .*\/sku must be string/,
    );
    // a method of the contract that no member serves
    await expect(orders.cancel(a.id, { timeout: 2000 })).rejects.toBeInstanceOf(NoRespondersError);
    // a request that breaks the contract, from a byte-level caller: refused by the member
    const caller = await nats.open(ns);
    const refused = await caller
      .request("orders", enc(JSON.stringify({ sku: "" })), { method: "create" })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(RemoteError);
    expect((refused as RemoteError).remoteCode).toBe("BAD_REQUEST");
    expect((refused as Error).message).toContain('request to "orders.create" does not match the contract');
    expect((refused as Error).message).toContain("/sku must NOT have fewer than 1 characters");
    expect(await orders.count()).toBe(1);
  });

  it("refuses a request that breaks the method's schema before sending it", async () => {
    const ns = uniqueNamespace();
    const member = await nats.open(ns);
    let calls = 0;
    const bytes = () => {
      calls++;
      return enc("{}");
    };
    await member.register("orders", { methods: { create: bytes, get: bytes, count: bytes, cancel: bytes } });
    const orders = (await nats.open(ns)).use(Orders);
    const err = await orders.create({ sku: "", extra: 1 } as unknown as { sku: string }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as Error).message).toContain('request to "orders.create" does not match the contract');
    expect((err as Error).message).toContain("/sku must NOT have fewer than 1 characters");
    expect((err as Error).message).toContain("must NOT have additional properties (extra)");
    await expect(orders.get(7 as unknown as string)).rejects.toThrow(
      /request to "orders.get" does not match the contract: \/ must be string/,
    );
    // a method that takes nothing is given nothing
    await expect(orders.count(5 as unknown as undefined)).rejects.toThrow(
      /request to "orders.count" does not match the contract: the contract declares none/,
    );
    // options are the request's, but the method is the function's own
    await expect(orders.create({ sku: "A1" }, { method: "get" } as never)).rejects.toThrow(
      /options.method is not taken by a typed client/,
    );
    // a call that is sent (its reply, "{}", breaks the contract) arrives after anything sent before it
    await expect(orders.count()).rejects.toMatchObject({ remoteCode: "BAD_REPLY" });
    expect(calls).toBe(1);
  });

  it("answers BAD_REPLY for a reply that breaks the method's schema, whether the member is typed or not", async () => {
    const ns = uniqueNamespace();
    const member = await nats.open(ns);
    const svc = await member.register(Orders, {
      // the typed member checks its own replies
      methods: {
        get: (id) => ({ id, sku: "A1", status: "lost" }) as unknown as { id: string; sku: string; status: "open" },
      },
    });
    const orders = (await nats.open(ns)).use(Orders);
    const err = await orders.get("o1").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteError);
    expect((err as RemoteError).remoteCode).toBe("BAD_REPLY");
    expect((err as Error).message).toMatch(
      /reply from "orders.get" does not match the contract: \/status must be equal to one of the allowed values/,
    );
    expect(svc.stats().methods.get?.requestErrors).toBe(1);
    await svc.unregister();
    // a byte-level member: the caller checks the reply
    await member.register("orders", { methods: { get: () => enc('{"id":"o1"}') } });
    const err2 = await orders.get("o1").catch((e: unknown) => e);
    expect(err2).toBeInstanceOf(RemoteError);
    expect((err2 as RemoteError).remoteCode).toBe("BAD_REPLY");
    expect((err2 as Error).message).toContain("must have required property 'sku'");
  });

  it("answers NoRespondersError for a method no member serves, while its other methods are answered", async () => {
    const ns = uniqueNamespace();
    const member = await nats.open(ns);
    await member.register(Orders, { methods: { count: () => 0 } });
    const orders = (await nats.open(ns)).use(Orders);
    expect(await orders.count()).toBe(0);
    await expect(orders.get("o1")).rejects.toBeInstanceOf(NoRespondersError);
    // a newer contract, with a method the member does not know
    const Newer = contract({ name: "orders", codec: "json", methods: { archive: { request: { type: "string" } } } });
    await expect((await nats.open(ns)).use(Newer).archive("o1")).rejects.toBeInstanceOf(NoRespondersError);
  });

  it("serves a contract with a request, a broadcast and methods on one member", async () => {
    const ns = uniqueNamespace();
    // as z.string().transform(Number) would: callers give digits, handlers get a number
    const digits: StandardSchemaV1<string, number> = {
      "~standard": {
        version: 1,
        vendor: "test",
        validate: (v) =>
          typeof v === "string" && /^\d+$/.test(v)
            ? { value: Number(v) }
            : { issues: [{ message: "expected digits" }] },
      },
    };
    const Calc = contract({
      name: "calc",
      request: { type: "array", items: { type: "number" } },
      reply: { type: "number" },
      broadcast: { type: "string" },
      methods: {
        double: { request: digits, reply: { type: "number" } },
        negate: { request: { type: "number" }, reply: { type: "number" } },
      },
    });
    const member = await nats.open(ns);
    const seen: (string | undefined)[] = [];
    const heard: string[] = [];
    await member.register(Calc, {
      handleRequest: (xs, ctx) => {
        seen.push(ctx.method);
        return xs.reduce((a, b) => a + b, 0);
      },
      handleBroadcast: (msg) => void heard.push(msg),
      methods: {
        double: (n, ctx) => {
          expectTypeOf(n).toEqualTypeOf<number>();
          seen.push(ctx.method);
          return n * 2;
        },
        negate: (n, ctx) => {
          seen.push(ctx.method);
          return -n;
        },
      },
    });
    const calc = (await nats.open(ns)).use(Calc);
    expect(await calc.request([1, 2, 3])).toBe(6);
    expect(await calc.double("21")).toBe(42);
    expect(await calc.negate(5)).toBe(-5);
    await expect(calc.double("x1")).rejects.toThrow(
      /request to "calc.double" does not match the contract: \/ expected digits/,
    );
    await calc.broadcast("hello");
    await expect.poll(() => heard).toEqual(["hello"]);
    expect(seen).toEqual([undefined, "double", "negate"]);
    // request() is handleRequest's: a method is called by its own function
    await expect(calc.request([1], { method: "negate" } as never)).rejects.toThrow(
      /call the method by its own function/,
    );
  });

  it("refuses bad method names, specs and handlers before anything touches the network", async () => {
    for (const name of [
      "bad name",
      "a.b",
      "",
      "request",
      "broadcast",
      "cluster",
      "tunnel",
      "then",
      "constructor",
      "toString",
      "__proto__",
    ]) {
      expect(() => contract({ name: "x", methods: { [name]: { request: { type: "string" } } } }), name).toThrow(
        InvalidArgumentError,
      );
    }
    expect(() => contract({ name: "x", methods: { request: {} } as never })).toThrow(
      /contract "x": a method may not be named "request"/,
    );
    expect(() => contract({ name: "x", methods: { "a b": {} } })).toThrow(
      /contract "x": a method name must be 1-128 characters/,
    );
    expect(() => contract({ name: "x", methods: [] as never })).toThrow(/methods must be an object/);
    expect(() => contract({ name: "x", methods: { get: undefined } as never })).toThrow(
      /method "get" must be an object/,
    );
    expect(() => contract({ name: "x", methods: { get: { requets: {} } } as never })).toThrow(
      /method "get" has an unknown key "requets"/,
    );
    expect(() => contract({ name: "x", methods: { get: { request: { type: "nonsense" } } } })).toThrow(
      /the schema of the request to "x.get" is not a valid JSON Schema/,
    );
    expect(() => contract({ name: "x", methods: {} })).toThrow(/must have a request or a broadcast schema, or methods/);
    // a method that takes nothing and answers nothing is a method all the same
    expect(() => contract({ name: "x", methods: { ping: {} } })).not.toThrow();

    const conn = await nats.open(uniqueNamespace());
    await expect(conn.register(Orders, { methods: { archive: () => undefined } } as never)).rejects.toThrow(
      /contract "orders" has no method "archive" \(its methods: create, get, count, cancel\)/,
    );
    await expect(conn.register(Orders, { methods: { get: "nope" } } as never)).rejects.toThrow(
      /handler.methods.get of contract "orders" must be a function/,
    );
    await expect(conn.register(Orders, { methods: 5 } as never)).rejects.toThrow(
      /handler.methods of contract "orders" must be an object/,
    );
    await expect(conn.use(Orders).request(undefined as never)).rejects.toThrow(
      /contract "orders" has no request schema \(call its methods instead: create, get, count, cancel\)/,
    );
  });
});
