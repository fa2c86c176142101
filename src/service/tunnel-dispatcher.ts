/** Tunnel set-up of one member: a queue subscription, and the tunnels it accepted (ended with the member). */
import { Empty, type Msg, type Subscription } from "@nats-io/nats-core";
import type { Interceptor, ServiceHandler } from "../api/index.js";
import { incomingCall, intercepted, type Runtime } from "../core/index.js";
import { settlesWithin } from "../flow/index.js";
import { safeCallback } from "../logging/index.js";
import type { TunnelEnd } from "../tunnel/index.js";
import { codeOf, ERROR_KIND, errorHeaders } from "../wire/index.js";
import { Refusal } from "./refusal.js";

type TunnelHandler = NonNullable<ServiceHandler["handleTunnel"]>;

export class TunnelDispatcher {
  /** Tunnels accepted. */
  accepted = 0;
  /** handleTunnel calls that threw (their tunnel is closed). */
  errors = 0;
  /** Set-up requests that could not be understood (answered BAD_REQUEST). */
  malformed = 0;
  readonly refusal: Refusal;
  readonly #open = new Set<TunnelEnd>();
  /** Set-ups still being accepted: stop() waits for them, and closes what they bring. */
  readonly #accepting = new Set<Promise<unknown>>();
  #stopped = false;
  #sub: Subscription | undefined;
  /** A set-up within the interceptors: `setUp` accepts it and runs the handler. */
  readonly #setUp: (msg: Msg, setUp: () => Promise<unknown>) => Promise<unknown>;

  constructor(
    private readonly rt: Runtime,
    private readonly cluster: string,
    private readonly handle: TunnelHandler,
    /** Accepts one set-up request (undefined when it was refused, and answered so). */
    private readonly accept: (msg: Msg, malformed: () => void) => Promise<TunnelEnd | undefined>,
    interceptors: readonly Interceptor[],
  ) {
    this.refusal = new Refusal(rt, cluster, "tunnel set-ups");
    this.#setUp = intercepted(
      interceptors,
      (_msg: Msg, setUp: () => Promise<unknown>) => setUp(),
      (msg: Msg) => incomingCall("tunnel", cluster, undefined, Empty, msg.headers),
    );
  }

  subscribe(): void {
    this.#sub = this.rt.nc.subscribe(this.rt.subjects.tunnelSetup(this.cluster), {
      queue: this.cluster,
      callback: safeCallback(this.rt.logger, "tunnel set-up", (err, msg) => {
        if (err) {
          this.refusal.note(err);
          return;
        }
        // where it got to: an error before the accept is an interceptor's refusal, after the handler's start the handler's own
        let stage: "asked" | "accepting" | "running" = "asked";
        const setUp = () => {
          stage = "accepting";
          const accepting = this.accept(msg, () => this.malformed++);
          // stop() waits for the accept alone (a running handler lasts as long as its tunnel)
          const tracked = accepting.then(
            () => undefined,
            () => undefined,
          );
          this.#accepting.add(tracked);
          void tracked.finally(() => this.#accepting.delete(tracked));
          return accepting.then((tun) => {
            if (!tun) return undefined;
            stage = "running";
            return this.#run(tun);
          });
        };
        void this.#setUp(msg, setUp).then(undefined, (error: unknown) => {
          if (stage === "asked") this.#refuse(msg, error);
          else if (stage === "accepting") {
            this.rt.logger.warn({ cluster: this.cluster, err: error }, "tunnel set-up failed");
          }
          // a handler's failure is logged where it runs
        });
      }),
    });
  }

  /** Stops taking tunnels and closes those accepted (their other ends read what was sent, then end). */
  async stop(ms: number): Promise<void> {
    if (this.#sub) await settlesWithin(this.#sub.drain(), ms);
    this.#stopped = true;
    await settlesWithin(Promise.all([...this.#accepting]), ms);
    await Promise.all([...this.#open].map((t) => t.close()));
  }

  /** An interceptor refused the set-up: its opener gets a RemoteError with the interceptor's message and code. */
  #refuse(msg: Msg, err: unknown): void {
    this.errors++;
    const message = err instanceof Error ? err.message : String(err);
    try {
      msg.respond(Empty, { headers: errorHeaders(ERROR_KIND.remote, message, codeOf(err)) });
    } catch (error) {
      this.rt.logger.warn({ cluster: this.cluster, err: error }, "tunnel refusal could not be sent");
    }
  }

  /** Runs the handler of an accepted tunnel; resolves when it returns (a throw closes the tunnel). */
  #run(tun: TunnelEnd): Promise<unknown> | undefined {
    if (this.#stopped) {
      // accepted while the service stopped: it does not get the tunnel
      void tun.close();
      return undefined;
    }
    this.accepted++;
    this.#open.add(tun);
    void tun.closed.then(() => this.#open.delete(tun));
    const running = Promise.resolve().then(() => this.handle(tun));
    running.catch((err: unknown) => {
      this.errors++;
      this.rt.logger.warn({ cluster: this.cluster, tunnel: tun.id, err }, "handleTunnel threw; closing the tunnel");
      return tun.close();
    });
    return running;
  }
}
