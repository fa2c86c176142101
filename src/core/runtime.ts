/**
 * The runtime: what every part of one connection shares (the NATS
 * connection, subjects, logger, telemetry, requests, default time-outs),
 * made once by the connection and handed down to services, topics, tunnels
 * and consumers instead of a bag of its own for each.
 */
import type { NatsConnection } from "@nats-io/nats-core";
import type { Logger } from "../api/index.js";
import type { Telemetry } from "../telemetry/index.js";
import type { Subjects } from "../wire/index.js";
import type { Denials } from "./denials.js";
import type { Requester } from "./requester.js";

export interface Runtime {
  readonly nc: NatsConnection;
  /** The subjects of the connection's namespace. */
  readonly subjects: Subjects;
  readonly logger: Logger;
  readonly telemetry: Telemetry;
  /** Publishes the server refused, told to the parts that made them. */
  readonly denials: Denials;
  /** Requests over the connection's shared reply subscription. */
  readonly requester: Requester;
  /** The connection's default time-out in ms (requests, set-ups, publishes, sends). */
  readonly timeout: number;
  /** How long closing waits for work in progress, in ms. */
  readonly drainTimeout: number;
  /** The prefix of the connection's inboxes (undefined: the client's default). */
  readonly inboxPrefix: string | undefined;
}
