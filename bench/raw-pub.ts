/**
 * A hand-pipelined raw JetStream publisher, the yardstick for jetmesh's
 * publish path: plain publishes with a reply subject over {@link RawMux},
 * JetStream's PubAck JSON matched to its call; no headers, or (to show what
 * de-duplication costs) just a `Nats-Msg-Id`.
 */
import { headers, type Msg, type NatsConnection, nuid } from "@nats-io/nats-core";
import { RawMux } from "./raw-mux.js";

export interface RawAck {
  stream: string;
  seq: number;
  duplicate?: boolean;
}

interface AckBody extends Partial<RawAck> {
  error?: { code?: number; err_code?: number; description?: string };
}

function readAck(msg: Msg): RawAck {
  const ack = msg.json<AckBody>();
  if (ack.error) throw new Error(ack.error.description ?? "refused");
  if (typeof ack.seq !== "number") throw new Error("ack without seq");
  return ack as RawAck;
}

export class RawPub {
  readonly #mux: RawMux<RawAck>;

  constructor(nc: NatsConnection, timeout: number) {
    this.#mux = new RawMux(nc, timeout, readAck);
  }

  /** Publishes and resolves with the ack; `withMsgId` adds a `Nats-Msg-Id` header, as a de-duplicating publisher must. */
  publish(subject: string, data: Uint8Array, withMsgId = false): Promise<RawAck> {
    if (!withMsgId) return this.#mux.request(subject, data);
    const h = headers();
    h.set("Nats-Msg-Id", nuid.next());
    return this.#mux.request(subject, data, h);
  }

  close(): void {
    this.#mux.close();
  }
}
