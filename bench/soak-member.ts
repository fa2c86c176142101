/**
 * The member process of the soak: a jetmesh member of cluster "soak" (echoing
 * requests with a handler that reads ctx.signal, counting broadcasts, echoing
 * tunnels) and a plain and a durable subscriber, counting events. Controlled
 * over the fork IPC channel: "counts" answers what it received, "memory" its
 * memory after a forced gc (when it can).
 *
 * argv: url, namespace.
 */
import { connect } from "jetmesh";
import { measure } from "./soak-memory.js";

const url = process.argv[2] ?? "nats://127.0.0.1:4222";
const namespace = process.argv[3] ?? "benchsoak";
const counts = { requests: 0, aborted: 0, broadcasts: 0, plain: 0, durable: 0, tunnels: 0, tunnelMessages: 0 };

const conn = await connect({
  servers: url,
  namespace,
  topics: { storage: "memory", maxBytes: 256 * 1024 * 1024, maxAge: 10 * 60_000 },
  tunnels: { maxBytes: 256 * 1024 * 1024 },
});
await conn.register("soak", {
  handleRequest(req, ctx) {
    counts.requests++;
    // what real handlers do: pass the signal on (here, only look at it)
    if (ctx.signal.aborted) counts.aborted++;
    return req;
  },
  handleBroadcast() {
    counts.broadcasts++;
  },
  async handleTunnel(tun) {
    counts.tunnels++;
    for await (const msg of tun) {
      counts.tunnelMessages++;
      await tun.send(msg);
    }
  },
});
await conn.subscribe("soak-plain", () => {
  counts.plain++;
});
await conn.subscribe(
  "soak-durable",
  () => {
    counts.durable++;
  },
  { durable: "soak" },
);

process.on("message", (m: { id: number; cmd: string }) => {
  const answer = (value: unknown) => process.send?.({ id: m.id, value });
  if (m.cmd === "counts") answer({ ...counts });
  else if (m.cmd === "memory") answer(measure());
  else answer(true);
});
process.on("disconnect", () => {
  void conn.close().finally(() => process.exit(0));
});
