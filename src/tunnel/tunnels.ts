/**
 * The tunnels of one connection: the stream their messages go through, the
 * publisher, set-up from either end, and ending them with the connection.
 *
 * Set-up: the opener starts listening on its incoming subject, then asks the
 * cluster (`<ns>.tun.<cluster>`, queue group: one member) with the tunnel's
 * random id, its window and heartbeat; the member that accepts starts
 * listening too and answers with its window. Both say they read END frames
 * (`halfClose`). Only then does either end send.
 */
import { randomBytes } from "node:crypto";
import type { Msg, MsgHdrs } from "@nats-io/nats-core";
import type { Span } from "@opentelemetry/api";
import type { Tunnel } from "../api/index.js";
import { type Runtime, watchConnection } from "../core/index.js";
import { ClosedError, JetmeshError, RemoteError, TimeoutError } from "../errors/index.js";
import { withDeadline } from "../flow/index.js";
import { fromJetStreamError, ManagedStream, Publisher } from "../jetstream/index.js";
import { ATTR, endSpan, type Observer, SpanKind } from "../telemetry/index.js";
import { ERROR_KIND, errorHeaders, HEADER, maxDelivery, payloadLimit } from "../wire/index.js";
import type { ResolvedTunnels } from "./settings.js";
import { encodeTerms, readSetUpAnswer, readSetUpRequest, type SetUpRequest } from "./setup-terms.js";
import { TunnelEnd, type TunnelShared } from "./tunnel-end.js";
import type { PeerTerms, TunnelPlan } from "./tunnel-plan.js";

/**
 * A frame not acknowledged after this long is sent again: a stream leader
 * that died may have taken it with it (the tunnel's own sequence drops
 * copies), in ms.
 */
const ACK_RETRY_MS = 3_000;

/** Maps what a set-up step threw to a jetmesh error. */
function setUpError(err: unknown, what: string): unknown {
  if (err instanceof JetmeshError || !(err instanceof Error)) return err;
  return fromJetStreamError(err, what);
}

export class Tunnels {
  readonly #rt: Runtime;
  readonly #settings: ResolvedTunnels;
  readonly #stream: ManagedStream;
  #publisher: Publisher | undefined;
  readonly #ends = new Set<TunnelEnd>();
  #stopWatch: (() => void) | undefined;
  #resendTimer: ReturnType<typeof setInterval> | undefined;
  /** The connection is down (between a disconnect and the reconnect). */
  #down = false;
  readonly #traffic = { sent: 0, received: 0, malformed: 0 };

  constructor(rt: Runtime, settings: ResolvedTunnels) {
    this.#rt = rt;
    this.#settings = settings;
    this.#stream = new ManagedStream(rt.nc, settings.stream, rt.subjects.tunnels, "tunnels");
  }

  /** Wire input dropped by this connection's tunnels (set-up requests and answers, frames, control messages). */
  get malformed(): number {
    return this.#traffic.malformed;
  }

  /**
   * Opens a tunnel to one member of `cluster` (arguments validated by the
   * caller). `extra`: headers its set-up request carries (an interceptor's).
   */
  async open(cluster: string, timeout: number, signal: AbortSignal | undefined, extra?: MsgHdrs): Promise<Tunnel> {
    const t = this.#rt.telemetry;
    if (!t.tracing) return this.#open(cluster, timeout, signal, undefined, extra);
    const span = t.start("tunnel", cluster, SpanKind.CLIENT, {
      [ATTR.destination]: this.#rt.subjects.tunnelSetup(cluster),
      [ATTR.operationType]: "send",
      [ATTR.cluster]: cluster,
    });
    try {
      const tun = await this.#open(cluster, timeout, signal, span, extra);
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
    extra: MsgHdrs | undefined,
  ): Promise<Tunnel> {
    // every step waits within the call's time-out and signal, whatever its own time-outs are
    const deadline = performance.now() + timeout;
    const timedOut = () => new TimeoutError(`tunnel set-up with cluster "${cluster}" timed out after ${timeout} ms`);
    const step = <T>(work: Promise<T>, what: string) =>
      withDeadline(
        work.catch((err: unknown) => {
          throw setUpError(err, what);
        }),
        deadline - performance.now(),
        signal,
        timedOut,
      );
    await step(this.#stream.ensure(), `tunnel to cluster "${cluster}"`);
    const settings = this.#settings;
    const { subjects } = this.#rt;
    const id = randomBytes(16).toString("hex");
    const end = this.#end(cluster, id, "o", settings.heartbeat, settings.outageTimeout);
    const setUp: SetUpRequest = {
      id,
      window: settings.window,
      heartbeat: settings.heartbeat,
      maxMessage: settings.maxMessage,
      outageTimeout: settings.outageTimeout,
      maxPayload: payloadLimit(this.#rt.nc),
      halfClose: true,
    };
    let reply: Uint8Array;
    try {
      await step(end.listen(), `tunnel to cluster "${cluster}"`);
      const left = Math.floor(deadline - performance.now());
      if (left < 1) throw timedOut();
      let hdrs = extra;
      if (hdrs) hdrs.set(HEADER.timeout, String(left));
      if (span && this.#rt.telemetry.carries(span)) {
        hdrs ??= this.#rt.requester.headersWith(left);
        this.#rt.telemetry.inject(span, hdrs);
      }
      const asking = this.#rt.requester.request(
        subjects.tunnelSetup(cluster),
        cluster,
        encodeTerms(setUp),
        left,
        signal,
        hdrs,
      );
      reply = await step(asking, `tunnel set-up with cluster "${cluster}"`);
    } catch (err) {
      // released in the background: the caller hears of the failure now
      void end.abandon(new ClosedError("tunnel set-up failed", { cause: err }));
      throw err;
    }
    const answer = readSetUpAnswer(reply, { maxPayload: setUp.maxPayload });
    if (answer === undefined) {
      this.#traffic.malformed++;
      const err = new RemoteError(
        `tunnel set-up with cluster "${cluster}": the member's answer could not be read`,
        "BAD_REPLY",
      );
      this.#warn({ cluster, tunnel: id }, "malformed tunnel set-up answer");
      void end.abandon(new ClosedError("tunnel set-up failed", { cause: err }));
      throw err;
    }
    end.begin(answer);
    return end;
  }

  /**
   * Accepts a set-up request that reached a member of `cluster`: listens,
   * answers with this end's window, and returns the tunnel (undefined when the
   * request could not be understood; it is answered with an error).
   */
  async accept(msg: Msg, cluster: string, malformed?: () => void): Promise<TunnelEnd | undefined> {
    const t = this.#rt.telemetry;
    if (!t.tracing) return this.#accept(msg, cluster, malformed);
    const span = t.start(
      "accept",
      cluster,
      SpanKind.SERVER,
      { [ATTR.destination]: msg.subject, [ATTR.operationType]: "process", [ATTR.cluster]: cluster },
      t.extract(msg),
    );
    try {
      const tun = await this.#accept(msg, cluster, malformed);
      if (tun) span.setAttribute(ATTR.tunnel, tun.id);
      endSpan(span, tun ? undefined : new RemoteError("tunnel set-up refused", ERROR_KIND.badRequest));
      return tun;
    } catch (err) {
      endSpan(span, err);
      throw err;
    }
  }

  async #accept(msg: Msg, cluster: string, malformed: (() => void) | undefined): Promise<TunnelEnd | undefined> {
    const settings = this.#settings;
    const maxPayload = payloadLimit(this.#rt.nc);
    const setUp = readSetUpRequest(msg.data, { outageTimeout: settings.outageTimeout, maxPayload });
    if (setUp === undefined || !msg.reply || this.#has(setUp.id)) {
      this.#traffic.malformed++;
      malformed?.();
      this.#warn({ cluster, subject: msg.subject }, "malformed tunnel set-up request");
      if (msg.reply) {
        this.#respond(msg, new Uint8Array(0), ERROR_KIND.badRequest, "malformed tunnel set-up request");
      }
      return undefined;
    }
    // the opener waits at most its time-out; this end no longer than its own
    const deadline = performance.now() + this.#rt.timeout;
    const timedOut = () => new TimeoutError(`tunnel set-up timed out after ${this.#rt.timeout} ms`);
    const what = `tunnel "${setUp.id}" from cluster "${cluster}"`;
    const end = this.#end(cluster, setUp.id, "a", setUp.heartbeat, setUp.outageTimeout);
    try {
      await withDeadline(this.#stream.ensure(), deadline - performance.now(), undefined, timedOut);
      await withDeadline(end.listen(), deadline - performance.now(), undefined, timedOut);
    } catch (error) {
      const err = error instanceof TimeoutError ? error : setUpError(error, what);
      void end.abandon(new ClosedError("tunnel set-up failed", { cause: err }));
      this.#respond(
        msg,
        new Uint8Array(0),
        ERROR_KIND.remote,
        `the member could not set up the tunnel: ${err instanceof Error ? err.message : String(err)}`,
      );
      return undefined;
    }
    const peer: PeerTerms = {
      window: setUp.window,
      maxMessage: setUp.maxMessage,
      maxPayload: setUp.maxPayload,
      halfClose: setUp.halfClose === true,
    };
    end.begin(peer);
    this.#respond(
      msg,
      encodeTerms({ window: settings.window, maxMessage: settings.maxMessage, maxPayload, halfClose: true }),
    );
    return end;
  }

  /** Ends every tunnel of this connection: closed (the other ends told), or abandoned when the connection was lost. */
  async close(lost: JetmeshError | undefined): Promise<void> {
    this.#stopWatch?.();
    clearInterval(this.#resendTimer);
    const ends = [...this.#ends];
    await Promise.all(
      ends.map((t) => (lost ? t.abandon(new ClosedError("the connection was lost", { cause: lost })) : t.close())),
    );
    this.#publisher?.rejectAll(new ClosedError("the connection was closed"));
    this.#publisher?.close();
  }

  #has(id: string): boolean {
    for (const end of this.#ends) if (end.id === id) return true;
    return false;
  }

  #warn(context: object, message: string): void {
    try {
      this.#rt.logger.warn(context, message);
    } catch {
      // a logger that throws must not stop set-up
    }
  }

  #respond(msg: Msg, data: Uint8Array, kind?: (typeof ERROR_KIND)[keyof typeof ERROR_KIND], message?: string): void {
    try {
      if (kind === undefined) msg.respond(data);
      else msg.respond(data, { headers: errorHeaders(kind, message ?? kind, kind) });
    } catch (err) {
      this.#warn({ err }, "tunnel set-up answer could not be sent");
    }
  }

  #end(cluster: string, id: string, side: "o" | "a", heartbeat: number, outageTimeout: number): TunnelEnd {
    const settings = this.#settings;
    const { subjects } = this.#rt;
    const opener = side === "o";
    const plan: TunnelPlan = {
      id,
      cluster,
      stream: this.#stream.name,
      outSubject: subjects.tunnelData(id, opener ? "up" : "down"),
      inSubject: subjects.tunnelData(id, opener ? "down" : "up"),
      controlIn: subjects.tunnelControl(id, opener ? "o" : "a"),
      controlOut: subjects.tunnelControl(id, opener ? "a" : "o"),
      window: settings.window,
      maxMessage: settings.maxMessage,
      heartbeat,
      outageTimeout,
      maxChunk: payloadLimit(this.#rt.nc),
      maxEvent: maxDelivery(this.#rt.nc),
    };
    const end = new TunnelEnd(this.#rt, this.#shared(), plan);
    if (this.#down) end.disconnected();
    this.#ends.add(end);
    return end;
  }

  #shared(): TunnelShared {
    const rt = this.#rt;
    let publisher = this.#publisher;
    if (publisher === undefined) {
      publisher = new Publisher(rt, this.#stream, "tunnel");
      this.#publisher = publisher;
      this.#stopWatch = watchConnection(rt.nc, rt.logger, {
        down: () => {
          this.#down = true;
          for (const end of this.#ends) end.disconnected();
        },
        up: () => {
          this.#down = false;
          this.#publisher?.resendAll();
          for (const end of this.#ends) end.reconnected();
        },
      });
      // frames a lost stream leader took with it are sent again (while connected; a reconnect re-sends all)
      this.#resendTimer = setInterval(() => {
        if (!this.#down) this.#publisher?.resendOlderThan(ACK_RETRY_MS);
      }, ACK_RETRY_MS);
      this.#resendTimer.unref?.();
    }
    return {
      stream: this.#stream,
      traffic: this.#traffic,
      publisher,
      forget: (end) => this.#ends.delete(end),
    };
  }
}
