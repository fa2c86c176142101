/**
 * The runtime: what every part of one connection shares (the NATS
 * connection, subjects, logger, telemetry, requests, default time-outs),
 * made once by the connection and handed down to services, topics, tunnels
 * and consumers instead of a bag of its own for each.
 */
import type { Telemetry } from "../telemetry/index.js";
import type { Subjects } from "../wire/index.js";
import type { Requester } from "./requester.js";
import type { Wiring } from "./wiring.js";
import type { WriteCoalescer } from "./write-coalescing.js";

export interface Runtime extends Wiring {
  /** The subjects of the connection's namespace. */
  readonly subjects: Subjects;
  readonly telemetry: Telemetry;
  /** Requests over the connection's shared reply subscription. */
  readonly requester: Requester;
  /** The connection's default time-out in ms (requests, set-ups, publishes, sends). */
  readonly timeout: number;
  /** How long closing waits for work in progress, in ms. */
  readonly drainTimeout: number;
  /** Call before a publish whose call resolves before any answer (a broadcast, a tunnel send): see write-coalescing.ts. */
  readonly coalescer: WriteCoalescer;
}
