/**
 * Type-level tests of typed contracts, checked by `npm run typecheck` (never
 * run): what must compile, with the types it must have, and, marked
 * `@ts-expect-error`, what must not.
 */
import { expectTypeOf } from "vitest";
import type { ContractHandlerOf, ServiceClientOf } from "../src/api/contract.js";
import {
  type Connection,
  contract,
  register,
  type ServiceContract,
  type StandardSchemaV1,
  topicContract,
} from "../src/index.js";

declare const conn: Connection;
declare const url: string;

const Sku = { type: "object", properties: { sku: { type: "string" } }, required: ["sku"] } as const;
const Status = {
  type: "object",
  properties: { status: { enum: ["ok", "fail"] }, version: { const: 1 } },
  required: ["status"],
  additionalProperties: false,
} as const;

const Orders = contract({
  name: "orders",
  methods: {
    create: { request: Sku, reply: { type: "object", properties: { id: { type: "string" } }, required: ["id"] } },
    cancel: { request: { type: "string" }, reply: Status },
    count: { reply: { type: "integer" } },
    forget: { request: { type: "string" } },
  },
});

export async function typedMethodsAtTheCaller(): Promise<void> {
  const orders = conn.use(Orders);
  expectTypeOf(orders.cluster).toEqualTypeOf<string>();
  const created = await orders.create({ sku: "A1" });
  expectTypeOf(created).toEqualTypeOf<{ id: string; [key: string]: unknown }>();
  expectTypeOf(orders.create).parameter(0).toEqualTypeOf<{ sku: string; [key: string]: unknown }>();
  const cancelled = await orders.cancel("A1", { timeout: 500, retry: 2 });
  expectTypeOf(cancelled).toEqualTypeOf<{ status: "ok" | "fail"; version?: 1 | undefined }>();
  // a method without a request schema takes nothing; one without a reply schema resolves with nothing
  expectTypeOf(await orders.count()).toEqualTypeOf<number>();
  expectTypeOf(await orders.forget("A1")).toEqualTypeOf<void>();
  // @ts-expect-error: the request does not match the method's schema
  await orders.create({ sku: 1 });
  // @ts-expect-error: cancel takes a string
  await orders.cancel({ sku: "A1" });
  // @ts-expect-error: the method is the function's own
  await orders.create({ sku: "A1" }, { method: "cancel" });
  // @ts-expect-error: the contract has no such method
  await orders.delete({ sku: "A1" });
  // @ts-expect-error: a contract with methods only has no request schema
  await orders.request({ sku: "A1" });
}

export async function typedMethodsAtTheMember(): Promise<void> {
  await conn.register(Orders, {
    methods: {
      create(req, ctx) {
        expectTypeOf(req.sku).toEqualTypeOf<string>();
        expectTypeOf(ctx.method).toEqualTypeOf<string | undefined>();
        return { id: `o-${req.sku}` };
      },
      // an enum and a const field, returned without `as const`
      cancel: async (id) => (id === "" ? { status: "fail" } : { status: "ok", version: 1 }),
      count: (nothing) => {
        expectTypeOf(nothing).toEqualTypeOf<undefined>();
        return 3;
      },
    },
  });
  // a member may serve some methods only
  await register(url, Orders, { methods: { count: () => 0 } });
  // @ts-expect-error: the reply does not match the method's schema
  await conn.register(Orders, { methods: { create: () => ({ id: 5 }) } });
  // @ts-expect-error: "maybe" is not in the enum
  await conn.register(Orders, { methods: { cancel: () => ({ status: "maybe" }) } });
  // @ts-expect-error: the contract has no such method
  await conn.register(Orders, { methods: { delete: () => undefined } });
  // @ts-expect-error: forget declares no reply, so its handler may not return one
  await conn.register(Orders, { methods: { forget: () => 42 } });
}

export async function literalRepliesNeedNoAsConst(): Promise<void> {
  const Health = contract({ name: "health", request: { type: "string" }, reply: Status });
  const Flag = contract({ name: "flag", request: { type: "string" }, reply: { enum: ["on", "off"] } });
  await conn.register(Health, { handleRequest: () => ({ status: "ok" }) });
  await conn.register(Health, { handleRequest: (req) => ({ status: req === "" ? "fail" : "ok", version: 1 }) });
  await conn.register(Health, { handleRequest: async () => ({ status: "ok" }) });
  await conn.register(Health, {
    handleRequest(req) {
      if (req === "") return { status: "fail" };
      return { status: "ok" };
    },
  });
  await conn.register(Flag, { handleRequest: () => "on" });
  await register(url, Health, { handleRequest: () => ({ status: "ok" }) });
  await register(url, Flag, { handleRequest: (req) => (req === "" ? "off" : "on") }, { requestThreads: 2 });
  // (an async handler returning a bare literal widens it: TypeScript widens the literal an async
  // function returns when its contextual type is `T | Promise<T>`, whatever jetmesh declares)
  await conn.register(Flag, { handleRequest: async (): Promise<"on"> => "on" });
  // @ts-expect-error: "maybe" is not in the enum
  await conn.register(Health, { handleRequest: () => ({ status: "maybe" }) });
  // @ts-expect-error: the const is 1
  await register(url, Health, { handleRequest: () => ({ status: "ok", version: 2 }) });
  // @ts-expect-error: status is required
  await conn.register(Health, { handleRequest: () => ({ version: 1 }) });
}

export async function mixedContracts(): Promise<void> {
  const Shop = contract({
    name: "shop",
    request: { type: "string" },
    reply: { type: "integer" },
    broadcast: { type: "boolean" },
    methods: { price: { request: Sku, reply: { type: "number" } } },
  });
  const shop = conn.use(Shop);
  expectTypeOf(await shop.request("x")).toEqualTypeOf<number>();
  expectTypeOf(await shop.price({ sku: "A1" })).toEqualTypeOf<number>();
  expectTypeOf(shop.broadcast).parameter(0).toEqualTypeOf<boolean>();
  // @ts-expect-error: request() takes no method: each has its own function
  await shop.request("x", { method: "price" });
  await conn.register(Shop, {
    handleRequest: (req) => req.length,
    handleBroadcast: (flag) => {
      expectTypeOf(flag).toEqualTypeOf<boolean>();
    },
    methods: { price: (req) => req.sku.length * 1.5 },
  });
  const handler: ContractHandlerOf<typeof Shop> = { methods: { price: () => 1 } };
  await conn.register(Shop, handler);
  const client: ServiceClientOf<typeof Shop> = shop;
  expectTypeOf(client.price).returns.toEqualTypeOf<Promise<number>>();
}

export async function transformingSchemasInMethods(): Promise<void> {
  // as z.string().transform(Number) would: callers give a string, handlers get a number
  const numeric = {} as StandardSchemaV1<string, number>;
  const Calc = contract({ name: "calc", methods: { double: { request: numeric, reply: numeric } } });
  expectTypeOf(conn.use(Calc).double).parameter(0).toEqualTypeOf<string>();
  expectTypeOf(await conn.use(Calc).double("21")).toEqualTypeOf<number>();
  await conn.register(Calc, {
    methods: {
      double: (n) => {
        expectTypeOf(n).toEqualTypeOf<number>();
        return String(n * 2);
      },
    },
  });
}

export async function whatStaysAsItWas(): Promise<void> {
  // single-request contracts, and annotations with the six type parameters
  const Echo = contract({ name: "echo", request: { type: "string" }, reply: { type: "string" } });
  const annotated: ServiceContract<string, string, never, string, string, never> = Echo;
  const wide: ServiceContract = Orders;
  expectTypeOf(await conn.use(annotated).request("x")).toEqualTypeOf<string>();
  await conn.register(annotated, { handleRequest: (s) => s.toUpperCase() });
  expectTypeOf(conn.use(wide).request).returns.toEqualTypeOf<Promise<unknown>>();
  // @ts-expect-error: a contract without methods has no method functions
  await conn.use(Echo).create({ sku: "A1" });
  // byte-level services: the handler's bytes are typed from the byte overload
  await conn.register("bytes", {
    handleRequest: (req, ctx) => {
      expectTypeOf(req).toEqualTypeOf<Uint8Array>();
      expectTypeOf(ctx.cluster).toEqualTypeOf<string>();
      return req;
    },
    methods: { upper: (req) => req },
  });
  await register(url, "bytes", { handleRequest: (req) => req.subarray(1) });
  // topics
  const News = topicContract({ name: "news", event: { type: "string" } });
  expectTypeOf(conn.use(News).publish).parameter(0).toEqualTypeOf<string>();
}

export function reservedMethodNames(): void {
  // @ts-expect-error: a method may not hide the client's own request()
  contract({ name: "x", methods: { request: { request: { type: "string" } } } });
  // @ts-expect-error: nor take the name of a member's own tunnel endpoint
  contract({ name: "x", methods: { tunnel: {} } });
}
