import type { MsgHdrs } from "@nats-io/nats-core";
import type { Interceptor } from "./calls.js";
import type { Connection } from "./connection.js";
import type { Tunnel } from "./tunnel.js";

/**
 * Iris's service limits: at most `*Threads` handler calls run at once, and at
 * most `*Memory` bytes of messages wait to start. Defaults: 4 x CPU count
 * threads and 64 MiB, as in Iris.
 */
export interface ServiceLimits {
  /** Request handlers running at once. */
  requestThreads: number;
  /** Bytes of requests waiting for a handler; a request that does not fit gets `OverloadedError`. */
  requestMemory: number;
  /** Broadcast handlers running at once. */
  broadcastThreads: number;
  /** Bytes of broadcasts waiting for a handler; a broadcast that does not fit is dropped and counted. */
  broadcastMemory: number;
}

/**
 * The fourth argument of `register`: the limits, and how the member describes
 * itself to discovery (the micro protocol, `conn.discover()`, `jetmesh ls`).
 *
 * @example
 * ```ts
 * await register(url, "echo", handler, { requestThreads: 8, version: "1.4.0", metadata: { region: "eu" } });
 * ```
 */
export interface ServiceOptions extends Partial<ServiceLimits> {
  /** The member's version, SemVer. Default `0.0.0`. */
  version?: string;
  /** What the service does (micro INFO). */
  description?: string;
  /** Free-form strings such as region or env; `discover()` filters on them. */
  metadata?: Record<string, string>;
  /** Interceptors around this service's handlers, inside the connection's (see {@link Interceptor}). */
  interceptors?: Interceptor[];
}

/** What a request handler gets besides the bytes. */
export interface RequestContext {
  /** The cluster the request was sent to. */
  readonly cluster: string;
  /** The NATS subject it arrived on. */
  readonly subject: string;
  /** The method it was sent to; undefined for `handleRequest`. */
  readonly method: string | undefined;
  /** The request's NATS headers, if any. */
  readonly headers: MsgHdrs | undefined;
  /** When the caller gives up (ms since the epoch, local clock); Infinity when the caller sent none. */
  readonly deadline: number;
  /** Milliseconds until the caller gives up. */
  remaining(): number;
  /**
   * Aborts when the caller's deadline passes, when the caller cancels (its
   * signal aborted or its connection closed: a `CancelledError`, best
   * effort), or when the service stops before the handler finished.
   */
  readonly signal: AbortSignal;
}

/** What a broadcast handler gets besides the bytes. */
export interface BroadcastContext {
  /** The cluster the broadcast was sent to. */
  readonly cluster: string;
  /** The NATS subject it arrived on. */
  readonly subject: string;
  /** The broadcast's NATS headers, if any. */
  readonly headers: MsgHdrs | undefined;
}

/** Answers one request: bytes (nothing replies with empty bytes), or a throw for the caller's `RemoteError`. */
export type RequestHandler = (
  req: Uint8Array,
  ctx: RequestContext,
) => Uint8Array | undefined | void | Promise<Uint8Array | undefined | void>;

/**
 * The callbacks of a service. Every method is optional; each may be sync or
 * async. A service without `handleRequest` takes no requests without a
 * method (callers get `NoRespondersError` when no member has one).
 *
 * @example
 * ```ts
 * const handler: ServiceHandler = {
 *   handleRequest: (req) => req,
 *   handleBroadcast: (msg) => console.log("got", msg.length, "bytes"),
 * };
 * ```
 */
export interface ServiceHandler {
  /** Called once, before any other handler runs; `register` resolves after it. */
  init?(conn: Connection): void | Promise<void>;
  /**
   * Answers one request. Return bytes (nothing replies with empty bytes);
   * throw to give the caller a `RemoteError` with your message, and the
   * error's `code` property as its code.
   */
  handleRequest?(
    req: Uint8Array,
    ctx: RequestContext,
  ): Uint8Array | undefined | void | Promise<Uint8Array | undefined | void>;
  /**
   * Named operations: callers pick one with `request(cluster, bytes, { method })`.
   * Each is its own subject (`<ns>.req.<cluster>.<method>`) and micro
   * endpoint; all share the service's request limits. Names follow the
   * cluster-name rule. A method no member has answers `NoRespondersError`.
   */
  methods?: Record<string, RequestHandler>;
  /** Handles one broadcast to the cluster. */
  handleBroadcast?(msg: Uint8Array, ctx: BroadcastContext): void | Promise<void>;
  /**
   * Takes a tunnel a caller opened to the cluster (this member accepted it).
   * The tunnel stays open after this returns, until either end closes it;
   * one that throws has its tunnel closed. Tunnels end with the service.
   */
  handleTunnel?(tunnel: Tunnel): void | Promise<void>;
  /**
   * The member is gone for good without `unregister()`/`close()`: the
   * connection to NATS was lost, or the server stopped letting its user take
   * the cluster's requests, broadcasts or tunnels (a `PermissionError`: its
   * permissions changed; the member has left).
   */
  handleDrop?(reason: Error): void | Promise<void>;
}

/**
 * Counters of one service member, since it registered: the request counters
 * of every method together, and the rest.
 */
export interface ServiceStats extends MethodStats {
  /** Per method (`""` is `handleRequest`): the same request counters, for that method alone. */
  methods: Record<string, MethodStats>;
  /** Broadcasts handed to the handler. */
  broadcasts: number;
  /** Broadcasts whose handler threw. */
  broadcastErrors: number;
  /** Broadcasts dropped because the queue was full. */
  dropped: number;
  /** Requests, broadcasts and tunnel set-ups from the wire that could not be understood, or did not match the contract. */
  malformed: number;
  /** Tunnels accepted. */
  tunnels: number;
  /** handleTunnel calls that threw. */
  tunnelErrors: number;
  /** Request handlers running now. */
  requestsRunning: number;
  /** Bytes of requests waiting now. */
  requestsQueuedBytes: number;
  /** The most bytes of requests ever waiting at once. */
  requestsPeakQueuedBytes: number;
  /** Broadcast handlers running now. */
  broadcastsRunning: number;
  /** Bytes of broadcasts waiting now. */
  broadcastsQueuedBytes: number;
  /** The most bytes of broadcasts ever waiting at once. */
  broadcastsPeakQueuedBytes: number;
}

/** The request counters of one method (or of `handleRequest`). */
export interface MethodStats {
  /** Requests handed to the handler (or to a contract, which may refuse them as `malformed`). */
  requests: number;
  /** Requests whose handler threw or returned something invalid. */
  requestErrors: number;
  /** Milliseconds spent in request handlers, in total. */
  processingTime: number;
  /** Milliseconds per request handled, on average (0 before the first). */
  averageProcessingTime: number;
  /** Requests answered `OverloadedError` because the queue was full. */
  overloaded: number;
  /** Requests skipped because the caller had already given up. */
  expired: number;
  /** Requests from the wire that could not be understood, or did not match the contract. */
  malformed: number;
  /** Requests whose caller cancelled them (its signal aborted, or its connection closed) before they were answered. */
  cancelled: number;
}

/**
 * One registered member of a cluster, from {@link register} or
 * `conn.register`.
 *
 * @example
 * ```ts
 * await using svc = await register(url, "echo", { handleRequest: (req) => req });
 * console.log(svc.stats().requests);
 * ```
 */
export interface Service extends AsyncDisposable {
  /** The cluster this member belongs to. */
  readonly cluster: string;
  /** This member's unique id. */
  readonly id: string;
  /** The limits in force (defaults filled in). */
  readonly limits: Readonly<ServiceLimits>;
  /** How this member describes itself to discovery: version, description, metadata. */
  readonly info: Readonly<ServiceInfo>;
  /** Resolves once the service has stopped: undefined after `unregister()`, the reason when dropped. */
  readonly closed: Promise<Error | undefined>;
  /** Counters since registration. */
  stats(): ServiceStats;
  /**
   * Stops taking new work at once, lets running and queued handlers finish
   * (up to the connection's `drainTimeout`) and their replies go out, then
   * releases the NATS subscriptions. A service made by the top-level
   * `register()` also closes its connection. Idempotent.
   */
  unregister(): Promise<void>;
  /** Same as `unregister()`. */
  close(): Promise<void>;
}

/** What `register` takes besides limits to describe a member (micro protocol INFO). */
export interface ServiceInfo {
  /** The member's version, SemVer. Default `0.0.0`. */
  version: string;
  /** What the service does. */
  description: string;
  /** Free-form strings (region, env, ...), filtered on by `discover()`. */
  metadata: Readonly<Record<string, string>>;
}

/** One endpoint as the micro protocol's INFO and STATS describe it. */
export interface MicroEndpoint {
  name: string;
  subject: string;
  queue_group: string;
  metadata: Record<string, string> | null;
}

/** An endpoint's counters, as STATS reports them (times in nanoseconds). */
export interface MicroEndpointStats extends Omit<MicroEndpoint, "metadata"> {
  num_requests: number;
  num_errors: number;
  last_error: string;
  processing_time: number;
  average_processing_time: number;
  data: Record<string, number>;
}
