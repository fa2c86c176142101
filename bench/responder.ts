/**
 * The responder process of the benchmarks: a jetmesh member of cluster
 * "bench" and a raw NATS responder on "raw.req", both echoing; both count
 * broadcasts received; a typed member of "bench-typed" and a traced member
 * of "bench-traced"; a member of "bench-echo" and a raw subscriber on
 * "raw.bcast.echo" sending each broadcast back (to "bench.echo.*"). Answers
 * "counts", "stats" and "cpu" (its CPU time, µs) over the fork IPC channel.
 */
import { connect as natsConnect } from "@nats-io/transport-node";
import { connect, register } from "jetmesh";
import { cpuMicros } from "./lib.js";
import { BenchOrder, noopExportingProvider } from "./typed-contract.js";

const url = process.argv[2] ?? "nats://127.0.0.1:4222";
const counts = { jetmesh: 0, raw: 0 };

const svc = await register({ servers: url, namespace: "bench" }, "bench", {
  handleRequest: (req) => req,
  handleBroadcast: () => {
    counts.jetmesh++;
  },
});
// the typed path: a contract member answering a small msgpack object
const typed = await connect({ servers: url, namespace: "bench" });
await typed.register(BenchOrder, { handleRequest: (order) => ({ id: order.id, accepted: true }) });
// tracing on, exported to nowhere: what an SDK costs at the member
const tracerProvider = await noopExportingProvider();
if (tracerProvider) {
  const traced = await connect({ servers: url, namespace: "bench", telemetry: { tracerProvider } });
  await traced.register("bench-traced", { handleRequest: (req) => req });
}
const nc = await natsConnect({ servers: url });
nc.subscribe("raw.req", { queue: "raw", callback: (_e, msg) => void msg.respond(msg.data) });
// lone broadcasts' round trips: echoed back over core NATS
await typed.register("bench-echo", { handleBroadcast: (msg) => nc.publish("bench.echo.jetmesh", msg) });
nc.subscribe("raw.bcast.echo", { callback: (_e, msg) => nc.publish("bench.echo.raw", msg.data) });
nc.subscribe("raw.bcast", {
  callback: () => {
    counts.raw++;
  },
});
await nc.flush();

process.on("message", (m: { id: number; cmd: string }) => {
  const value =
    m.cmd === "counts" ? { ...counts } : m.cmd === "stats" ? svc.stats() : m.cmd === "cpu" ? cpuMicros() : true;
  process.send?.({ id: m.id, value });
});
process.on("disconnect", () => process.exit(0));
