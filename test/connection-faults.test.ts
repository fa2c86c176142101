import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type ConnectionStatus, connect, PermissionError, silentLogger } from "../src/index.js";
import { startNats } from "../src/testing/index.js";
import { startProxy } from "./faults/tcp-proxy.js";
import { enc, uniqueNamespace, useNats, waitFor } from "./helpers.js";

const nats = useNats();

describe("a connection", () => {
  it("reports status changes from the start of iteration, holding nothing for a status() never iterated", async () => {
    await using proxy = await startProxy(nats.server().url);
    await using conn = await connect({ servers: proxy.url, logger: silentLogger, reconnectTimeWait: 50 });
    const statuses = conn.status();
    // a disconnect and reconnect before anyone iterates it, watched to its end by another iteration
    const reconnected = (async () => {
      for await (const s of conn.status()) if (s.type === "reconnect") return;
    })();
    await new Promise((r) => setImmediate(r));
    proxy.cut();
    await waitFor("reconnected once", () => proxy.accepted === 2 && proxy.open === 1);
    await reconnected;
    const seen: Array<{ type: ConnectionStatus["type"]; at: number }> = [];
    const iterating = (async () => {
      for await (const s of statuses) {
        seen.push({ type: s.type, at: performance.now() });
        if (s.type === "reconnect") return;
      }
    })();
    // let the iteration start, then the second cut is the first thing it sees
    await new Promise((r) => setImmediate(r));
    const secondCut = performance.now();
    proxy.cut();
    await iterating;
    expect(seen[0]?.type).toBe("disconnect");
    expect(seen.every((s) => s.at >= secondCut)).toBe(true);
    expect(seen.filter((s) => s.type === "disconnect")).toHaveLength(1);
  });

  it("fails requests at once, not retryable and naming the subject, when its user may not subscribe to its inbox", async () => {
    const ns = uniqueNamespace();
    const config = join(tmpdir(), `jetmesh-perm-${process.pid}-${Date.now()}.conf`);
    await writeFile(
      config,
      `authorization { users = [
        { user: "member", password: "m" }
        { user: "noinbox", password: "n", permissions: { subscribe: { deny: ["_INBOX_${ns}.>"] } } }
      ] }\n`,
    );
    await using server = await startNats({ useEnv: false, docker: false, args: ["-c", config] });
    await using member = await connect({
      servers: server.url,
      user: "member",
      pass: "m",
      namespace: ns,
      logger: silentLogger,
    });
    await member.register("echo", { handleRequest: (r) => r });
    await using client = await connect({
      servers: server.url,
      user: "noinbox",
      pass: "n",
      namespace: ns,
      logger: silentLogger,
    });
    const t0 = performance.now();
    const first = await client.request("echo", enc("x"), { timeout: 10_000 }).catch((e: unknown) => e);
    expect(first).toBeInstanceOf(PermissionError);
    expect((first as PermissionError).retryable).toBe(false);
    expect((first as PermissionError).subject).toMatch(new RegExp(`^_INBOX_${ns}\\.`));
    expect((first as Error).message).toContain(`subscribe to "_INBOX_${ns}.`);
    // every later call fails the same way, at once
    const again = await client.request("echo", enc("x"), { timeout: 10_000 }).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(PermissionError);
    expect(performance.now() - t0).toBeLessThan(5_000);
  });
});
