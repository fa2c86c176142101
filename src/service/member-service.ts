import { nuid } from "@nats-io/nats-core";
import semver from "semver";
import type {
  BroadcastContext,
  Interceptor,
  MicroEndpoint,
  MicroEndpointStats,
  RequestContext,
  RequestHandler,
  ServiceHandler,
  ServiceInfo,
  ServiceLimits,
  ServiceOptions,
  ServiceStats,
} from "../api/index.js";
import { SERVICE_ENDPOINTS, validateHandler, validateName } from "../config/index.js";
import { incomingCall, intercepted, type Runtime, validateInterceptors } from "../core/index.js";
import { ClosedError, fromNatsError, InvalidArgumentError, type JetmeshError } from "../errors/index.js";
import { settlesWithin } from "../flow/index.js";
import { ATTR, type Observer } from "../telemetry/index.js";
import { REQUEST_QUEUE } from "../wire/index.js";
import { BroadcastDispatcher } from "./broadcast-dispatcher.js";
import { CLUSTER_KEY, MicroResponder, type MicroSource, NAMESPACE_KEY } from "./micro-responder.js";
import { type Endpoint, type EndpointPlan, RequestDispatcher } from "./request-dispatcher.js";
import { resolveServiceLimits } from "./service-limits.js";
import type { ServiceImpl, ServiceOwner } from "./service-owner.js";
import { TunnelDispatcher } from "./tunnel-dispatcher.js";

const METHODS = ["init", "handleRequest", "handleBroadcast", "handleTunnel", "handleDrop"] as const;

const INFO_KEYS = ["version", "description", "metadata", "interceptors"] as const;

/** What register()'s arguments say, checked: limits with defaults filled in, the member's description, its interceptors. */
interface ServiceArgs {
  limits: ServiceLimits;
  info: ServiceInfo;
  interceptors: Interceptor[];
}

/** Validates register()'s arguments. */
export function checkServiceArgs(cluster: unknown, handler: unknown, options: unknown): ServiceArgs {
  validateName("cluster", cluster);
  validateHandler("handler", handler, METHODS);
  // every method is optional, so a misspelt one would serve nothing without a word
  for (const key of Object.keys(handler as object)) {
    if (/^(handle|init)/.test(key) && !(METHODS as readonly string[]).includes(key)) {
      throw new InvalidArgumentError(`handler.${key} is not a handler method (known: ${METHODS.join(", ")})`);
    }
  }
  checkMethods((handler as ServiceHandler).methods);
  if (options === undefined)
    return { limits: resolveServiceLimits(undefined), info: resolveInfo({}), interceptors: [] };
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    // throws, naming what was given
    return { limits: resolveServiceLimits(options), info: resolveInfo({}), interceptors: [] };
  }
  const limits: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) if (!(INFO_KEYS as readonly string[]).includes(k)) limits[k] = v;
  return {
    limits: resolveServiceLimits(limits),
    info: resolveInfo(options as Partial<ServiceInfo>),
    interceptors: validateInterceptors("options.interceptors", (options as ServiceOptions).interceptors),
  };
}

/** `handler.methods`: an object of functions named as clusters are. */
function checkMethods(methods: unknown): void {
  if (methods === undefined) return;
  if (typeof methods !== "object" || methods === null || Array.isArray(methods)) {
    throw new InvalidArgumentError("handler.methods must be an object of request handlers, one per method");
  }
  for (const [name, fn] of Object.entries(methods)) {
    validateName(`handler.methods: a method name`, name);
    // micro endpoint names are unique in a service: these name the cluster's own endpoints
    if (SERVICE_ENDPOINTS.includes(name)) {
      throw new InvalidArgumentError(
        `handler.methods.${name}: "${name}" names one of the service's own micro endpoints (${SERVICE_ENDPOINTS.join(", ")}); choose another name`,
      );
    }
    if (typeof fn !== "function") throw new InvalidArgumentError(`handler.methods.${name} must be a function`);
  }
}

/** The request endpoints of `handler`: `handleRequest` and each method, each within `interceptors`. */
function endpointPlans(cluster: string, handler: ServiceHandler, interceptors: readonly Interceptor[]): EndpointPlan[] {
  const plans: EndpointPlan[] = [];
  // each runs with `this` the object it is a method of, as `handler.methods.create(...)` would
  const plan = (method: string | undefined, fn: RequestHandler, self: object) => {
    const handle = intercepted(interceptors, fn.bind(self), (payload: Uint8Array, ctx: RequestContext) =>
      incomingCall("request", cluster, method, payload, ctx.headers),
    );
    plans.push({ method, handle: handle as RequestHandler });
  };
  if (handler.handleRequest) plan(undefined, handler.handleRequest, handler);
  const methods = handler.methods ?? {};
  for (const [name, fn] of Object.entries(methods)) plan(name, fn, methods);
  return plans;
}

function resolveInfo(o: Partial<ServiceInfo>): ServiceInfo {
  const version = o.version ?? "0.0.0";
  // exactly a SemVer version, build metadata included, as the micro protocol's schema wants (no "v", no spaces)
  if (typeof version !== "string" || !isExactSemVer(version)) {
    throw new InvalidArgumentError(`options.version must be a SemVer version such as "1.2.3", got ${String(version)}`);
  }
  if (o.description !== undefined && typeof o.description !== "string") {
    throw new InvalidArgumentError("options.description must be a string");
  }
  const metadata: Record<string, string> = {};
  if (o.metadata !== undefined) {
    if (typeof o.metadata !== "object" || o.metadata === null || Array.isArray(o.metadata)) {
      throw new InvalidArgumentError("options.metadata must be an object of strings");
    }
    for (const [k, v] of Object.entries(o.metadata)) {
      if (typeof v !== "string") throw new InvalidArgumentError(`options.metadata.${k} must be a string`);
      if (k === NAMESPACE_KEY || k === CLUSTER_KEY)
        throw new InvalidArgumentError(`options.metadata.${k} is jetmesh's own`);
      metadata[k] = v;
    }
  }
  return { version, description: o.description ?? "", metadata };
}

function isExactSemVer(version: string): boolean {
  const v = semver.parse(version);
  if (v === null) return false;
  return (v.build.length === 0 ? v.version : `${v.version}+${v.build.join(".")}`) === version;
}

/** Validates, runs `init`, subscribes, and resolves once the member is live on the server. */
export async function createService(
  rt: Runtime,
  owner: ServiceOwner,
  cluster: string,
  handler: ServiceHandler,
  options: ServiceOptions | undefined,
): Promise<ServiceImpl> {
  const { limits, info, interceptors } = checkServiceArgs(cluster, handler, options);
  const svc = new MemberService(rt, owner, {
    cluster,
    handler,
    limits,
    // the connection's run outside the service's own
    interceptors: [...owner.interceptors, ...interceptors],
    info: { ...info, metadata: { ...info.metadata, [NAMESPACE_KEY]: rt.subjects.namespace, [CLUSTER_KEY]: cluster } },
  });
  await svc.start();
  return svc;
}

/** A member as checked: its cluster, handler, limits and what discovery says of it. */
interface MemberPlan {
  cluster: string;
  handler: ServiceHandler;
  limits: Readonly<ServiceLimits>;
  info: ServiceInfo;
  interceptors: readonly Interceptor[];
}

class MemberService implements ServiceImpl, MicroSource {
  readonly id = nuid.next();
  readonly started = new Date();
  readonly #micro: MicroResponder;
  readonly closed: Promise<Error | undefined>;
  readonly #rt: Runtime;
  readonly #owner: ServiceOwner;
  readonly #handler: ServiceHandler;
  readonly #requests: RequestDispatcher | undefined;
  readonly #broadcasts: BroadcastDispatcher | undefined;
  readonly #tunnels: TunnelDispatcher | undefined;
  #stopping: Promise<void> | undefined;
  #resolveClosed!: (reason: Error | undefined) => void;

  readonly cluster: string;
  readonly limits: Readonly<ServiceLimits>;
  readonly info: ServiceInfo;

  constructor(rt: Runtime, owner: ServiceOwner, member: MemberPlan) {
    const { cluster, handler, limits, interceptors } = member;
    this.cluster = cluster;
    this.limits = limits;
    this.info = member.info;
    this.#rt = rt;
    this.#owner = owner;
    this.#micro = new MicroResponder(rt, this);
    this.#handler = handler;
    this.closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
    const { handleBroadcast, handleTunnel } = handler;
    this.#tunnels = handleTunnel
      ? new TunnelDispatcher(
          rt,
          cluster,
          handleTunnel.bind(handler),
          (msg, malformed) => owner.acceptTunnel(msg, cluster, malformed),
          interceptors,
        )
      : undefined;
    const plans = endpointPlans(cluster, handler, interceptors);
    this.#requests =
      plans.length > 0
        ? new RequestDispatcher(rt, cluster, this.id, plans, limits.requestThreads, limits.requestMemory)
        : undefined;
    this.#broadcasts = handleBroadcast
      ? new BroadcastDispatcher(
          rt,
          cluster,
          intercepted(interceptors, handleBroadcast.bind(handler), (payload: Uint8Array, ctx: BroadcastContext) =>
            incomingCall("broadcast", cluster, undefined, payload, ctx.headers),
          ) as NonNullable<ServiceHandler["handleBroadcast"]>,
          limits.broadcastThreads,
          limits.broadcastMemory,
        )
      : undefined;
  }

  async start(): Promise<void> {
    await this.#handler.init?.(this.#owner.connection);
    try {
      this.#requests?.subscribe();
      this.#broadcasts?.subscribe();
      this.#tunnels?.subscribe();
      this.#micro.subscribe();
      // a subscription the server refuses is ended before the flush's answer comes
      await this.#rt.nc.flush();
    } catch (err) {
      await this.stop();
      throw fromNatsError(err, `register to cluster "${this.cluster}"`);
    }
    const parts = [this.#requests, this.#broadcasts, this.#tunnels, this.#micro];
    const refused = parts.find((p) => p?.refusal.error);
    if (refused) {
      await this.stop();
      throw refused.refusal.error;
    }
    for (const p of parts) if (p) p.refusal.whenRefused = (err) => this.#refusedLater(err);
    this.#rt.logger.info({ cluster: this.cluster, id: this.id }, "service registered");
  }

  stats(): ServiceStats {
    const r = this.#requests;
    const b = this.#broadcasts;
    const t = r?.total();
    const methods: ServiceStats["methods"] = {};
    for (const e of r?.endpoints ?? []) methods[e.method ?? ""] = e.stats();
    return {
      requests: t?.requests ?? 0,
      requestErrors: t?.requestErrors ?? 0,
      processingTime: t?.processingTime ?? 0,
      averageProcessingTime: t?.averageProcessingTime ?? 0,
      overloaded: t?.overloaded ?? 0,
      expired: t?.expired ?? 0,
      cancelled: t?.cancelled ?? 0,
      methods,
      broadcasts: b?.broadcasts ?? 0,
      broadcastErrors: b?.errors ?? 0,
      dropped: b?.dropped ?? 0,
      malformed: (t?.malformed ?? 0) + (b?.malformed ?? 0) + (this.#tunnels?.malformed ?? 0),
      tunnels: this.#tunnels?.accepted ?? 0,
      tunnelErrors: this.#tunnels?.errors ?? 0,
      requestsRunning: r?.queue.running ?? 0,
      requestsQueuedBytes: r?.queue.queuedBytes ?? 0,
      requestsPeakQueuedBytes: r?.queue.peakQueuedBytes ?? 0,
      broadcastsRunning: b?.queue.running ?? 0,
      broadcastsQueuedBytes: b?.queue.queuedBytes ?? 0,
      broadcastsPeakQueuedBytes: b?.queue.peakQueuedBytes ?? 0,
    };
  }

  endpoints(): MicroEndpoint[] {
    const { subjects } = this.#rt;
    const out: MicroEndpoint[] = [];
    for (const e of this.#requests?.endpoints ?? []) {
      out.push({
        name: e.name,
        subject: e.subject,
        queue_group: REQUEST_QUEUE,
        metadata: e.method === undefined ? null : { "jetmesh.method": e.method },
      });
    }
    if (this.#broadcasts) {
      out.push({ name: "broadcast", subject: subjects.broadcast(this.cluster), queue_group: "", metadata: null });
    }
    if (this.#tunnels) {
      out.push({
        name: "tunnel",
        subject: subjects.tunnelSetup(this.cluster),
        queue_group: this.cluster,
        metadata: null,
      });
    }
    return out;
  }

  endpointStats(): MicroEndpointStats[] {
    const s = this.stats();
    const ns = (ms: number) => Math.round(ms * 1e6);
    const byName = new Map<string, Endpoint>((this.#requests?.endpoints ?? []).map((e) => [e.name, e]));
    return this.endpoints().map(({ metadata: _, ...e }) => {
      const endpoint = byName.get(e.name);
      if (endpoint) {
        const m = endpoint.stats();
        return {
          ...e,
          // every request that arrived, and every one answered with an error (overloaded included)
          num_requests: endpoint.received,
          num_errors: m.requestErrors + m.overloaded + m.malformed,
          last_error: endpoint.lastError,
          processing_time: ns(m.processingTime),
          average_processing_time: ns(m.averageProcessingTime),
          data: {
            overloaded: m.overloaded,
            expired: m.expired,
            malformed: m.malformed,
            cancelled: m.cancelled,
            // the service's limits, shared by every method
            running: s.requestsRunning,
            queued_bytes: s.requestsQueuedBytes,
            peak_queued_bytes: s.requestsPeakQueuedBytes,
          },
        };
      }
      switch (e.name) {
        case "broadcast":
          return {
            ...e,
            num_requests: s.broadcasts,
            num_errors: s.broadcastErrors + (this.#broadcasts?.malformed ?? 0),
            last_error: "",
            processing_time: 0,
            average_processing_time: 0,
            data: {
              dropped: s.dropped,
              malformed: this.#broadcasts?.malformed ?? 0,
              running: s.broadcastsRunning,
              queued_bytes: s.broadcastsQueuedBytes,
              peak_queued_bytes: s.broadcastsPeakQueuedBytes,
            },
          };
        default:
          return {
            ...e,
            num_requests: s.tunnels + (this.#tunnels?.malformed ?? 0),
            num_errors: s.tunnelErrors + (this.#tunnels?.malformed ?? 0),
            last_error: "",
            processing_time: 0,
            average_processing_time: 0,
            data: {},
          };
      }
    });
  }

  readonly report: Observer = (observe) => {
    const s = this.stats();
    const member = { [ATTR.cluster]: this.cluster, [ATTR.member]: this.id };
    if (this.#requests) {
      const a = { ...member, [ATTR.kind]: "request" };
      observe("handlersActive", s.requestsRunning, a);
      observe("queuedBytes", s.requestsQueuedBytes, a);
      observe("requests", s.requests, member);
      observe("requestErrors", s.requestErrors + (this.#requests.total().malformed ?? 0), member);
      observe("overloaded", s.overloaded, member);
    }
    if (this.#broadcasts) {
      const a = { ...member, [ATTR.kind]: "broadcast" };
      observe("handlersActive", s.broadcastsRunning, a);
      observe("queuedBytes", s.broadcastsQueuedBytes, a);
      observe("broadcasts", s.broadcasts, member);
      observe("dropped", s.dropped, member);
    }
  };

  async unregister(): Promise<void> {
    await this.stop();
    if (this.#owner.ownsConnection) await this.#owner.connection.close();
  }

  close(): Promise<void> {
    return this.unregister();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.unregister();
  }

  stop(): Promise<void> {
    this.#stopping ??= this.#drainAndStop();
    return this.#stopping;
  }

  drop(reason: Error): Promise<void> {
    this.#stopping ??= this.#dropped(reason);
    return this.#stopping;
  }

  /**
   * The server ended one of the member's subscriptions after it registered
   * (its user's permissions changed): it leaves as if unregistered, and
   * handleDrop is told why.
   */
  #refusedLater(reason: JetmeshError): void {
    this.#stopping ??= this.#drainAndStop(reason);
  }

  async #drainAndStop(refused?: JetmeshError): Promise<void> {
    // a member going away is no longer discovered
    this.#micro.stop();
    const dispatchers = [this.#requests, this.#broadcasts].filter((d) => d !== undefined);
    await Promise.all([
      ...dispatchers.map((d) => d.drain(this.#rt.drainTimeout)),
      this.#tunnels?.stop(this.#rt.drainTimeout),
    ]);
    const idle = Promise.all(dispatchers.map((d) => d.queue.idle()));
    const drained = await settlesWithin(idle, this.#rt.drainTimeout);
    if (!drained) {
      this.#rt.logger.warn(
        { cluster: this.cluster, id: this.id, drainTimeout: this.#rt.drainTimeout },
        "handlers still running after the drain time-out; abandoning queued work",
      );
      for (const d of dispatchers) d.abandon();
    }
    this.#requests?.stop(new ClosedError(`service "${this.cluster}" stopped`));
    await settlesWithin(this.#rt.nc.flush(), this.#rt.drainTimeout);
    if (refused) await this.#tellDrop(refused);
    this.#owner.forget(this);
    this.#rt.logger.info({ cluster: this.cluster, id: this.id }, "service unregistered");
    this.#resolveClosed(refused);
  }

  async #tellDrop(reason: Error): Promise<void> {
    try {
      await this.#handler.handleDrop?.(reason);
    } catch (err) {
      this.#rt.logger.error({ cluster: this.cluster, err }, "handleDrop threw");
    }
  }

  async #dropped(reason: Error): Promise<void> {
    this.#micro.stop();
    for (const d of [this.#requests, this.#broadcasts]) {
      d?.queue.close();
      d?.queue.takeQueued();
    }
    this.#requests?.stop(reason);
    // the connection's end abandons its tunnels too
    await this.#tellDrop(reason);
    this.#owner.forget(this);
    this.#resolveClosed(reason);
  }
}
