import type { Msg } from "@nats-io/nats-core";
import type { Connection, Interceptor, Service } from "../api/index.js";
import type { Observer } from "../telemetry/index.js";
import type { TunnelEnd } from "../tunnel/index.js";

/** What a service needs of the connection that owns it, beside the runtime. */
export interface ServiceOwner {
  /** The connection, handed to the handler's `init`. */
  readonly connection: Connection;
  /** Whether unregister() also closes the connection. */
  readonly ownsConnection: boolean;
  /** The connection's interceptors: around every handler, outside the service's own. */
  readonly interceptors: readonly Interceptor[];
  /** Accepts a tunnel set-up request (undefined when it was refused, and answered so). */
  acceptTunnel(msg: Msg, cluster: string, malformed?: () => void): Promise<TunnelEnd | undefined>;
  /** Called once the service has stopped. */
  forget(svc: ServiceImpl): void;
}

/** The service as its connection sees it. */
export interface ServiceImpl extends Service {
  /** Stops the service (as unregister) without closing the connection. */
  stop(): Promise<void>;
  /** The connection was lost for good: calls handleDrop. */
  drop(reason: Error): Promise<void>;
  /** Reports the counters as metrics. */
  report: Observer;
}
