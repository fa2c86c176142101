/**
 * Typed contracts: a service's requests, replies and broadcasts, or a topic's
 * events, described once by schemas and a codec, and checked on both sides.
 * Everything here sits on the byte-level API: a typed call is the byte call
 * with an encode and a check before it and a decode and a check after.
 */

import type {
  Connection,
  ContractHandler,
  ContractSpec,
  Infer,
  InferInput,
  PublishAck,
  PublishOptions,
  RequestContext,
  RequestOptions,
  Schema,
  ServiceClient,
  ServiceContract,
  ServiceHandler,
  SubscribeOptions,
  Subscription,
  TopicClient,
  TopicContract,
  TopicContractSpec,
  TypedEventHandler,
  TypedTopicHandler,
} from "../api/index.js";
import { validateName, validateOptions } from "../config/index.js";
import { ContractViolation, InvalidArgumentError, RemoteError } from "../errors/index.js";
import { CODECS, type Codec } from "./codec.js";
import { type Check, type Checked, checkerOf } from "./schema.js";

type PartOf<S, K extends string, Missing> = S extends { readonly [P in K]: infer X } ? Infer<X> : Missing;
type PartIn<S, K extends string, Missing> = S extends { readonly [P in K]: infer X } ? InferInput<X> : Missing;

/**
 * Describes a service once: its cluster, the schemas of its requests, replies
 * and broadcasts, and the codec. Schemas are JSON Schema (write them
 * `as const` to have their types inferred, or use {@link schema}), TypeBox
 * schemas, or any Standard Schema (Zod, Valibot, ArkType).
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
  PartIn<S, "broadcast", never>
> {
  const o = validateOptions<ContractSpec>("contract", spec, ["name", "request", "reply", "broadcast", "codec"]);
  const name = validateName("contract.name", o.name);
  const codec = codecOf(o.codec);
  if (o.request === undefined && o.broadcast === undefined) {
    throw new InvalidArgumentError(`contract "${name}" must have a request or a broadcast schema`);
  }
  const c: ServiceContract = Object.freeze({ kind: "service", name, codec: codec.name });
  parts.set(c, {
    request: new Part(`request to "${name}"`, o.request, codec),
    reply: new Part(`reply from "${name}"`, o.reply, codec),
    broadcast: new Part(`broadcast to "${name}"`, o.broadcast, codec),
  });
  return c as ServiceContract<never, never, never, never, never, never>;
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
  parts.set(c, { event: new Part(`event of topic "${name}"`, o.event, codec) });
  return c as TopicContract<never, never>;
}

/** Whether `value` is a contract made by {@link contract} or {@link topicContract}. */
export function isContract(value: unknown): value is ServiceContract | TopicContract {
  return typeof value === "object" && value !== null && parts.has(value);
}

/** The typed client of `c` over `conn`. */
/**
 * A request whose reply is decoded as it arrives: the connection's own,
 * injected so that contracts need nothing of the connection but its interface.
 */
export type DecodedRequest = (
  cluster: string,
  payload: Uint8Array,
  options: RequestOptions | undefined,
  decode: (reply: Uint8Array) => unknown,
) => Promise<unknown>;

/** The typed client of `c` over `conn`, sending requests with `request`. */
export function clientOf(
  conn: Connection,
  request: DecodedRequest,
  c: ServiceContract | TopicContract,
): ServiceClient<unknown, unknown, unknown> | TopicClient<unknown> {
  if (!isContract(c)) throw new InvalidArgumentError("use() takes a contract made by contract() or topicContract()");
  return c.kind === "service" ? new TypedService(conn, request, c) : new TypedTopic(conn, c);
}

/** The byte-level handler that serves `c` with the typed `handler`. */
export function byteHandler(c: ServiceContract, handler: ContractHandler<unknown, unknown, unknown>): ServiceHandler {
  if (!isContract(c) || c.kind !== "service") {
    throw new InvalidArgumentError("register() takes a cluster name or a service contract made by contract()");
  }
  if (typeof handler !== "object" || handler === null) {
    throw new InvalidArgumentError(`handler of contract "${c.name}" must be an object with handler methods`);
  }
  const p = serviceParts(c);
  const out: ServiceHandler = {};
  const { init, handleRequest, handleBroadcast, handleTunnel, handleDrop } = handler;
  if (init !== undefined) out.init = bound(handler, init);
  if (handleTunnel !== undefined) out.handleTunnel = bound(handler, handleTunnel);
  if (handleDrop !== undefined) out.handleDrop = bound(handler, handleDrop);
  if (handleRequest !== undefined) {
    if (typeof handleRequest !== "function") return { ...out, handleRequest: handleRequest as never };
    if (!p.request.declared) {
      throw new InvalidArgumentError(`contract "${c.name}" has no request schema, but the handler has handleRequest`);
    }
    const encodeReply = (rep: unknown) => p.reply.encode(rep, badReply);
    const answer = (req: unknown, ctx: RequestContext) => then(handleRequest.call(handler, req, ctx), encodeReply);
    out.handleRequest = (bytes, ctx) => {
      const req = p.request.decode(bytes, incoming);
      return req instanceof Promise ? req.then((r) => answer(r, ctx)) : answer(req, ctx);
    };
  }
  if (handleBroadcast !== undefined) {
    if (typeof handleBroadcast !== "function") return { ...out, handleBroadcast: handleBroadcast as never };
    if (!p.broadcast.declared) {
      throw new InvalidArgumentError(
        `contract "${c.name}" has no broadcast schema, but the handler has handleBroadcast`,
      );
    }
    out.handleBroadcast = (bytes, ctx) =>
      then(p.broadcast.decode(bytes, incoming), (msg) => handleBroadcast.call(handler, msg, ctx));
  }
  return out;
}

// --- internals ---

interface ServiceParts {
  request: Part;
  reply: Part;
  broadcast: Part;
}

const parts = new WeakMap<object, ServiceParts | { event: Part }>();

function serviceParts(c: ServiceContract): ServiceParts {
  return parts.get(c) as ServiceParts;
}

function codecOf(name: unknown): Codec {
  if (name === undefined) return CODECS.msgpack;
  if (name !== "msgpack" && name !== "json") {
    throw new InvalidArgumentError(`codec must be "msgpack" or "json", got ${JSON.stringify(name)}`);
  }
  return CODECS[name];
}

function bound<F extends (...args: never[]) => unknown>(self: object, fn: F): F {
  if (typeof fn !== "function") return fn;
  return fn.bind(self) as F;
}

/** Maps `v` (or what it resolves to) through `f`, staying synchronous when `v` is. */
function then<T, U>(v: T | PromiseLike<T>, f: (t: T) => U | Promise<U>): U | Promise<U> {
  if (v !== null && typeof v === "object" && typeof (v as PromiseLike<T>).then === "function") {
    return Promise.resolve(v).then(f);
  }
  return f(v as T);
}

/** How a failed check is reported: the error to throw for `what` with `issues`. */
type Failure = (what: string, issues: string[], cause?: unknown) => Error;

const outgoing: Failure = (what, issues, cause) =>
  new InvalidArgumentError(
    `${what} does not match the contract: ${issues.join("; ")}`,
    cause === undefined ? undefined : { cause },
  );
const incoming: Failure = (what, issues, cause) =>
  new ContractViolation(
    "BAD_REQUEST",
    `${what} does not match the contract: ${issues.join("; ")}`,
    cause === undefined ? undefined : { cause },
  );
const badReply: Failure = (what, issues, cause) =>
  new ContractViolation(
    "BAD_REPLY",
    `${what} does not match the contract: ${issues.join("; ")}`,
    cause === undefined ? undefined : { cause },
  );
const replyAtCaller: Failure = (what, issues, cause) =>
  new RemoteError(
    `${what} does not match the contract: ${issues.join("; ")}`,
    "BAD_REPLY",
    cause === undefined ? undefined : { cause },
  );

const EMPTY = new Uint8Array(0);

/** One kind of value of a contract: its schema's check and the codec. */
class Part {
  readonly declared: boolean;
  readonly #check: Check | undefined;

  constructor(
    readonly what: string,
    schema: Schema | undefined,
    readonly codec: Codec,
  ) {
    this.declared = schema !== undefined;
    if (schema === undefined) return;
    try {
      this.#check = checkerOf(schema);
    } catch (err) {
      throw new InvalidArgumentError(
        `the schema of the ${what} is not a valid JSON Schema: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
  }

  /** Checks and encodes `value`; throws `fail`'s error when it does not match. */
  encode(value: unknown, fail: Failure): Uint8Array | Promise<Uint8Array> {
    const check = this.#check;
    if (check === undefined) {
      if (value === undefined) return EMPTY;
      throw fail(this.what, ["the contract declares none, so nothing may be given"]);
    }
    const r = check(value);
    return r instanceof Promise
      ? r.then((c) => this.#encodeChecked(c, value, fail))
      : this.#encodeChecked(r, value, fail);
  }

  /** Decodes and checks `bytes`; throws `fail`'s error when they do not match. */
  decode(bytes: Uint8Array, fail: Failure): unknown {
    const check = this.#check;
    if (check === undefined) return undefined;
    let value: unknown;
    try {
      value = this.codec.decode(bytes);
    } catch (err) {
      throw fail(this.what, [`is not valid ${this.codec.name}: ${(err as Error).message}`], err);
    }
    const r = check(value);
    return r instanceof Promise ? r.then((c) => this.#checked(c, fail)) : this.#checked(r, fail);
  }

  /** Encodes `value` as given: the receiver checks it again, and applies the schema's transforms then. */
  #encodeChecked(r: Checked, value: unknown, fail: Failure): Uint8Array {
    if (!r.ok) throw fail(this.what, r.issues);
    try {
      return this.codec.encode(value);
    } catch (err) {
      throw fail(this.what, [`cannot be encoded as ${this.codec.name}: ${(err as Error).message}`], err);
    }
  }

  #checked(r: Checked, fail: Failure): unknown {
    if (!r.ok) throw fail(this.what, r.issues);
    return r.value;
  }
}

class TypedService implements ServiceClient<unknown, unknown, unknown> {
  readonly cluster: string;
  readonly #conn: Connection;
  readonly #request: DecodedRequest;
  readonly #parts: ServiceParts;
  readonly #decode: (reply: Uint8Array) => unknown;

  constructor(conn: Connection, request: DecodedRequest, c: ServiceContract) {
    this.#conn = conn;
    this.#request = request;
    this.cluster = c.name;
    const p = serviceParts(c);
    this.#parts = p;
    this.#decode = (reply) => p.reply.decode(reply, replyAtCaller);
  }

  request(request: unknown, options?: RequestOptions): Promise<unknown> {
    try {
      const p = this.#parts;
      if (!p.request.declared) throw new InvalidArgumentError(`contract "${this.cluster}" has no request schema`);
      const bytes = p.request.encode(request, outgoing);
      if (bytes instanceof Uint8Array) return this.#send(bytes, options);
      return bytes.then((b) => this.#send(b, options));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Sends the encoded request; the reply is decoded as it arrives (a Standard Schema may check it asynchronously). */
  #send(bytes: Uint8Array, options: RequestOptions | undefined): Promise<unknown> {
    return this.#request(this.cluster, bytes, options, this.#decode);
  }

  async broadcast(message: unknown): Promise<void> {
    const p = this.#parts;
    if (!p.broadcast.declared) throw new InvalidArgumentError(`contract "${this.cluster}" has no broadcast schema`);
    await this.#conn.broadcast(this.cluster, await p.broadcast.encode(message, outgoing));
  }
}

class TypedTopic implements TopicClient<unknown> {
  readonly topic: string;
  readonly #conn: Connection;
  readonly #event: Part;

  constructor(conn: Connection, c: TopicContract) {
    this.#conn = conn;
    this.topic = c.name;
    this.#event = (parts.get(c) as { event: Part }).event;
  }

  publish(event: unknown, options?: PublishOptions): Promise<PublishAck> {
    try {
      const bytes = this.#event.encode(event, outgoing);
      if (bytes instanceof Uint8Array) return this.#conn.publish(this.topic, bytes, options);
      return Promise.resolve(bytes).then((b) => this.#conn.publish(this.topic, b, options));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  subscribe(
    handler: TypedEventHandler<unknown> | TypedTopicHandler<unknown>,
    options?: SubscribeOptions,
  ): Promise<Subscription> {
    let handle: TypedEventHandler<unknown>;
    if (typeof handler === "function") handle = handler;
    else if (typeof handler === "object" && handler !== null && typeof handler.handleEvent === "function") {
      handle = handler.handleEvent.bind(handler);
    } else {
      return Promise.reject(
        new InvalidArgumentError("handler must be a function or an object with a handleEvent method"),
      );
    }
    const event = this.#event;
    return this.#conn.subscribe(
      this.topic,
      (bytes, ctx) => then(event.decode(bytes, incoming), (value) => handle(value, ctx)),
      options,
    );
  }
}
