import type { Connection, RequestOptions } from "./connection.js";
import type { Schema } from "./schema.js";
import type { BroadcastContext, RequestContext } from "./service.js";
import type { EventContext, PublishAck, PublishOptions, SubscribeOptions, Subscription } from "./topics.js";
import type { Tunnel } from "./tunnel.js";

/** What {@link contract} takes. */
export interface ContractSpec {
  /** The cluster: a name as `register` takes. */
  name: string;
  /** Schema of the requests. */
  request?: Schema;
  /** Schema of the replies; without one, handlers return nothing and callers get `undefined`. */
  reply?: Schema;
  /** Schema of the broadcasts. */
  broadcast?: Schema;
  /**
   * Named methods, each with schemas of its own: callers get one typed
   * function per method (`conn.use(Orders).create(...)`), members one typed
   * handler each (`methods: { create(req, ctx) { ... } }`). Names follow the
   * cluster-name rule, and may not be `cluster`, `request`, `broadcast`,
   * `tunnel`, `then` or a member of `Object.prototype` (names the typed
   * client or the member already has).
   */
  methods?: { readonly [method: string]: MethodSpec } & {
    readonly [name in "cluster" | "request" | "broadcast" | "tunnel" | "then"]?: never;
  };
  /** How values travel: `"msgpack"` (the default) or `"json"`. */
  codec?: CodecName;
}

/**
 * One method of a {@link ContractSpec}. Without a request schema the method
 * takes nothing (callers give no value, handlers get `undefined`); without a
 * reply schema its handler returns nothing and callers get `undefined`.
 */
export interface MethodSpec {
  /** Schema of the method's requests. */
  request?: Schema;
  /** Schema of the method's replies. */
  reply?: Schema;
}

/**
 * The types of one method of a {@link ServiceContract}: `Req` and `Rep` are
 * what the receiving side gets, `ReqIn` and `RepIn` what the sending side
 * gives (they differ only for a Standard Schema that transforms).
 */
export interface MethodTypes<Req = unknown, Rep = unknown, ReqIn = Req, RepIn = Rep> {
  request: Req;
  reply: Rep;
  requestIn: ReqIn;
  replyIn: RepIn;
}

/** What {@link topicContract} takes. */
export interface TopicContractSpec {
  /** The topic: a name as `subscribe` takes. */
  name: string;
  /** Schema of the events. */
  event: Schema;
  /** How events travel: `"msgpack"` (the default) or `"json"`. */
  codec?: CodecName;
}

/**
 * A service's contract, from {@link contract}: use it with `conn.use` and
 * `register`. `Req`, `Rep` and `Msg` are what the receiving side gets;
 * `ReqIn`, `RepIn` and `MsgIn` what the sending side gives (they differ only
 * for a Standard Schema that transforms). `Methods` maps each method's name to
 * its {@link MethodTypes}.
 */
export interface ServiceContract<
  Req = unknown,
  Rep = unknown,
  Msg = unknown,
  ReqIn = Req,
  RepIn = Rep,
  MsgIn = Msg,
  Methods = NoMethods,
> {
  readonly kind: "service";
  /** The cluster. */
  readonly name: string;
  readonly codec: CodecName;
  /** Never present: carries the types for the type checker. */
  readonly " types"?: {
    request: Req;
    reply: Rep;
    broadcast: Msg;
    requestIn: ReqIn;
    replyIn: RepIn;
    broadcastIn: MsgIn;
    methods: Methods;
  };
}

/** The methods of a contract that has none. */
export type NoMethods = Record<never, never>;

/** A topic's contract, from {@link topicContract}: use it with `conn.use`. `EventIn` is what publishers give. */
export interface TopicContract<Event = unknown, EventIn = Event> {
  readonly kind: "topic";
  /** The topic. */
  readonly name: string;
  readonly codec: CodecName;
  /** Never present: carries the types for the type checker. */
  readonly " types"?: { event: Event; eventIn: EventIn };
}

/** A typed client of one service, from `conn.use(contract)`: it gives `Req` and `Msg`, and gets `Rep`. */
export interface ServiceClient<Req, Rep, Msg> {
  /** The cluster it calls. */
  readonly cluster: string;
  /**
   * Checks and encodes `request`, sends it as `conn.request` does, and
   * resolves with the checked, decoded reply. A request that does not match
   * the schema is an `InvalidArgumentError` (nothing is sent); a member that
   * refuses it answers `RemoteError` with code `BAD_REQUEST`; a reply that
   * does not match is a `RemoteError` with code `BAD_REPLY`. A contract's
   * methods have functions of their own (see {@link MethodClients}), so
   * `options.method` is refused here.
   */
  request(request: Req, options?: MethodCallOptions): Promise<Rep>;
  /** Checks, encodes and broadcasts `message` to every member, as `conn.broadcast` does. */
  broadcast(message: Msg): Promise<void>;
}

/**
 * The typed functions of a contract's methods, one per method, on the client
 * `conn.use(contract)` gives: `create(request, options?)` checks and encodes
 * the request, calls the method as `conn.request(cluster, bytes, { method })`
 * does, and resolves with the checked, decoded reply (errors as
 * {@link ServiceClient.request}).
 */
export type MethodClients<Methods> = {
  readonly [K in keyof Methods]: Methods[K] extends MethodTypes<unknown, infer Rep, infer ReqIn, unknown>
    ? MethodCall<ReqIn, Rep>
    : never;
};

/** Calls one method of a contract (see {@link MethodClients}). */
export type MethodCall<ReqIn, Rep> = (request: ReqIn, options?: MethodCallOptions) => Promise<Rep>;

/** Options of a method's typed call: those of `conn.request`, but the method is the function's own. */
export type MethodCallOptions = Omit<RequestOptions, "method">;

/** The typed client of the service contract `C`, as `conn.use(C)` gives it. */
export type ServiceClientOf<C> =
  C extends ServiceContract<unknown, infer Rep, unknown, infer ReqIn, unknown, infer MsgIn, infer Methods>
    ? ServiceClient<ReqIn, Rep, MsgIn> & MethodClients<Methods>
    : never;

/** A typed topic, from `conn.use(topicContract)`: it publishes `EventIn`, and its subscribers get `Event`. */
export interface TopicClient<Event, EventIn = Event> {
  /** The topic. */
  readonly topic: string;
  /** Checks, encodes and publishes `event`, as `conn.publish` does. */
  publish(event: EventIn, options?: PublishOptions): Promise<PublishAck>;
  /**
   * Subscribes as `conn.subscribe` does; the handler gets checked, decoded
   * events. An event that does not match is never handed to it: it is
   * logged and counted as `malformed`, and a durable or group subscription
   * gives it up at once (`onDeadLetter` gets its bytes).
   */
  subscribe(
    handler: TypedEventHandler<Event> | TypedTopicHandler<Event>,
    options?: SubscribeOptions,
  ): Promise<Subscription>;
}

/** Handles one typed event. What it returns is ignored, except that a promise is awaited (as for `EventHandler`). */
export type TypedEventHandler<Event> = (event: Event, ctx: EventContext) => unknown;

/** A typed topic handler object. */
export interface TypedTopicHandler<Event> {
  handleEvent(event: Event, ctx: EventContext): unknown;
}

/**
 * The callbacks of a service registered with a contract: as {@link ServiceHandler},
 * but requests and broadcasts arrive decoded and checked, and replies are
 * values. A request or broadcast that does not match never reaches them.
 * `Methods` is the contract's (see {@link ServiceContract}); use
 * {@link ContractHandlerOf} to name the handler of a contract.
 */
export interface ContractHandler<Req, Rep, Msg, Methods = NoMethods> {
  init?(conn: Connection): void | Promise<void>;
  /** Answers one request; the reply is checked against the contract before it is sent. */
  handleRequest?(request: Req, ctx: RequestContext): Rep | Promise<Rep>;
  /**
   * Answers the contract's methods, each as `handleRequest` does with the
   * method's own schemas. A member may serve some of them only: a method no
   * member serves answers callers `NoRespondersError`.
   */
  methods?: MethodHandlers<Methods>;
  handleBroadcast?(message: Msg, ctx: BroadcastContext): void | Promise<void>;
  handleTunnel?(tunnel: Tunnel): void | Promise<void>;
  handleDrop?(reason: Error): void | Promise<void>;
}

/** The typed handlers of a contract's methods (see {@link ContractHandler.methods}). */
export type MethodHandlers<Methods> = {
  [K in keyof Methods]?: Methods[K] extends MethodTypes<infer Req, unknown, unknown, infer RepIn>
    ? (request: Req, ctx: RequestContext) => RepIn | Promise<RepIn>
    : never;
};

/**
 * The typed handler of the service contract `C`, as `register(C, handler)`
 * takes it.
 *
 * @example
 * ```ts
 * const orders: ContractHandlerOf<typeof Orders> = {
 *   methods: { create: (req) => ({ id: newId(), sku: req.sku }) },
 * };
 * await conn.register(Orders, orders);
 * ```
 */
export type ContractHandlerOf<C> =
  C extends ServiceContract<infer Req, unknown, infer Msg, unknown, infer RepIn, unknown, infer Methods>
    ? ContractHandler<Req, RepIn, Msg, Methods>
    : never;

/** The codecs a contract may use. */
export type CodecName = "msgpack" | "json";
