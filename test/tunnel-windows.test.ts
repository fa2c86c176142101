import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Connection, connect, silentLogger } from "../src/index.js";
import { type NatsServer, startNats } from "../src/testing/index.js";
import { TEST_STREAM_BYTES, uniqueNamespace } from "./helpers.js";

const KiB = 1024;
const MiB = 1024 * KiB;

function pattern(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + seed) % 251;
  return out;
}

/** A server whose max payload is `maxPayload` (the NATS default when undefined). */
async function serverWith(maxPayload: number | undefined, dir: string): Promise<NatsServer> {
  if (maxPayload === undefined) return startNats();
  const conf = join(dir, `max-${maxPayload}.conf`);
  await writeFile(conf, `max_payload: ${maxPayload}\n`);
  return startNats({ args: ["-c", conf], docker: false, useEnv: false });
}

const MAX_MESSAGE = 5 * MiB;
/** Window pairs (opener, acceptor): equal, either much larger, and one not a power of two. */
const PAIRS: Array<[number, number]> = [
  [8 * MiB, MiB],
  [MiB, 8 * MiB],
  [MiB, 3 * MiB + 7],
  [16 * MiB, MiB + 1],
];
/** Sizes around the chunk limits of every window above, up to the maximum message. */
const SIZES = [1, 100 * KiB, 512 * KiB - 200, 512 * KiB, MiB - 20, MiB, MiB + 1, (3 * MiB) / 2, 2 * MiB, MAX_MESSAGE];

describe("tunnels with unequal windows", () => {
  const dir = { path: "" };
  const servers: NatsServer[] = [];
  const opened: Connection[] = [];
  beforeAll(async () => {
    dir.path = await mkdtemp(join(tmpdir(), "jetmesh-windows-"));
  });
  afterAll(async () => {
    await Promise.all(opened.map((c) => c.close()));
    await Promise.all(servers.map((s) => s.stop()));
    await rm(dir.path, { recursive: true, force: true });
  });

  for (const maxPayload of [undefined, 64 * KiB, 4 * MiB]) {
    it(`carry every message up to maxMessage both ways, for every pair of windows (server max payload ${maxPayload ?? "default"})`, async () => {
      const server = await serverWith(maxPayload, dir.path);
      servers.push(server);
      const open = async (ns: string, window: number) => {
        const conn = await connect({
          servers: server.url,
          namespace: ns,
          logger: silentLogger,
          topics: { maxBytes: TEST_STREAM_BYTES },
          tunnels: { maxBytes: TEST_STREAM_BYTES, window, maxMessage: MAX_MESSAGE },
        });
        opened.push(conn);
        return conn;
      };
      for (const [openerWindow, acceptorWindow] of PAIRS) {
        const ns = uniqueNamespace();
        const member = await open(ns, acceptorWindow);
        await member.register("echo", {
          async handleTunnel(tun) {
            for await (const msg of tun) await tun.send(msg, { timeout: 20_000 });
          },
        });
        const conn = await open(ns, openerWindow);
        const tun = await conn.tunnel("echo", { timeout: 10_000 });
        for (const [i, size] of SIZES.entries()) {
          const sent = pattern(size, i);
          const what = `${size} bytes, windows ${openerWindow} -> ${acceptorWindow}`;
          await expect(tun.send(sent, { timeout: 20_000 }), what).resolves.toBeUndefined();
          const back = await tun.recv({ timeout: 20_000 });
          expect(back.byteLength, what).toBe(size);
          expect(Buffer.compare(Buffer.from(back), Buffer.from(sent)), what).toBe(0);
        }
        await tun.close();
        await conn.close();
        await member.close();
      }
    }, 120_000);
  }
});
