/**
 * Typed contracts: a service's requests, replies and broadcasts, or a topic's
 * events, described once by schemas and a codec, and checked on both sides.
 * Everything here sits on the byte-level API: a typed call is the byte call
 * with an encode and a check before it and a decode and a check after.
 * This file holds the factories, contract() and topicContract(), and isContract.
 */

import type {
  ContractSpec,
  Infer,
  InferInput,
  ServiceContract,
  TopicContract,
  TopicContractSpec,
} from "../api/index.js";
import { validateName, validateOptions } from "../config/index.js";
import { InvalidArgumentError } from "../errors/index.js";
import { CODECS, type Codec } from "./codec.js";
import { methodParts } from "./methods.js";
import { hasParts, Part, setParts } from "./parts.js";

type PartOf<S, K extends string, Missing> = S extends { readonly [P in K]: infer X } ? Infer<X> : Missing;
type PartIn<S, K extends string, Missing> = S extends { readonly [P in K]: infer X } ? InferInput<X> : Missing;

/**
 * The `MethodTypes` of each method of spec `S` (written out: the api door
 * does not export that name). A method without a request schema takes
 * nothing: handlers get `undefined`, callers give no value.
 */
type MethodsOf<S> = S extends { readonly methods: infer M }
  ? {
      -readonly [K in keyof M]: {
        request: PartOf<M[K], "request", undefined>;
        reply: PartOf<M[K], "reply", void>;
        requestIn: PartIn<M[K], "request", void>;
        replyIn: PartIn<M[K], "reply", void>;
      };
    }
  : Record<never, never>;

/**
 * Describes a service once: its cluster, the schemas of its requests, replies
 * and broadcasts, its named methods (each with a request and a reply schema
 * of its own), and the codec. Schemas are JSON Schema (write them
 * `as const` to have their types inferred, or use {@link schema}), TypeBox
 * schemas, or any Standard Schema (Zod, Valibot, ArkType). Throws
 * `InvalidArgumentError` for a bad name, method name, schema or codec.
 *
 * @example
 * ```ts
 * const Echo = contract({
 *   name: "echo",
 *   request: { type: "object", properties: { text: { type: "string" } }, required: ["text"] } as const,
 *   reply: { type: "object", properties: { text: { type: "string" } }, required: ["text"] } as const,
 * });
 * await register(url, Echo, { handleRequest: (req) => ({ text: req.text }) });
 * const rep = await conn.use(Echo).request({ text: "hi" }); // rep.text is a string
 *
 * const Orders = contract({
 *   name: "orders",
 *   methods: {
 *     create: {
 *       request: { type: "object", properties: { sku: { type: "string" } }, required: ["sku"] },
 *       reply: { type: "string" },
 *     },
 *     count: { reply: { type: "integer" } }, // takes nothing
 *   },
 * });
 * await conn.register(Orders, { methods: { create: (req) => `order-${req.sku}`, count: () => 3 } });
 * const id = await conn.use(Orders).create({ sku: "A1" }); // a string
 * ```
 */
export function contract<const S extends ContractSpec>(
  spec: S,
): ServiceContract<
  PartOf<S, "request", never>,
  PartOf<S, "reply", void>,
  PartOf<S, "broadcast", never>,
  PartIn<S, "request", never>,
  PartIn<S, "reply", void>,
  PartIn<S, "broadcast", never>,
  MethodsOf<S>
> {
  const o = validateOptions<ContractSpec>("contract", spec, [
    "name",
    "request",
    "reply",
    "broadcast",
    "methods",
    "codec",
  ]);
  const name = validateName("contract.name", o.name);
  const codec = codecOf(o.codec);
  const methods = methodParts(name, o.methods, codec);
  if (o.request === undefined && o.broadcast === undefined && methods.size === 0) {
    throw new InvalidArgumentError(`contract "${name}" must have a request or a broadcast schema, or methods`);
  }
  const c: ServiceContract = Object.freeze({ kind: "service", name, codec: codec.name });
  setParts(c, {
    request: new Part(`request to "${name}"`, o.request, codec),
    reply: new Part(`reply from "${name}"`, o.reply, codec),
    broadcast: new Part(`broadcast to "${name}"`, o.broadcast, codec),
    methods,
  });
  return c as ServiceContract<never, never, never, never, never, never, never>;
}

/**
 * Describes a topic once: its name, the schema of its events, and the codec.
 *
 * @example
 * ```ts
 * const Orders = topicContract({ name: "orders", event: OrderSchema });
 * await conn.use(Orders).publish({ id: "A1", qty: 2 });
 * await conn.use(Orders).subscribe((order) => ship(order.id), { durable: "shipping" });
 * ```
 */
export function topicContract<const S extends TopicContractSpec>(
  spec: S,
): TopicContract<Infer<S["event"]>, InferInput<S["event"]>> {
  const o = validateOptions<TopicContractSpec>("topicContract", spec, ["name", "event", "codec"]);
  const name = validateName("topicContract.name", o.name);
  const codec = codecOf(o.codec);
  if (o.event === undefined) throw new InvalidArgumentError(`topic contract "${name}" must have an event schema`);
  const c: TopicContract = Object.freeze({ kind: "topic", name, codec: codec.name });
  setParts(c, { event: new Part(`event of topic "${name}"`, o.event, codec) });
  return c as TopicContract<never, never>;
}

/** Whether `value` is a contract made by {@link contract} or {@link topicContract}. */
export function isContract(value: unknown): value is ServiceContract | TopicContract {
  return typeof value === "object" && value !== null && hasParts(value);
}

// --- internals ---

function codecOf(name: unknown): Codec {
  if (name === undefined) return CODECS.msgpack;
  if (name !== "msgpack" && name !== "json") {
    throw new InvalidArgumentError(`codec must be "msgpack" or "json", got ${JSON.stringify(name)}`);
  }
  return CODECS[name];
}
