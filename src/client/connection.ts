import type { NatsConnection } from "@nats-io/nats-core";
import type {
  Connection,
  ConnectionStatus,
  ContractHandler,
  DiscoverOptions,
  EventHandler,
  GatherOptions,
  GatherReply,
  Member,
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
  observedRequest,
  type ReplyDecoder,
  Requester,
  type Runtime,
  tracedBroadcast,
} from "../core/index.js";
import {
  ClosedError,
  ConnectionError,
  fromNatsError,
  type JetmeshError,
  PayloadTooLargeError,
} from "../errors/index.js";
import { settlesWithin } from "../flow/index.js";
import { PUBLISH_HEADER_BYTES } from "../jetstream/index.js";
import { createService, type ServiceImpl } from "../service/index.js";
import { Telemetry } from "../telemetry/index.js";
import { Topics } from "../topics/index.js";
import { Tunnels } from "../tunnel/index.js";
import { maxPayload, subjects } from "../wire/index.js";
import type { ResolvedSettings } from "./connect-options.js";
import { toConnectionStatus } from "./connection-status.js";
import { discover } from "./discover.js";
import { gather } from "./gather.js";

const CALL_KEYS = ["timeout", "signal"] as const;
const DONE: Promise<void> = Promise.resolve();

export class JetmeshConnection implements Connection {
  readonly #rt: Runtime;
  readonly #topics: Topics;
  readonly #tunnels: Tunnels;
  readonly #ownsNats: boolean;
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
    const rt: Runtime = {
      ...wiring,
      subjects: subjects(settings.namespace),
      telemetry: new Telemetry(settings.telemetry),
      requester: new Requester(wiring),
      timeout: settings.timeout,
      drainTimeout: settings.drainTimeout,
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
      const o = validateOptions<RequestOptions>("options", options, CALL_KEYS);
      const timeout = validateTimeout("options.timeout", o.timeout, this.#rt.timeout);
      const signal = validateSignal(o.signal);
      this.#checkSize(payload, `request to cluster "${cluster}"`);
      if (signal?.aborted) return Promise.reject(signal.reason);
      const subject = this.#rt.subjects.request(cluster);
      const t = this.#rt.telemetry;
      if (t.tracing || t.clientDuration) {
        return observedRequest(this.#rt, { subject, cluster, payload, timeout, signal, decode });
      }
      return this.#rt.requester.request(subject, cluster, payload, timeout, signal, undefined, decode);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  broadcast(cluster: string, payload: Uint8Array): Promise<void> {
    // not async: one shared resolved promise, no per-call promise machinery
    try {
      this.#ensureOpen("broadcast");
      validateName("cluster", cluster);
      validatePayload("payload", payload);
      this.#checkSize(payload, `broadcast to cluster "${cluster}"`);
      const subject = this.#rt.subjects.broadcast(cluster);
      const refused = this.#rt.denials.recent(subject);
      if (refused) throw refused;
      if (this.#rt.telemetry.tracing) tracedBroadcast(this.#rt, subject, cluster, payload);
      else this.#rt.nc.publish(subject, payload);
      return DONE;
    } catch (err) {
      return Promise.reject(fromNatsError(err, `broadcast to cluster "${cluster}"`));
    }
  }

  gather(cluster: string, payload: Uint8Array, options?: GatherOptions): AsyncIterable<GatherReply> {
    this.#ensureOpen("gather");
    return gather(this.#rt, cluster, payload, options, this.#closeSignal.signal);
  }

  publish(topic: string, payload: Uint8Array, options?: PublishOptions): Promise<PublishAck> {
    try {
      this.#ensureOpen("publish");
      validateName("topic", topic);
      validatePayload("payload", payload);
      const o = validateOptions<PublishOptions>("options", options, CALL_KEYS);
      const timeout = validateTimeout("options.timeout", o.timeout, this.#rt.timeout);
      const signal = validateSignal(o.signal);
      this.#checkSize(payload, `publish to topic "${topic}"`, PUBLISH_HEADER_BYTES);
      if (signal?.aborted) return Promise.reject(signal.reason);
      return this.#topics.publish(topic, payload, timeout, signal);
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
    const sub = await this.#topics.subscribe(topic, handler, options);
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
    const tun = await this.#tunnels.open(cluster, timeout, signal);
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

  /** Payloads (plus the `overhead` of headers jetmesh adds) above the server's max payload are refused here. */
  #checkSize(payload: Uint8Array, what: string, overhead = 0): void {
    const max = maxPayload(this.#rt.nc);
    if (max !== undefined && payload.byteLength + overhead > max) {
      throw new PayloadTooLargeError(
        `${what}: payload is ${payload.byteLength} bytes, the server's max is ${max - overhead}` +
          (overhead ? ` (its max payload ${max} less ${overhead} bytes of headers)` : ""),
      );
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
