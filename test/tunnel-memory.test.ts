import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import { TEST_STREAM_BYTES, uniqueNamespace, useNats } from "./helpers.js";

const nats = useNats();
const root = fileURLToPath(new URL("..", import.meta.url));
const run = promisify(execFile);

describe("tunnel memory", () => {
  it("stays flat over 300 tunnels opened and closed, and leaves nothing on the server", async () => {
    const ns = uniqueNamespace();
    const { stdout } = await run(
      process.execPath,
      ["--expose-gc", "test/fixtures/tunnel-churn.mjs", nats.server().url, ns, String(TEST_STREAM_BYTES), "50", "300"],
      { cwd: root, timeout: 90_000 },
    );
    const { before, after, ms } = JSON.parse(stdout.trim()) as { before: number; after: number; ms: number };
    const growth = after - before;
    console.info(
      `300 tunnels in ${Math.round(ms)} ms: heap ${(before / 2 ** 20).toFixed(1)} -> ${(after / 2 ** 20).toFixed(1)} MiB ` +
        `(${Math.round(growth / 300)} bytes per tunnel)`,
    );
    // a leak of a tunnel end (its consumer, subscriptions, timers, buffers) is tens of KiB each: 300 of them show
    expect(growth).toBeLessThan(3 * 2 ** 20);
    // every tunnel's consumer is gone from the server, and the stream holds nothing
    const nc = await connect({ servers: nats.server().url });
    try {
      const jsm = await jetstreamManager(nc);
      const stream = `JETMESH_TUNNELS_${ns}`;
      expect((await jsm.consumers.list(stream).next()).length).toBe(0);
      expect((await jsm.streams.info(stream)).state.messages).toBe(0);
    } finally {
      await nc.close();
    }
  }, 120_000);
});
