/**
 * The tunnels of one connection: the stream their messages go through, the
 * publisher, set-up from either end, and ending them with the connection.
 *
 * Set-up: the opener starts listening on its incoming subject, then asks the
 * cluster (`<ns>.tun.<cluster>`, queue group: one member) with the tunnel's
 * random id, its window and heartbeat; the member that accepts starts
 * listening too and answers with its window. Only then does either end send.
 */
import { randomBytes } from "node:crypto";
import type { Msg, MsgHdrs, NatsConnection } from "@nats-io/nats-core";
import type { Span } from "@opentelemetry/api";
import {
  ATTR,
  ClosedError,
  ERROR_KIND,
  endSpan,
  errorHeaders,
  type JetmeshError,
  type Logger,
  ManagedStream,
  maxDelivery,
  type Observer,
  Publisher,
  payloadLimit,
  RemoteError,
  SpanKind,
  type Subjects,
  type Telemetry,
  TimeoutError,
  watchReconnects,
} from "../internal/index.js";
import type { ResolvedTunnels } from "./settings.js";
import { TunnelEnd, type TunnelHost, type TunnelPlan } from "./tunnel.js";
import type { Tunnel } from "./types.js";

const ID = /^[0-9a-f]{32}$/;

export interface TunnelsHost {
  nc: NatsConnection;
  subjects: Subjects;
  logger: Logger;
  telemetry: Telemetry;
  drainTimeout: number;
  inboxPrefix: string | undefined;
  timeout: number;
  settings: ResolvedTunnels;
  /** A request to a cluster (the connection's); `hdrs` must carry the time-out header (see requestHeaders). */
  request(
    subject: string,
    cluster: string,
    payload: Uint8Array,
    timeout: number,
    signal: AbortSignal | undefined,
    hdrs: MsgHdrs | undefined,
  ): Promise<Uint8Array>;
  /** Headers of a request with `timeout`, to add trace context to. */
  requestHeaders(timeout: number): MsgHdrs;
}

interface SetUp {
  id: string;
  window: number;
  heartbeat: number;
  maxMessage: number;
}

/** The longest heartbeat an opener may ask for, in ms. */
const MAX_HEARTBEAT = 60_000;

export class Tunnels {
  readonly #host: TunnelsHost;
  readonly #stream: ManagedStream;
  #publisher: Publisher | undefined;
  readonly #ends = new Set<TunnelEnd>();
  #stopWatch: (() => void) | undefined;
  readonly #traffic = { sent: 0, received: 0 };

  constructor(host: TunnelsHost) {
    this.#host = host;
    this.#stream = new ManagedStream(host.nc, host.settings.stream, host.subjects.tunnels, "tunnels");
  }

  /** Opens a tunnel to one member of `cluster` (arguments validated by the caller). */
  async open(cluster: string, timeout: number, signal: AbortSignal | undefined): Promise<Tunnel> {
    const t = this.#host.telemetry;
    if (!t.tracing) return this.#open(cluster, timeout, signal, undefined);
    const span = t.start("tunnel", cluster, SpanKind.CLIENT, {
      [ATTR.destination]: this.#host.subjects.tunnelSetup(cluster),
      [ATTR.operationType]: "send",
      [ATTR.cluster]: cluster,
    });
    try {
      const tun = await this.#open(cluster, timeout, signal, span);
      span.setAttribute(ATTR.tunnel, tun.id);
      span.end();
      return tun;
    } catch (err) {
      endSpan(span, err);
      throw err;
    }
  }

  /** Reports the tunnels' traffic as metrics. */
  readonly report: Observer = (observe) => {
    if (this.#publisher === undefined && this.#traffic.received === 0) return;
    observe("tunnelBytes", this.#traffic.sent, { [ATTR.direction]: "sent" });
    observe("tunnelBytes", this.#traffic.received, { [ATTR.direction]: "received" });
  };

  async #open(
    cluster: string,
    timeout: number,
    signal: AbortSignal | undefined,
    span: Span | undefined,
  ): Promise<Tunnel> {
    const deadline = Date.now() + timeout;
    await this.#stream.ensure();
    const { settings, subjects } = this.#host;
    const id = randomBytes(16).toString("hex");
    const end = this.#end(cluster, id, "o", settings.window, settings.heartbeat);
    const setUp: SetUp = {
      id,
      window: settings.window,
      heartbeat: settings.heartbeat,
      maxMessage: settings.maxMessage,
    };
    let reply: Uint8Array;
    try {
      await end.listen();
      const left = deadline - Date.now();
      if (left < 1) throw new TimeoutError(`tunnel set-up with cluster "${cluster}" timed out after ${timeout} ms`);
      let hdrs: MsgHdrs | undefined;
      if (span && this.#host.telemetry.carries(span)) {
        hdrs = this.#host.requestHeaders(left);
        this.#host.telemetry.inject(span, hdrs);
      }
      reply = await this.#host.request(
        subjects.tunnelSetup(cluster),
        cluster,
        new TextEncoder().encode(JSON.stringify(setUp)),
        left,
        signal,
        hdrs,
      );
    } catch (err) {
      await end.abandon(new ClosedError("tunnel set-up failed", { cause: err }));
      throw err;
    }
    let peerWindow: unknown;
    let peerMax: unknown;
    try {
      ({ window: peerWindow, maxMessage: peerMax } = JSON.parse(new TextDecoder().decode(reply)) as {
        window?: unknown;
        maxMessage?: unknown;
      });
    } catch {
      // handled below
    }
    if (
      typeof peerWindow !== "number" ||
      !Number.isSafeInteger(peerWindow) ||
      peerWindow < 1 ||
      typeof peerMax !== "number" ||
      !Number.isSafeInteger(peerMax) ||
      peerMax < 1
    ) {
      const err = new RemoteError(
        `tunnel set-up with cluster "${cluster}": the member's answer could not be read`,
        "BAD_REPLY",
      );
      await end.abandon(new ClosedError("tunnel set-up failed", { cause: err }));
      throw err;
    }
    end.begin(peerWindow, peerMax);
    return end;
  }

  /**
   * Accepts a set-up request that reached a member of `cluster`: listens,
   * answers with this end's window, and returns the tunnel (undefined when the
   * request could not be understood; it is answered with an error).
   */
  async accept(msg: Msg, cluster: string): Promise<TunnelEnd | undefined> {
    const t = this.#host.telemetry;
    if (!t.tracing) return this.#accept(msg, cluster);
    const span = t.start(
      "accept",
      cluster,
      SpanKind.SERVER,
      { [ATTR.destination]: msg.subject, [ATTR.operationType]: "process", [ATTR.cluster]: cluster },
      t.extract(msg),
    );
    try {
      const tun = await this.#accept(msg, cluster);
      if (tun) span.setAttribute(ATTR.tunnel, tun.id);
      endSpan(span, tun ? undefined : new RemoteError("tunnel set-up refused", ERROR_KIND.badRequest));
      return tun;
    } catch (err) {
      endSpan(span, err);
      throw err;
    }
  }

  async #accept(msg: Msg, cluster: string): Promise<TunnelEnd | undefined> {
    const setUp = readSetUp(msg.data);
    if (setUp === undefined || !msg.reply) {
      this.#host.logger.warn({ cluster, subject: msg.subject }, "malformed tunnel set-up request");
      if (msg.reply) {
        this.#respond(msg, new Uint8Array(0), ERROR_KIND.badRequest, "malformed tunnel set-up request");
      }
      return undefined;
    }
    const { settings } = this.#host;
    const end = this.#end(cluster, setUp.id, "a", settings.window, setUp.heartbeat);
    try {
      await this.#stream.ensure();
      await end.listen();
    } catch (err) {
      await end.abandon(new ClosedError("tunnel set-up failed", { cause: err }));
      this.#respond(
        msg,
        new Uint8Array(0),
        ERROR_KIND.remote,
        `the member could not set up the tunnel: ${(err as Error).message}`,
      );
      return undefined;
    }
    end.begin(setUp.window, setUp.maxMessage);
    this.#respond(
      msg,
      new TextEncoder().encode(JSON.stringify({ window: settings.window, maxMessage: settings.maxMessage })),
    );
    return end;
  }

  /** Ends every tunnel of this connection: closed (the other ends told), or abandoned when the connection was lost. */
  async close(lost: JetmeshError | undefined): Promise<void> {
    this.#stopWatch?.();
    const ends = [...this.#ends];
    await Promise.all(
      ends.map((t) => (lost ? t.abandon(new ClosedError("the connection was lost", { cause: lost })) : t.close())),
    );
    this.#publisher?.rejectAll(new ClosedError("the connection was closed"));
    this.#publisher?.close();
  }

  #respond(msg: Msg, data: Uint8Array, kind?: (typeof ERROR_KIND)[keyof typeof ERROR_KIND], message?: string): void {
    try {
      if (kind === undefined) msg.respond(data);
      else msg.respond(data, { headers: errorHeaders(kind, message ?? kind, kind) });
    } catch (err) {
      this.#host.logger.warn({ err }, "tunnel set-up answer could not be sent");
    }
  }

  #end(cluster: string, id: string, side: "o" | "a", window: number, heartbeat: number): TunnelEnd {
    const { subjects, settings } = this.#host;
    const opener = side === "o";
    const plan: TunnelPlan = {
      id,
      cluster,
      stream: this.#stream.name,
      outSubject: subjects.tunnelData(id, opener ? "up" : "down"),
      inSubject: subjects.tunnelData(id, opener ? "down" : "up"),
      controlIn: subjects.tunnelControl(id, opener ? "o" : "a"),
      controlOut: subjects.tunnelControl(id, opener ? "a" : "o"),
      window,
      maxMessage: settings.maxMessage,
      heartbeat,
      maxChunk: payloadLimit(this.#host.nc),
      maxEvent: maxDelivery(this.#host.nc),
    };
    const end = new TunnelEnd(this.#tunnelHost(), plan);
    this.#ends.add(end);
    return end;
  }

  #tunnelHost(): TunnelHost {
    const host = this.#host;
    let publisher = this.#publisher;
    if (publisher === undefined) {
      publisher = new Publisher(host.nc, host.logger, host.inboxPrefix, this.#stream, "tunnel");
      this.#publisher = publisher;
      this.#stopWatch = watchReconnects(host.nc, host.logger, () => {
        this.#publisher?.resendAll();
        for (const end of this.#ends) end.reconnected();
      });
    }
    return {
      ...this.#stream.consumerHost(host.logger, host.inboxPrefix, host.drainTimeout),
      timeout: host.timeout,
      traffic: this.#traffic,
      publisher,
      forget: (end) => this.#ends.delete(end),
    };
  }
}

function readSetUp(data: Uint8Array): SetUp | undefined {
  let v: Partial<SetUp>;
  try {
    v = JSON.parse(new TextDecoder().decode(data)) as Partial<SetUp>;
  } catch {
    return undefined;
  }
  if (typeof v !== "object" || v === null) return undefined;
  const { id, window, heartbeat, maxMessage } = v;
  const count = (n: unknown, min: number, max = Number.MAX_SAFE_INTEGER): n is number =>
    typeof n === "number" && Number.isSafeInteger(n) && n >= min && n <= max;
  if (typeof id !== "string" || !ID.test(id)) return undefined;
  if (!count(window, 1) || !count(heartbeat, 10, MAX_HEARTBEAT) || !count(maxMessage, 1)) return undefined;
  return { id, window, heartbeat, maxMessage };
}
