import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { describe, expect, it } from "vitest";
import { JetmeshError, PermissionError, TimeoutError } from "../src/index.js";
import { startNats } from "../src/testing/index.js";
import { startProxy } from "./faults/tcp-proxy.js";
import { TEST_STREAM_BYTES, uniqueNamespace, useNats } from "./helpers.js";

const nats = useNats();

/** How long `p` takes to settle, and what it settled with. */
async function timed(p: Promise<unknown>): Promise<{ ms: number; err: unknown }> {
  const started = performance.now();
  try {
    await p;
    return { ms: performance.now() - started, err: undefined };
  } catch (err) {
    return { ms: performance.now() - started, err };
  }
}

/** A connection through a proxy, and a member on the server itself. */
async function throughProxy(openFirst: boolean) {
  const ns = uniqueNamespace();
  const proxy = await startProxy(nats.server().url);
  const member = await nats.open(ns);
  await member.register("echo", {
    async handleTunnel(tun) {
      for await (const m of tun) await tun.send(m);
    },
  });
  const conn = await nats.open(ns, { servers: proxy.url, reconnectTimeWait: 100 });
  if (openFirst) {
    // the stream is known now: the next set-up's first wait is for its consumer
    const tun = await conn.tunnel("echo", { timeout: 5000 });
    await tun.close();
  }
  return { proxy, conn };
}

describe("tunnel set-up", () => {
  for (const [when, openFirst] of [
    ["the stream is checked", false],
    ["the consumer is made", true],
  ] as const) {
    for (const fault of ["stall", "down"] as const) {
      it(`honours its time-out while ${when} and the server does not answer (${fault})`, async () => {
        const { proxy, conn } = await throughProxy(openFirst);
        try {
          if (fault === "stall") proxy.stall();
          else proxy.down();
          const { ms, err } = await timed(conn.tunnel("echo", { timeout: 1000 }));
          expect(err).toBeInstanceOf(TimeoutError);
          expect((err as Error).message).toMatch(/timed out after 1000 ms/);
          // well before JetStream's own 5 s
          expect(ms).toBeGreaterThanOrEqual(990);
          expect(ms).toBeLessThan(2500);
        } finally {
          proxy.resume();
          proxy.up();
          await proxy.close();
        }
      });

      it(`honours its signal while ${when} and the server does not answer (${fault})`, async () => {
        const { proxy, conn } = await throughProxy(openFirst);
        try {
          if (fault === "stall") proxy.stall();
          else proxy.down();
          const reason = new Error("gave up");
          const stop = new AbortController();
          setTimeout(() => stop.abort(reason), 500);
          const { ms, err } = await timed(conn.tunnel("echo", { timeout: 10_000, signal: stop.signal }));
          expect(err).toBe(reason);
          expect(ms).toBeLessThan(2000);
        } finally {
          proxy.resume();
          proxy.up();
          await proxy.close();
        }
      });
    }
  }

  it("works again once the server answers, and leaves no consumer behind from the set-ups that gave up", async () => {
    const { proxy, conn } = await throughProxy(true);
    try {
      proxy.stall();
      await expect(conn.tunnel("echo", { timeout: 500 })).rejects.toBeInstanceOf(TimeoutError);
      proxy.resume();
      const tun = await conn.tunnel("echo", { timeout: 5000 });
      await tun.send(new Uint8Array([1]));
      expect([...(await tun.recv({ timeout: 5000 }))]).toEqual([1]);
      await tun.close();
      // the consumer the stalled set-up asked for is made once the server hears it, then deleted
      const jsm = await jetstreamManager(conn.nats);
      const deadline = performance.now() + 10_000;
      let left = -1;
      while (performance.now() < deadline) {
        left = (await jsm.consumers.list(`JETMESH_TUNNELS_${conn.namespace}`).next()).length;
        if (left === 0) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(left).toBe(0);
    } finally {
      await proxy.close();
    }
  });

  it("rejects at once with a PermissionError naming the refused subject when the user may not create consumers", async () => {
    const dir = await mkdtemp(join(tmpdir(), "jetmesh-perms-"));
    const conf = join(dir, "perms.conf");
    await writeFile(
      conf,
      [
        "accounts: {",
        "  APP: {",
        "    jetstream: enabled",
        "    users: [",
        '      { user: "member", password: "m" }',
        '      { user: "limited", password: "l", permissions: { publish: { allow: ">", deny: ["$JS.API.CONSUMER.>"] } } }',
        "    ]",
        "  }",
        "}",
        "",
      ].join("\n"),
    );
    const server = await startNats({ args: ["-c", conf], docker: false, useEnv: false });
    const ns = uniqueNamespace();
    const auth = (user: string, pass: string) => ({
      servers: server.url,
      user,
      pass,
      namespace: ns,
      tunnels: { maxBytes: TEST_STREAM_BYTES },
      topics: { maxBytes: TEST_STREAM_BYTES },
    });
    const member = await nats.open(ns, auth("member", "m"));
    const limited = await nats.open(ns, auth("limited", "l"));
    try {
      await member.register("echo", { handleTunnel: () => {} });
      const { ms, err } = await timed(limited.tunnel("echo", { timeout: 10_000 }));
      expect(err).toBeInstanceOf(JetmeshError);
      expect(err).toBeInstanceOf(PermissionError);
      const e = err as PermissionError;
      expect(e.retryable).toBe(false);
      expect(e.subject).toMatch(/^\$JS\.API\.CONSUMER\./);
      expect(e.message).toMatch(/does not permit this user to publish to "\$JS\.API\.CONSUMER\./);
      // at once, not at the time-out
      expect(ms).toBeLessThan(3000);
    } finally {
      await limited.close();
      await member.close();
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
