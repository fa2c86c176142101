/**
 * The closed-loop variants of the request and publish benchmarks, by name,
 * so that each can be measured in a process of its own (isolated.ts): no
 * variant's heap, garbage or JIT feedback (the NATS client's code is shared by
 * all of them) weighs on another's figures.
 */
import { jetstream } from "@nats-io/jetstream";
import { connect as natsConnect } from "@nats-io/transport-node";
import { connect } from "jetmesh";
import { RawMux } from "./raw-mux.js";
import { RawPub } from "./raw-pub.js";

/** What a measurement needs: the operation, and how to let go of what it holds. */
export interface Variant {
  op: () => Promise<unknown>;
  close: () => Promise<void>;
}

export interface VariantArgs {
  /** Payload bytes. */
  size: number;
}

/** Namespace and subject of the publish benchmark (jetmesh's topics stream holds the raw subject too). */
export const PUBLISH_NAMESPACE = "benchpub";
export const PUBLISH_RAW_SUBJECT = `${PUBLISH_NAMESPACE}.topic.raw`;

const payloadOf = (size: number, fill: number) => new Uint8Array(size).fill(fill);

export const VARIANTS: Record<string, (url: string, args: VariantArgs) => Promise<Variant>> = {
  "request jetmesh": async (url, { size }) => {
    const conn = await connect({ servers: url, namespace: "bench" });
    const payload = payloadOf(size, 7);
    return { op: () => conn.request("bench", payload), close: () => conn.close() };
  },
  "request +interceptor": async (url, { size }) => {
    const conn = await connect({
      servers: url,
      namespace: "bench",
      interceptors: [{ outgoing: (_call, next) => next() }],
    });
    const payload = payloadOf(size, 7);
    return { op: () => conn.request("bench", payload), close: () => conn.close() };
  },
  "request raw tuned": async (url, { size }) => {
    const nc = await natsConnect({ servers: url, noAsyncTraces: true });
    const mux = new RawMux(nc, 10_000);
    const payload = payloadOf(size, 7);
    return {
      op: () => mux.request("raw.req", payload),
      close: async () => {
        mux.close();
        await nc.close();
      },
    };
  },
  "request raw request()": async (url, { size }) => {
    const nc = await natsConnect({ servers: url });
    const payload = payloadOf(size, 7);
    return { op: () => nc.request("raw.req", payload, { timeout: 10_000 }), close: () => nc.close() };
  },
  "publish jetmesh": async (url, { size }) => {
    const conn = await connect({ servers: url, namespace: PUBLISH_NAMESPACE });
    const payload = payloadOf(size, 5);
    return { op: () => conn.publish("bench", payload), close: () => conn.close() };
  },
  "publish raw pipelined": async (url, { size }) => rawPublisher(url, size, false),
  "publish raw + Msg-Id": async (url, { size }) => rawPublisher(url, size, true),
  "publish js.publish()": async (url, { size }) => {
    const nc = await natsConnect({ servers: url });
    const js = jetstream(nc);
    const payload = payloadOf(size, 5);
    return { op: () => js.publish(PUBLISH_RAW_SUBJECT, payload), close: () => nc.close() };
  },
};

async function rawPublisher(url: string, size: number, withMsgId: boolean): Promise<Variant> {
  const nc = await natsConnect({ servers: url, noAsyncTraces: true });
  const raw = new RawPub(nc, 10_000);
  const payload = payloadOf(size, 5);
  return {
    op: () => raw.publish(PUBLISH_RAW_SUBJECT, payload, withMsgId),
    close: async () => {
      raw.close();
      await nc.close();
    },
  };
}
