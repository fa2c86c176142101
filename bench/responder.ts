/**
 * The responder process of the benchmarks: a jetmesh member of cluster
 * "bench" and a raw NATS responder on "raw.req", both echoing; both count
 * broadcasts received. Controlled over the fork IPC channel.
 */
import { connect as natsConnect } from "@nats-io/transport-node";
import { register } from "jetmesh";

const url = process.argv[2] ?? "nats://127.0.0.1:4222";
const counts = { jetmesh: 0, raw: 0 };

const svc = await register({ servers: url, namespace: "bench" }, "bench", {
  handleRequest: (req) => req,
  handleBroadcast: () => {
    counts.jetmesh++;
  },
});
const nc = await natsConnect({ servers: url });
nc.subscribe("raw.req", { queue: "raw", callback: (_e, msg) => void msg.respond(msg.data) });
nc.subscribe("raw.bcast", {
  callback: () => {
    counts.raw++;
  },
});
await nc.flush();

process.on("message", (m: { id: number; cmd: string }) => {
  const value = m.cmd === "counts" ? { ...counts } : m.cmd === "stats" ? svc.stats() : true;
  process.send?.({ id: m.id, value });
});
process.on("disconnect", () => process.exit(0));
