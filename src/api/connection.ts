import type { Authenticator, ConnectionOptions, NatsConnection, TlsOptions } from "@nats-io/nats-core";
import type { JetmeshError } from "../errors/index.js";
import type { GatherOptions, GatherReply, Interceptor, RetryOptions } from "./calls.js";
import type { ContractHandlerOf, ServiceClientOf, ServiceContract, TopicClient, TopicContract } from "./contract.js";
import type { Logger } from "./logger.js";
import type { MicroEndpointStats, Service, ServiceHandler, ServiceOptions } from "./service.js";
import type { TelemetryOptions } from "./telemetry.js";
import type {
  EventHandler,
  PublishAck,
  PublishOptions,
  SubscribeOptions,
  Subscription,
  TopicHandler,
  TopicsOptions,
} from "./topics.js";
import type { Tunnel, TunnelOptions, TunnelsOptions } from "./tunnel.js";

/** Options of {@link Connection.request}. */
export interface RequestOptions {
  /** Time-out in ms (integer >= 1). Default: the connection's `timeout` (10 000). */
  timeout?: number;
  /**
   * Aborts the request; it rejects with the signal's reason, and the member
   * handling it is told (its `ctx.signal` aborts), best effort.
   */
  signal?: AbortSignal;
  /** The method of the cluster to call (see `ServiceHandler.methods`); default its `handleRequest`. */
  method?: string;
  /**
   * Tries again after a failure that is safe to retry, within the same
   * overall `timeout` and `signal` (see {@link RetryOptions}; a number is the
   * attempts). Default: the connection's `retry`, else one attempt. `false`
   * turns a connection-wide default off for this call.
   */
  retry?: RetryOptions | number | false;
  /**
   * The handler may safely run more than once for this request: retries then
   * also cover failures after it may have started (a member that left while
   * handling it). Default false.
   */
  idempotent?: boolean;
}

/**
 * A connection to NATS, from {@link connect}. Closing it closes every service
 * it owns; after `close()` every call rejects with `ClosedError`.
 *
 * @example
 * ```ts
 * await using conn = await connect("nats://127.0.0.1:4222");
 * const reply = await conn.request("echo", new TextEncoder().encode("hi"), { timeout: 1000 });
 * ```
 */
export interface Connection extends AsyncDisposable {
  /** The subject namespace of this connection. */
  readonly namespace: string;
  /** Resolves once the connection is closed: undefined after `close()`, the reason when it was lost. */
  readonly closed: Promise<Error | undefined>;
  /** The underlying NATS connection, for what jetmesh does not cover. */
  readonly nats: NatsConnection;
  /**
   * Sends `payload` to one member of `cluster` and resolves with its reply.
   * Rejects `NoRespondersError` (no member), `RemoteError` (the handler threw),
   * `OverloadedError` (the member's limits were full), `TimeoutError`,
   * `ClosedError`, `PayloadTooLargeError` or `InvalidArgumentError`.
   */
  request(cluster: string, payload: Uint8Array, options?: RequestOptions): Promise<Uint8Array>;
  /**
   * Sends `payload` to every member of `cluster`, best effort. Resolves once
   * the message is handed to the client (no round trip); no error when the
   * cluster has no member.
   */
  broadcast(cluster: string, payload: Uint8Array): Promise<void>;
  /**
   * Sends `payload` to every member of `cluster` and yields each member's
   * answer as it comes, with the member's id. It ends at the time-out, after
   * `max` answers, or once every member present (every member that said it
   * got the request) has answered; at once when the cluster has no member.
   * A member's own failure (overloaded, its handler threw) is an answer with
   * `ok: false`; the iteration itself rejects only for the call's signal, a
   * closed connection, or a refused publish.
   */
  gather(cluster: string, payload: Uint8Array, options?: GatherOptions): AsyncIterable<GatherReply>;
  /**
   * Registers this process as a member of the contract's cluster, with a
   * typed handler: requests, method calls and broadcasts arrive decoded and
   * checked, and replies are checked before they are sent. (The handler's
   * type is read off the contract alone, so a reply such as `{ status: "ok" }`
   * keeps its literal type against an `enum` schema; this overload comes
   * first, so a mistake in a typed handler is reported against it first.)
   */
  register<C extends ServiceContract>(
    contract: C,
    handler: ContractHandlerOf<C>,
    options?: ServiceOptions,
  ): Promise<Service>;
  /**
   * Registers this process as a member of `cluster`. Resolves once the member
   * is live on the server. `unregister()` leaves this connection open.
   */
  register(cluster: string, handler: ServiceHandler, options?: ServiceOptions): Promise<Service>;
  /**
   * A typed client of a service contract (see `contract()`): `request` and
   * `broadcast`, and one function per method of the contract.
   */
  use<C extends ServiceContract>(contract: C): ServiceClientOf<C>;
  /** A typed client of a topic contract (see `topicContract()`). */
  use<Event, EventIn>(contract: TopicContract<Event, EventIn>): TopicClient<Event, EventIn>;
  /**
   * Publishes `payload` to `topic` and resolves once JetStream has stored it,
   * with its stream sequence. Many publishes may be in flight at once. A
   * disconnect is ridden out until the time-out; a publish sent again after a
   * lost ack is stored once. Rejects `TimeoutError`, `ClosedError`,
   * `PayloadTooLargeError`, `OverloadedError` (the stream is full and refuses
   * new events), `ConfigurationError` (JetStream off, or a stream with other
   * settings) or `InvalidArgumentError`.
   */
  publish(topic: string, payload: Uint8Array, options?: PublishOptions): Promise<PublishAck>;
  /**
   * Subscribes `handler` to `topic`: events published from now on (or from
   * `options.from`), within the topic limits in `options`. Resolves once the
   * subscription is live. One subscription per topic per connection.
   */
  subscribe(topic: string, handler: EventHandler | TopicHandler, options?: SubscribeOptions): Promise<Subscription>;
  /** Ends this connection's subscription to `topic` (as `Subscription.unsubscribe`); rejects if there is none. */
  unsubscribe(topic: string): Promise<void>;
  /**
   * Opens a tunnel to one member of `cluster` (one with `handleTunnel`).
   * Rejects `NoRespondersError` (no such member), `TimeoutError`,
   * `RemoteError`, `ClosedError`, `ConfigurationError` or `InvalidArgumentError`.
   */
  tunnel(cluster: string, options?: TunnelOptions): Promise<Tunnel>;
  /**
   * Lists the live members of this namespace (of `cluster`, when given), as
   * they answer the micro protocol within `options.timeout` (500 ms), with
   * their version, metadata and stats; filtered by a SemVer range and by
   * metadata. A member that has gone away is simply not listed.
   */
  discover(cluster?: string, options?: DiscoverOptions): Promise<Member[]>;
  /** Connection state changes (disconnect, reconnect, ...) until the connection closes. */
  status(): AsyncIterable<ConnectionStatus>;
  /** Closes every service, rejects pending requests with `ClosedError`, then closes the NATS connection. Idempotent. */
  close(): Promise<void>;
}

/**
 * Options of {@link connect}. Every field is optional.
 *
 * @example
 * ```ts
 * const conn = await connect({ servers: ["nats://a:4222", "nats://b:4222"], namespace: "shop", timeout: 2000 });
 * ```
 */
export interface ConnectOptions {
  /** Server URL(s). Default `nats://127.0.0.1:4222`. */
  servers?: string | string[];
  /** Connection name shown by the server (monitoring, `nats server report`). */
  name?: string;
  /** Subject namespace, so applications can share a NATS deployment. Default `jetmesh`. */
  namespace?: string;
  /** Default time-out of request (and of later tunnel set-up, publish and send), in ms. Default 10 000. */
  timeout?: number;
  /** How long connect() keeps trying to reach a server before a `ConnectionError`, in ms. Default 5 000. */
  connectTimeout?: number;
  /** How long `unregister()`/`close()` wait for running handlers, in ms. Default 5 000. */
  drainTimeout?: number;
  /** Reconnect attempts per server after a disconnect; -1 (the default) reconnects forever. */
  maxReconnectAttempts?: number;
  /** Wait between reconnect attempts to one server, in ms (NATS client default 2 000). */
  reconnectTimeWait?: number;
  /** User name (with `pass`). */
  user?: string;
  /** Password (with `user`). */
  pass?: string;
  /** Authentication token. */
  token?: string;
  /** Path of a NATS `.creds` file (JWT + nkey seed). */
  credsFile?: string;
  /** Any NATS client authenticator(s) (nkeys, JWT, ...). */
  authenticator?: Authenticator | Authenticator[];
  /** TLS options passed to the NATS client. */
  tls?: TlsOptions | null;
  /**
   * A pino-compatible logger (`debug`/`info`/`warn`/`error`, each taking a
   * context object and a message). Default: warnings and errors to stderr,
   * with the stack of each error (`consoleLogger("warn")`). The `JETMESH_LOG`
   * environment variable changes the default: a level (`debug`, `info`,
   * `warn`, `error`), or `silent` (or `off`) for nothing. Pass
   * `silentLogger` to silence one connection in code.
   */
  logger?: Logger;
  /** Where traces and metrics go. Default: the global OpenTelemetry providers (see {@link TelemetryOptions}). */
  telemetry?: TelemetryOptions;
  /** Settings of the JetStream stream that stores this namespace's topics (see {@link TopicsOptions}). */
  topics?: TopicsOptions;
  /** Settings of tunnels: their stream, window, largest message and heartbeat (see {@link TunnelsOptions}). */
  tunnels?: TunnelsOptions;
  /**
   * Interceptors around every outgoing call of this connection and every
   * handler of its services and subscriptions (see {@link Interceptor}).
   * Default none, at no cost.
   */
  interceptors?: Interceptor[];
  /** Retry settings of every request that gives none (see {@link RetryOptions}). Default: one attempt. */
  retry?: RetryOptions | number;
  /** Any other NATS client connection option, passed through as is. */
  nats?: Partial<ConnectionOptions>;
  /** Aborts connect() while it is still trying; it rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** Options of a Connection built over an existing NATS connection. */
export type ConnectionSettings = Pick<
  ConnectOptions,
  "namespace" | "timeout" | "drainTimeout" | "logger" | "telemetry" | "topics" | "tunnels" | "interceptors" | "retry"
>;

/**
 * A change in the connection's state, from {@link Connection.status}.
 * `disconnect`/`reconnecting`/`reconnect` follow the link to the server;
 * `error` is an asynchronous server error; `slowConsumer` means a
 * subscription fell behind; `ldm` means the server asked clients to move
 * (lame-duck mode); `update` lists servers added to or removed from the cluster.
 */
export type ConnectionStatus =
  | { type: "disconnect"; server: string }
  | { type: "reconnecting" }
  | { type: "reconnect"; server: string }
  | { type: "error"; error: JetmeshError }
  | { type: "slowConsumer"; subject: string; pending: number }
  | { type: "ldm"; server: string }
  | { type: "stale" }
  | { type: "update"; added: string[]; deleted: string[] };

/** Options of `conn.discover()`. */
export interface DiscoverOptions {
  /** A SemVer range the member's version must satisfy, such as `^1.2.0` or `>=2 <3`. */
  version?: string;
  /** Metadata the member must carry, every key with exactly this value. */
  metadata?: Record<string, string>;
  /** How long to collect answers, in ms. Default 500. */
  timeout?: number;
  /** Aborts the discovery; it rejects with the signal's reason. */
  signal?: AbortSignal;
  /**
   * Also list micro services of other NATS clients (services without
   * jetmesh's namespace in their metadata, such as nats.go `micro` ones), as
   * members with `foreign: true`. Default false. Members of another jetmesh
   * namespace are never listed.
   */
  foreign?: boolean;
}

/** One live member, as it answered discovery. */
export interface Member {
  readonly cluster: string;
  readonly id: string;
  readonly version: string;
  /** What the service does, as given at register time ("" when the member did not answer INFO in time). */
  readonly description: string;
  /** The metadata given at register time (plus `jetmesh.namespace`). */
  readonly metadata: Readonly<Record<string, string>>;
  /** When it registered. */
  readonly started: Date;
  /** Its counters (see `ServiceStats`). */
  readonly stats: MemberStats;
  /** Its endpoints as the micro protocol's STATS reports them (times in ns). */
  readonly endpoints: readonly MicroEndpointStats[];
  /** A micro service of another client, not a jetmesh member (listed with `foreign: true` only; its `stats` are 0). */
  readonly foreign: boolean;
}

/** The counters a member reports to discovery. */
export interface MemberStats {
  requests: number;
  requestErrors: number;
  /** Milliseconds per request, on average. */
  averageProcessingTime: number;
  overloaded: number;
  broadcasts: number;
  dropped: number;
  tunnels: number;
  /** Bytes waiting for a handler now, requests and broadcasts. */
  queuedBytes: number;
}
