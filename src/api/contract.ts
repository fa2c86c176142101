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
  /** How values travel: `"msgpack"` (the default) or `"json"`. */
  codec?: CodecName;
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
 * for a Standard Schema that transforms).
 */
export interface ServiceContract<Req = unknown, Rep = unknown, Msg = unknown, ReqIn = Req, RepIn = Rep, MsgIn = Msg> {
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
  };
}

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
   * does not match is a `RemoteError` with code `BAD_REPLY`.
   */
  request(request: Req, options?: RequestOptions): Promise<Rep>;
  /** Checks, encodes and broadcasts `message` to every member, as `conn.broadcast` does. */
  broadcast(message: Msg): Promise<void>;
}

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

/** Handles one typed event. */
export type TypedEventHandler<Event> = (event: Event, ctx: EventContext) => void | Promise<void>;

/** A typed topic handler object. */
export interface TypedTopicHandler<Event> {
  handleEvent(event: Event, ctx: EventContext): void | Promise<void>;
}

/**
 * The callbacks of a service registered with a contract: as {@link ServiceHandler},
 * but requests and broadcasts arrive decoded and checked, and replies are
 * values. A request or broadcast that does not match never reaches them.
 */
export interface ContractHandler<Req, Rep, Msg> {
  init?(conn: Connection): void | Promise<void>;
  /** Answers one request; the reply is checked against the contract before it is sent. */
  handleRequest?(request: Req, ctx: RequestContext): Rep | Promise<Rep>;
  handleBroadcast?(message: Msg, ctx: BroadcastContext): void | Promise<void>;
  handleTunnel?(tunnel: Tunnel): void | Promise<void>;
  handleDrop?(reason: Error): void | Promise<void>;
}

/** The codecs a contract may use. */
export type CodecName = "msgpack" | "json";
