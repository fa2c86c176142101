import type { MsgHdrs, NatsConnection } from "@nats-io/nats-core";
import type {
  Connection,
  ConnectionStatus,
  ContractHandler,
  DiscoverOptions,
  EventContext,
  EventHandler,
  GatherOptions,
  GatherReply,
  Interceptor,
  Member,
  OutgoingCall,
  PublishAck,
  PublishOptions,
  RequestOptions,
  Service,
  ServiceClient,
  ServiceContract,
  ServiceHandler,
  ServiceOptions,
  SubscribeOptions,
  Subscription,
  TopicClient,
  TopicContract,
  TopicHandler,
  Tunnel,
  TunnelOptions,
} from "../api/index.js";
import { validateName, validateOptions, validatePayload, validateSignal, validateTimeout } from "../config/index.js";
import { byteHandler, clientOf, type DecodedRequest, isContract } from "../contract/index.js";
import {
  Denials,
  headersOf,
  incomingCall,
  intercepted,
  type OutgoingChain,
  type OutgoingRequest,
  observedRequest,
  outgoingCall,
  outgoingChain,
  type ReplyDecoder,
  Requester,
  type Runtime,
  tracedBroadcast,
  validateInterceptors,
  WriteCoalescer,
} from "../core/index.js";
import {
  ClosedError,
  ConnectionError,
  fromNatsError,
  InvalidArgumentError,
  type JetmeshError,
  TimeoutError,
} from "../errors/index.js";
import { type ResolvedRetry, resolveRetry, settlesWithin, withRetries } from "../flow/index.js";
import { PUBLISH_HEADER_BYTES } from "../jetstream/index.js";
import { createService, type ServiceImpl } from "../service/index.js";
import { Telemetry } from "../telemetry/index.js";
import { Topics } from "../topics/index.js";
import { Tunnels } from "../tunnel/index.js";
import { checkPayloadSize, HEADER, maxPayload, subjects } from "../wire/index.js";
import type { ResolvedSettings } from "./connect-options.js";
import { toConnectionStatus } from "./connection-status.js";
import { discover } from "./discover.js";
import { gather } from "./gather.js";

const CALL_KEYS = ["timeout", "signal"] as const;
const REQUEST_KEYS = ["timeout", "signal", "method", "retry", "idempotent"] as const;
const DONE: Promise<void> = Promise.resolve();
const EMPTY = new Uint8Array(0);

export class JetmeshConnection implements Connection {
  readonly #rt: Runtime;
  readonly #topics: Topics;
  readonly #tunnels: Tunnels;
  readonly #ownsNats: boolean;
  /** Every handler's interceptors (the connection's), and the chain around outgoing calls: undefined when none. */
  readonly #interceptors: readonly Interceptor[];
  readonly #outgoing: OutgoingChain | undefined;
  /** Requests' default retries; undefined: one attempt. */
  readonly #retry: ResolvedRetry | undefined;
  /** Aborted (with a ClosedError) when the connection starts closing: waits that hold no other handle end with it. */
  readonly #closeSignal = new AbortController();
  readonly #services = new Set<ServiceImpl>();
  #closing: Promise<void> | undefined;
  #resolveClosed!: (reason: Error | undefined) => void;
  readonly closed: Promise<Error | undefined>;
  /** What typed clients send their requests with. */
  readonly #decodedRequest: DecodedRequest = (cluster, payload, options, decode) =>
    this.requestDecoded(cluster, payload, options, decode);

  constructor(nc: NatsConnection, settings: ResolvedSettings, ownsNats: boolean) {
    const wiring = {
      nc,
      logger: settings.logger,
      inboxPrefix: settings.inboxPrefix,
      denials: new Denials(nc, settings.logger),
    };
    const names = subjects(settings.namespace);
    const rt: Runtime = {
      ...wiring,
      subjects: names,
      telemetry: new Telemetry(settings.telemetry),
      requester: new Requester(wiring, names.cancel),
      timeout: settings.timeout,
      drainTimeout: settings.drainTimeout,
      coalescer: new WriteCoalescer(nc),
    };
    this.#rt = rt;
    this.#topics = new Topics(rt, settings.topics);
    this.#tunnels = new Tunnels(rt, settings.tunnels);
    this.#rt.telemetry.observe((observe) => {
      for (const svc of this.#services) svc.report(observe);
      this.#topics.report(observe);
      this.#tunnels.report(observe);
    });
    this.#ownsNats = ownsNats;
    this.#interceptors = settings.interceptors;
    this.#outgoing = outgoingChain(settings.interceptors);
    this.#retry = settings.retry;
    this.closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
    nc.closed().then(
      (err) => this.#lost(err ?? undefined),
      (err: unknown) => this.#lost(err instanceof Error ? err : new Error(String(err))),
    );
  }

  get namespace(): string {
    return this.#rt.subjects.namespace;
  }

  get nats(): NatsConnection {
    return this.#rt.nc;
  }

  request(cluster: string, payload: Uint8Array, options?: RequestOptions): Promise<Uint8Array> {
    return this.requestDecoded(cluster, payload, options, undefined);
  }

  /** request(), resolving with what `decode` makes of the reply (a typed client's reply, without another hop). */
  requestDecoded(
    cluster: string,
    payload: Uint8Array,
    options: RequestOptions | undefined,
    decode: ReplyDecoder,
  ): Promise<Uint8Array> {
    // not async: the requester's promise is returned as is, saving a hop per call
    try {
      this.#ensureOpen("request");
      validateName("cluster", cluster);
      validatePayload("payload", payload);
      const o = validateOptions<RequestOptions>("options", options, REQUEST_KEYS);
      const timeout = validateTimeout("options.timeout", o.timeout, this.#rt.timeout);
      const signal = validateSignal(o.signal);
      const method = o.method === undefined ? undefined : validateName("options.method", o.method);
      const retry =
        o.retry === undefined ? this.#retry : o.retry === false ? undefined : resolveRetry("options.retry", o.retry);
      if (o.idempotent !== undefined && typeof o.idempotent !== "boolean") {
        throw new InvalidArgumentError(`options.idempotent must be a boolean, got ${String(o.idempotent)}`);
      }
      this.#checkRequestSize(payload, cluster);
      if (signal?.aborted) return Promise.reject(signal.reason);
      const subject = this.#rt.subjects.request(cluster, method);
      const t = this.#rt.telemetry;
      if (this.#outgoing === undefined && retry === undefined && !t.tracing && !t.clientDuration) {
        // the plain path: nothing made per call beyond the requester's own
        return this.#rt.requester.request(subject, cluster, payload, timeout, signal, undefined, decode);
      }
      const call: OutgoingRequest = {
        subject,
        cluster,
        payload,
        timeout,
        signal,
        decode,
        headers: undefined,
      };
      // one time-out for the whole call: interceptors and every attempt spend it
      const start = performance.now();
      const attempts = (c: OutgoingRequest): Promise<Uint8Array> => {
        const left = Math.floor(timeout - (performance.now() - start));
        if (left < 1) {
          return Promise.reject(new TimeoutError(`request to cluster "${cluster}" timed out after ${timeout} ms`));
        }
        if (retry === undefined) return this.#attempt({ ...c, timeout: left });
        return withRetries(retry, left, signal, o.idempotent === true, (remaining) =>
          this.#attempt({ ...c, timeout: remaining }),
        );
      };
      if (this.#outgoing === undefined) return attempts(call);
      const outgoing = outgoingCall("request", cluster, method, payload, timeout);
      return this.#outgoing(outgoing, async (sent) =>
        attempts({ ...call, payload: this.#replaced(sent, payload), headers: headersOf(sent) }),
      ) as Promise<Uint8Array>;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** One attempt of a request. */
  #attempt(call: OutgoingRequest): Promise<Uint8Array> {
    const t = this.#rt.telemetry;
    if (call.headers) {
      // an interceptor's headers carry this attempt's deadline too, and take their part of the max payload
      call.headers.set(HEADER.timeout, String(call.timeout));
      try {
        checkPayloadSize(this.#rt.nc, `request to cluster "${call.cluster}"`, call.payload, 0, call.headers);
      } catch (err) {
        return Promise.reject(err);
      }
    }
    if (t.tracing || t.clientDuration) return observedRequest(this.#rt, call);
    const { subject, cluster, payload, timeout, signal, headers, decode } = call;
    return this.#rt.requester.request(subject, cluster, payload, timeout, signal, headers, decode);
  }

  broadcast(cluster: string, payload: Uint8Array): Promise<void> {
    // not async: one shared resolved promise, no per-call promise machinery
    try {
      this.#ensureOpen("broadcast");
      validateName("cluster", cluster);
      validatePayload("payload", payload);
      this.#checkSize(payload, "broadcast to cluster", cluster);
      const subject = this.#rt.subjects.broadcast(cluster);
      const refused = this.#rt.denials.recent(subject);
      if (refused) throw refused;
      if (this.#outgoing) {
        const call = outgoingCall("broadcast", cluster, undefined, payload, undefined);
        return this.#outgoing(call, async (sent) => {
          const bytes = this.#replaced(sent, payload);
          const hdrs = headersOf(sent);
          checkPayloadSize(this.#rt.nc, `broadcast to cluster "${cluster}"`, bytes, 0, hdrs);
          this.#broadcast(subject, cluster, bytes, hdrs);
        }).then(() => undefined);
      }
      this.#broadcast(subject, cluster, payload, undefined);
      return DONE;
    } catch (err) {
      return Promise.reject(fromNatsError(err, `broadcast to cluster "${cluster}"`));
    }
  }

  #broadcast(subject: string, cluster: string, payload: Uint8Array, hdrs: MsgHdrs | undefined): void {
    try {
      // resolved before anything answers it: a loop of awaited broadcasts would be a write each
      this.#rt.coalescer.hold();
      if (this.#rt.telemetry.tracing) tracedBroadcast(this.#rt, subject, cluster, payload, hdrs);
      else this.#rt.nc.publish(subject, payload, hdrs ? { headers: hdrs } : undefined);
    } catch (err) {
      throw fromNatsError(err, `broadcast to cluster "${cluster}"`);
    }
  }

  gather(cluster: string, payload: Uint8Array, options?: GatherOptions): AsyncIterable<GatherReply> {
    this.#ensureOpen("gather");
    return gather(this.#rt, cluster, payload, options, this.#closeSignal.signal, this.#outgoing);
  }

  publish(topic: string, payload: Uint8Array, options?: PublishOptions): Promise<PublishAck> {
    try {
      this.#ensureOpen("publish");
      validateName("topic", topic);
      validatePayload("payload", payload);
      const o = validateOptions<PublishOptions>("options", options, CALL_KEYS);
      const timeout = validateTimeout("options.timeout", o.timeout, this.#rt.timeout);
      const signal = validateSignal(o.signal);
      this.#checkSize(payload, "publish to topic", topic, PUBLISH_HEADER_BYTES);
      if (signal?.aborted) return Promise.reject(signal.reason);
      if (this.#outgoing === undefined) return this.#topics.publish(topic, payload, timeout, signal);
      const call = outgoingCall("publish", topic, undefined, payload, timeout);
      return this.#outgoing(call, (sent) => {
        const bytes = this.#replaced(sent, payload);
        const hdrs = headersOf(sent);
        checkPayloadSize(this.#rt.nc, `publish to topic "${topic}"`, bytes, PUBLISH_HEADER_BYTES, hdrs);
        return this.#topics.publish(topic, bytes, timeout, signal, hdrs);
      }) as Promise<PublishAck>;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  async subscribe(
    topic: string,
    handler: EventHandler | TopicHandler,
    options?: SubscribeOptions,
  ): Promise<Subscription> {
    this.#ensureOpen("subscribe");
    const own = validateInterceptors("options.interceptors", (options as SubscribeOptions | undefined)?.interceptors);
    const all = own.length === 0 ? this.#interceptors : [...this.#interceptors, ...own];
    const sub = await this.#topics.subscribe(
      topic,
      all.length === 0 ? handler : interceptEvents(all, topic, handler),
      options,
    );
    if (this.#closing) {
      await sub.unsubscribe();
      throw new ClosedError("subscribe: the connection was closed while subscribing");
    }
    return sub;
  }

  async unsubscribe(topic: string): Promise<void> {
    this.#ensureOpen("unsubscribe");
    await this.#topics.unsubscribe(topic);
  }

  async tunnel(cluster: string, options?: TunnelOptions): Promise<Tunnel> {
    this.#ensureOpen("tunnel");
    validateName("cluster", cluster);
    const o = validateOptions<TunnelOptions>("options", options, CALL_KEYS);
    const timeout = validateTimeout("options.timeout", o.timeout, this.#rt.timeout);
    const signal = validateSignal(o.signal);
    signal?.throwIfAborted();
    const tun =
      this.#outgoing === undefined
        ? await this.#tunnels.open(cluster, timeout, signal)
        : ((await this.#outgoing(outgoingCall("tunnel", cluster, undefined, EMPTY, timeout), (sent) =>
            this.#tunnels.open(cluster, timeout, signal, headersOf(sent)),
          )) as Tunnel);
    if (this.#closing) {
      await tun.close();
      throw new ClosedError("tunnel: the connection was closed while opening the tunnel");
    }
    return tun;
  }

  register(
    cluster: string | ServiceContract,
    handler: ServiceHandler | ContractHandler<never, never, never>,
    options?: ServiceOptions,
  ): Promise<Service> {
    return this.registerOwned(cluster, handler, options, false);
  }

  use(contract: ServiceContract | TopicContract): ServiceClient<never, never, never> & TopicClient<never> {
    return clientOf(this, this.#decodedRequest, contract) as ServiceClient<never, never, never> & TopicClient<never>;
  }

  /** register(), optionally handing the service ownership of this connection. */
  async registerOwned(
    target: string | ServiceContract,
    typed: ServiceHandler | ContractHandler<never, never, never>,
    options: ServiceOptions | undefined,
    ownsConnection: boolean,
  ): Promise<Service> {
    this.#ensureOpen("register");
    const [cluster, handler] = serviceTarget(target, typed);
    const svc = await createService(
      this.#rt,
      {
        connection: this,
        ownsConnection,
        interceptors: this.#interceptors,
        forget: (svc) => this.#services.delete(svc),
        acceptTunnel: (msg, cluster, malformed) => this.#tunnels.accept(msg, cluster, malformed),
      },
      cluster,
      handler,
      options,
    );
    if (this.#closing) {
      await svc.stop();
      throw new ClosedError("register: the connection was closed while registering");
    }
    this.#services.add(svc);
    return svc;
  }

  async discover(cluster?: string, options?: DiscoverOptions): Promise<Member[]> {
    this.#ensureOpen("discover");
    return discover(this.#rt, cluster, options, this.#closeSignal.signal);
  }

  status(): AsyncIterable<ConnectionStatus> {
    // listening starts with the iteration: a status() never iterated holds nothing
    return { [Symbol.asyncIterator]: () => this.#statuses() };
  }

  async *#statuses(): AsyncGenerator<ConnectionStatus> {
    if (this.#closing !== undefined) throw new ClosedError("status: the connection is closed");
    for await (const s of this.#rt.nc.status()) {
      const status = toConnectionStatus(s);
      if (status) yield status;
    }
  }

  close(): Promise<void> {
    this.#closing ??= this.#shutdown(undefined);
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #ensureOpen(what: string): void {
    if (this.#closing) throw new ClosedError(`${what}: the connection is closed`);
  }

  /** The payload an interceptor hands on: checked as the caller's was, when it replaced it. */
  #replaced(sent: OutgoingCall, given: Uint8Array): Uint8Array {
    if (sent.payload !== given) validatePayload(`the payload an interceptor set on a ${sent.kind}`, sent.payload);
    return sent.payload;
  }

  /** A request's payload, with the deadline header every request carries. */
  #checkRequestSize(payload: Uint8Array, cluster: string): void {
    this.#checkSize(payload, "request to cluster", cluster, this.#rt.requester.headerBytes);
  }

  /**
   * Payloads (plus the `overhead` of headers jetmesh adds) above the server's
   * max payload are refused here, as `<what> "<name>"`: a message made only
   * then (every call pays for a string built up front).
   */
  #checkSize(payload: Uint8Array, what: string, name: string, overhead = 0): void {
    const max = maxPayload(this.#rt.nc);
    if (max !== undefined && payload.byteLength + overhead > max) {
      checkPayloadSize(this.#rt.nc, `${what} "${name}"`, payload, overhead);
    }
  }

  /** The NATS connection ended: by our close(), by its owner's close(), or lost for good. */
  #lost(err: Error | undefined): void {
    if (this.#closing) return;
    if (!this.#ownsNats && err === undefined) {
      // the user closed their own NATS connection: a close, not a drop
      this.#closing = this.#shutdown(undefined);
      return;
    }
    const reason: JetmeshError =
      err === undefined
        ? new ConnectionError("the connection to NATS was closed")
        : fromNatsError(err, "the connection to NATS was lost");
    this.#rt.logger.error({ err: reason }, "connection to NATS lost for good");
    this.#closing = this.#shutdown(reason);
  }

  async #shutdown(lost: JetmeshError | undefined): Promise<void> {
    const closed = new ClosedError(lost ? "the connection to NATS was lost" : "the connection was closed", {
      cause: lost,
    });
    this.#closeSignal.abort(closed);
    // the members still handling this connection's requests may stop: nobody will read their replies
    if (!lost) this.#rt.requester.cancelAll();
    this.#rt.requester.rejectAll(closed);
    this.#topics.rejectAll(closed);
    const services = [...this.#services];
    this.#services.clear();
    await Promise.all([...services.map((svc) => (lost ? svc.drop(lost) : svc.stop())), this.#topics.close()]);
    await this.#tunnels.close(lost);
    this.#rt.telemetry.close();
    this.#rt.denials.stop();
    if (!lost) {
      this.#rt.requester.close();
      if (this.#ownsNats) {
        await settlesWithin(this.#rt.nc.flush(), this.#rt.drainTimeout);
        await this.#rt.nc.close().catch(() => {});
      }
    }
    this.#resolveClosed(lost);
  }
}

/** register()'s cluster and byte-level handler, from a name and a handler or a contract and a typed handler. */
export function serviceTarget(
  target: string | ServiceContract,
  handler: ServiceHandler | ContractHandler<never, never, never>,
): [string, ServiceHandler] {
  if (isContract(target)) {
    return [target.name, byteHandler(target as ServiceContract, handler as ContractHandler<unknown, unknown, unknown>)];
  }
  return [target as string, handler as ServiceHandler];
}

/** `handler` (a function or a `{ handleEvent }`) within `interceptors`. */
function interceptEvents(
  interceptors: readonly Interceptor[],
  topic: string,
  handler: EventHandler | TopicHandler,
): EventHandler {
  const fn = typeof handler === "function" ? handler : handler?.handleEvent?.bind(handler);
  // a handler that is neither is refused by subscribe, as without interceptors
  if (typeof fn !== "function") return handler as EventHandler;
  return intercepted(interceptors, fn, (payload: Uint8Array, ctx: EventContext) =>
    incomingCall("event", topic, undefined, payload, ctx.headers),
  ) as EventHandler;
}
