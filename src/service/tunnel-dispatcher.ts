/** Tunnel set-up of one member: a queue subscription, and the tunnels it accepted (ended with the member). */
import type { Msg, Subscription } from "@nats-io/nats-core";
import type { ServiceHandler } from "../api/index.js";
import type { Runtime } from "../core/index.js";
import { settlesWithin } from "../flow/index.js";
import { safeCallback } from "../logging/index.js";
import type { TunnelEnd } from "../tunnel/index.js";
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

  constructor(
    private readonly rt: Runtime,
    private readonly cluster: string,
    private readonly handle: TunnelHandler,
    /** Accepts one set-up request (undefined when it was refused, and answered so). */
    private readonly accept: (msg: Msg, malformed: () => void) => Promise<TunnelEnd | undefined>,
  ) {
    this.refusal = new Refusal(rt, cluster, "tunnel set-ups");
  }

  subscribe(): void {
    this.#sub = this.rt.nc.subscribe(this.rt.subjects.tunnelSetup(this.cluster), {
      queue: this.cluster,
      callback: safeCallback(this.rt.logger, "tunnel set-up", (err, msg) => {
        if (err) {
          this.refusal.note(err);
          return;
        }
        const accepting = this.accept(msg, () => this.malformed++).then(
          (tun) => {
            if (tun) this.#run(tun);
          },
          (error: unknown) => this.rt.logger.warn({ cluster: this.cluster, err: error }, "tunnel set-up failed"),
        );
        this.#accepting.add(accepting);
        void accepting.finally(() => this.#accepting.delete(accepting));
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

  #run(tun: TunnelEnd): void {
    if (this.#stopped) {
      // accepted while the service stopped: it does not get the tunnel
      void tun.close();
      return;
    }
    this.accepted++;
    this.#open.add(tun);
    void tun.closed.then(() => this.#open.delete(tun));
    Promise.resolve()
      .then(() => this.handle(tun))
      .catch((err: unknown) => {
        this.errors++;
        this.rt.logger.warn({ cluster: this.cluster, tunnel: tun.id, err }, "handleTunnel threw; closing the tunnel");
        return tun.close();
      });
  }
}
