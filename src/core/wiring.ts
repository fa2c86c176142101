import type { NatsConnection } from "@nats-io/nats-core";
import type { Logger } from "../api/index.js";
import type { Denials } from "./denials.js";

/** What anything that publishes and waits for replies needs of a connection (the runtime has it all). */
export interface Wiring {
  readonly nc: NatsConnection;
  readonly logger: Logger;
  /** The prefix of the connection's inboxes (undefined: the client's default). */
  readonly inboxPrefix: string | undefined;
  /** Publishes the server refused, told to the parts that made them. */
  readonly denials: Denials;
}
