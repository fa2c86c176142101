import { availableParallelism } from "node:os";

/** Every default jetmesh uses, in one place. */
export const DEFAULTS = {
  /** Subject namespace. */
  namespace: "jetmesh",
  /** Time-out of request, tunnel set-up, publish and tunnel send, in ms. */
  timeout: 10_000,
  /** How long connect() tries to reach a server before failing, in ms. */
  connectTimeout: 5_000,
  /** How long unregister()/close() wait for running handlers, in ms. */
  drainTimeout: 5_000,
  /** -1: reconnect forever. */
  maxReconnectAttempts: -1,
  /** Concurrent handlers per kind: 4 x CPU count, as in Iris. */
  threads: 4 * availableParallelism(),
  /** Bytes of messages waiting per queue: 64 MiB, as in Iris. */
  memory: 64 * 1024 * 1024,
  /** Longest time-out accepted (2^31 - 1 ms, the most a timer can wait). */
  maxTimeout: 2 ** 31 - 1,
} as const;

/**
 * The names of a service's own micro endpoints: no method may take one, as
 * micro endpoint names are unique within a service.
 */
export const SERVICE_ENDPOINTS: readonly string[] = ["request", "broadcast", "tunnel"];
