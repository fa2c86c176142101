/**
 * The receiving process of the tunnel benchmark: a jetmesh member of cluster
 * "sink" (namespace "benchtun") whose handleTunnel reads every message, and a
 * raw ordered consumer on the raw stream's subject; both only count messages
 * and bytes. Controlled over the fork IPC channel: "mark" answers the counts
 * with this process's clock, so rates are counted where messages arrive;
 * "consume <json>" (re)starts the raw consumer with those consume() options.
 *
 * argv: url, then a JSON argument {@link SinkArgs}.
 */
import { type ConsumeOptions, type Consumer, type ConsumerMessages, jetstream } from "@nats-io/jetstream";
import { connect as natsConnect } from "@nats-io/transport-node";
import { connect } from "jetmesh";
import { cpuMicros } from "./lib.js";

export interface SinkArgs {
  namespace: string;
  cluster: string;
  window: number;
  rawStream: string;
  rawSubject: string;
}

export interface Counts {
  msgs: number;
  bytes: number;
}

export interface Mark {
  jetmesh: Counts;
  raw: Counts;
  /** performance.now() here, in ms. */
  at: number;
}

const url = process.argv[2] ?? "nats://127.0.0.1:4222";
const args = JSON.parse(process.argv[3] ?? "{}") as SinkArgs;
const counts = { jetmesh: { msgs: 0, bytes: 0 }, raw: { msgs: 0, bytes: 0 } };

const conn = await connect({ servers: url, namespace: args.namespace, tunnels: { window: args.window } });
await conn.register(args.cluster, {
  async handleTunnel(tun) {
    for await (const m of tun) {
      counts.jetmesh.msgs++;
      counts.jetmesh.bytes += m.byteLength;
    }
  },
});

const nc = await natsConnect({ servers: url, noAsyncTraces: true });
const js = jetstream(nc);
let raw: { consumer: Consumer; msgs: ConsumerMessages } | undefined;

/** (Re)starts the raw ordered consumer, pulling as `options` say, from the first message the stream holds. */
async function consumeRaw(options: Partial<ConsumeOptions>): Promise<void> {
  if (raw) {
    await raw.msgs.close();
    await raw.consumer.delete().catch(() => {});
  }
  // a string, not an array: filter_subjects (plural) needs nats-server 2.10
  const consumer = await js.consumers.get(args.rawStream, { filter_subjects: args.rawSubject });
  const msgs = await consumer.consume({
    ...options,
    callback: (m) => {
      counts.raw.msgs++;
      counts.raw.bytes += m.data.byteLength;
    },
  } as ConsumeOptions);
  raw = { consumer, msgs };
}

process.on("message", (m: { id: number; cmd: string }) => {
  const answer = (value: unknown) => process.send?.({ id: m.id, value });
  if (m.cmd === "cpu") {
    answer(cpuMicros());
  } else if (m.cmd === "mark") {
    answer({ jetmesh: { ...counts.jetmesh }, raw: { ...counts.raw }, at: performance.now() } satisfies Mark);
  } else if (m.cmd.startsWith("consume ")) {
    consumeRaw(JSON.parse(m.cmd.slice("consume ".length)) as Partial<ConsumeOptions>).then(
      () => answer(true),
      (err: unknown) => {
        console.error("tunnel sink: raw consumer:", err);
        process.exit(1);
      },
    );
  } else {
    answer(true);
  }
});
process.on("disconnect", () => process.exit(0));
