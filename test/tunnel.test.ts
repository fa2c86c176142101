import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { jetstreamManager } from "@nats-io/jetstream";
import { describe, expect, it } from "vitest";
import {
  ClosedError,
  InvalidArgumentError,
  NoRespondersError,
  PayloadTooLargeError,
  TimeoutError,
  type Tunnel,
} from "../src/index.js";
import { dec, deferred, enc, TEST_STREAM_BYTES, uniqueNamespace, useNats, waitFor } from "./helpers.js";

const nats = useNats();
const root = fileURLToPath(new URL("..", import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A member of `cluster` that echoes every message of every tunnel, then closes when the opener does. */
async function echoMember(ns: string, cluster = "echo") {
  const conn = await nats.open(ns);
  return conn.register(cluster, {
    async handleTunnel(tun) {
      for await (const msg of tun) await tun.send(msg);
    },
  });
}

/**
 * A tunnel whose accepting end the test holds (the member's handler only
 * hands it over), both ends with `window`; `heartbeat` for the opener.
 */
async function heldPair(ns: string, window: number, heartbeat?: number) {
  const accepted = deferred<Tunnel>();
  const member = await nats.open(ns, { tunnels: { window } });
  await member.register("held", { handleTunnel: (tun) => accepted.resolve(tun) });
  const conn = await nats.open(ns, { tunnels: heartbeat ? { window, heartbeat } : { window } });
  const tun = await conn.tunnel("held");
  return { conn, tun, reader: await accepted.promise };
}

function pattern(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + seed) % 251;
  return out;
}

describe("tunnels", () => {
  it("carry messages whole, once and in order, across many clients, members and concurrent tunnels", async () => {
    const ns = uniqueNamespace();
    const members = await Promise.all([0, 1, 2].map(() => echoMember(ns)));
    const clients = await Promise.all([0, 1, 2].map(() => nats.open(ns)));
    await Promise.all(
      clients.flatMap((conn, c) =>
        [0, 1, 2].map(async (t) => {
          const tun = await conn.tunnel("echo", { timeout: 5000 });
          const sent = Array.from({ length: 50 }, (_, i) => `${c}.${t}.${i}`);
          const reading = (async () => {
            const got: string[] = [];
            for (let i = 0; i < sent.length; i++) got.push(dec(await tun.recv({ timeout: 10_000 })));
            return got;
          })();
          for (const m of sent) await tun.send(enc(m));
          expect(await reading).toEqual(sent);
          await tun.close();
        }),
      ),
    );
    const accepted = members.map((m) => m.stats().tunnels);
    expect(accepted.reduce((a, b) => a + b, 0)).toBe(9);
    expect(accepted.filter((n) => n > 0).length).toBeGreaterThanOrEqual(2);
  });

  it("set-up fails with NoRespondersError at once when no member takes tunnels", async () => {
    const ns = uniqueNamespace();
    const conn = await nats.open(ns);
    // a member without handleTunnel does not count
    await conn.register("reqonly", { handleRequest: (r) => r });
    const started = Date.now();
    await expect(conn.tunnel("reqonly", { timeout: 5000 })).rejects.toBeInstanceOf(NoRespondersError);
    await expect(conn.tunnel("nobody", { timeout: 5000 })).rejects.toBeInstanceOf(NoRespondersError);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it("set-up fails with TimeoutError when the member does not answer", async () => {
    const ns = uniqueNamespace();
    const conn = await nats.open(ns);
    // something that takes set-up requests and never answers
    conn.nats.subscribe(`${ns}.tun.silent`, { queue: "silent", callback: () => {} });
    await conn.nats.flush();
    const started = Date.now();
    await expect(conn.tunnel("silent", { timeout: 300 })).rejects.toBeInstanceOf(TimeoutError);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it("split and join a 16 MiB message both ways, byte-exact", async () => {
    const ns = uniqueNamespace();
    await echoMember(ns);
    const conn = await nats.open(ns);
    const tun = await conn.tunnel("echo");
    const big = pattern(16 * 1024 * 1024, 7);
    const small = enc("after the big one");
    await tun.send(big, { timeout: 30_000 });
    await tun.send(small);
    const back = await tun.recv({ timeout: 30_000 });
    expect(back.byteLength).toBe(big.byteLength);
    expect(Buffer.compare(Buffer.from(back), Buffer.from(big))).toBe(0);
    expect(dec(await tun.recv({ timeout: 5000 }))).toBe("after the big one");
    await tun.close();
  }, 60_000);

  it("make a writer wait for a reader that does not read, then time out; memory stays within the window; the tunnel works on once it reads", async () => {
    const ns = uniqueNamespace();
    const window = 1024 * 1024;
    const { conn, tun, reader } = await heldPair(ns, window);
    const msg = new Uint8Array(64 * 1024).fill(1);
    let sent = 0;
    let timedOut: unknown;
    while (timedOut === undefined && sent < 1000) {
      try {
        await tun.send(msg, { timeout: 300 });
        sent++;
      } catch (err) {
        timedOut = err;
      }
    }
    expect(timedOut).toBeInstanceOf(TimeoutError);
    // the writer got a window ahead and no further
    expect(sent * msg.byteLength).toBeLessThanOrEqual(window);
    expect(sent * msg.byteLength).toBeGreaterThanOrEqual(window / 2);
    const info = await (await jetstreamManager(conn.nats)).streams.info(`JETMESH_TUNNELS_${ns}`);
    expect(info.state.bytes).toBeLessThanOrEqual(window + 64 * 1024);
    // the reader reads: everything sent arrives whole and in order, and the timed-out one never does
    for (let i = 0; i < sent; i++) expect((await reader.recv({ timeout: 5000 })).byteLength).toBe(msg.byteLength);
    await tun.send(enc("small"), { timeout: 5000 });
    expect(dec(await reader.recv({ timeout: 5000 }))).toBe("small");
    await expect(reader.recv({ timeout: 200 })).rejects.toBeInstanceOf(TimeoutError);
    await tun.close();
  }, 30_000);

  it("never deliver part of a large message whose send timed out, though some of it went out", async () => {
    const ns = uniqueNamespace();
    const window = 1024 * 1024;
    const { tun, reader } = await heldPair(ns, window);
    // a large message, put together at the reader and left unread: the next large one must wait behind it
    await tun.send(new Uint8Array(3 * 1024 * 1024).fill(1), { timeout: 5000 });
    // this one gets a window's worth of chunks out, then times out: an abort follows them
    const err = await tun.send(new Uint8Array(3 * 1024 * 1024).fill(2), { timeout: 500 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    const first = await reader.recv({ timeout: 5000 });
    expect(first.byteLength).toBe(3 * 1024 * 1024);
    expect(first.every((b) => b === 1)).toBe(true);
    await tun.send(enc("next"), { timeout: 5000 });
    // what the timed-out send got out is dropped: the next message is "next"
    expect(dec(await reader.recv({ timeout: 5000 }))).toBe("next");
    await expect(reader.recv({ timeout: 200 })).rejects.toBeInstanceOf(TimeoutError);
    await tun.close();
  }, 30_000);

  it("bound many tiny messages by the window too", async () => {
    const ns = uniqueNamespace();
    const window = 1024 * 1024;
    const { tun } = await heldPair(ns, window);
    let sent = 0;
    let timedOut: unknown;
    while (timedOut === undefined && sent < 100_000) {
      try {
        await tun.send(new Uint8Array(1), { timeout: 300 });
        sent++;
      } catch (err) {
        timedOut = err;
      }
    }
    expect(timedOut).toBeInstanceOf(TimeoutError);
    // each message costs its frame's share of the window, not just its one byte
    expect(sent).toBeLessThanOrEqual(window / 128);
    await tun.close();
  }, 30_000);

  it("let a writer use the whole window with a reader that keeps up, even between heartbeats", async () => {
    const ns = uniqueNamespace();
    const window = 1024 * 1024;
    const got = deferred<number>();
    const member = await nats.open(ns, { tunnels: { window } });
    await member.register("reader", {
      async handleTunnel(tun) {
        let n = 0;
        for await (const _ of tun) n++;
        got.resolve(n);
      },
    });
    // heartbeats far apart: credit must come from reading, not from the heartbeat
    const conn = await nats.open(ns, { tunnels: { window, heartbeat: 10_000 } });
    const tun = await conn.tunnel("reader");
    for (let i = 0; i < 6; i++) await tun.send(new Uint8Array(900 * 1024), { timeout: 2000 });
    await tun.close();
    expect(await got.promise).toBe(6);
  }, 30_000);

  it("honour a signal on send and recv", async () => {
    const ns = uniqueNamespace();
    const window = 1024 * 1024;
    const { tun, reader } = await heldPair(ns, window);
    const reason = new Error("changed my mind");
    const waitingRecv = new AbortController();
    const recv = tun.recv({ signal: waitingRecv.signal }).catch((e: unknown) => e);
    waitingRecv.abort(reason);
    expect(await recv).toBe(reason);
    // fill the window; a send waiting for room, and one waiting its turn behind it, are aborted
    for (let i = 0; i < 15; i++) await tun.send(new Uint8Array(64 * 1024).fill(1));
    const stop = new AbortController();
    const blocked = tun.send(new Uint8Array(512 * 1024).fill(2), { signal: stop.signal }).catch((e: unknown) => e);
    const queued = tun.send(enc("queued"), { signal: stop.signal }).catch((e: unknown) => e);
    await sleep(50);
    stop.abort(reason);
    expect(await blocked).toBe(reason);
    expect(await queued).toBe(reason);
    for (let i = 0; i < 15; i++) expect((await reader.recv({ timeout: 5000 }))[0]).toBe(1);
    await tun.send(enc("after"));
    expect(dec(await reader.recv({ timeout: 5000 }))).toBe("after");
    await tun.close();
  }, 30_000);

  it("let a slow reader read everything sent before the other end closed", async () => {
    const ns = uniqueNamespace();
    const window = 1024 * 1024;
    const heartbeat = 100;
    const { tun, reader } = await heldPair(ns, window, heartbeat);
    const sending = (async () => {
      for (let i = 0; i < 24; i++) await tun.send(new Uint8Array(64 * 1024).fill(i), { timeout: 10_000 });
      await tun.close();
    })();
    // busy for far longer than the heartbeat bound
    await sleep(12 * heartbeat);
    const got: number[] = [];
    for await (const m of reader) got.push(m[0] ?? -1);
    await sending;
    expect(got).toEqual(Array.from({ length: 24 }, (_, i) => i));
    expect(await reader.closed).toBeUndefined();
  }, 30_000);

  it("close in order: the other end reads everything sent before, then gets ClosedError and its iteration ends", async () => {
    const ns = uniqueNamespace();
    const got = deferred<{ messages: string[]; after: unknown }>();
    const member = await nats.open(ns);
    await member.register("sink", {
      async handleTunnel(tun) {
        const messages: string[] = [];
        for await (const m of tun) messages.push(dec(m));
        got.resolve({ messages, after: await tun.recv().catch((e: unknown) => e) });
      },
    });
    const conn = await nats.open(ns);
    const tun = await conn.tunnel("sink");
    const sent = Array.from({ length: 200 }, (_, i) => `m${i}`);
    for (const m of sent) await tun.send(enc(m));
    await tun.close();
    const { messages, after } = await got.promise;
    expect(messages).toEqual(sent);
    expect(after).toBeInstanceOf(ClosedError);
    expect(await tun.closed).toBeUndefined();
    await expect(tun.send(enc("late"))).rejects.toBeInstanceOf(ClosedError);
    await expect(tun.recv()).rejects.toBeInstanceOf(ClosedError);
  });

  it("a local close interrupts a blocked recv and a blocked send with ClosedError at once", async () => {
    const ns = uniqueNamespace();
    const window = 1024 * 1024;
    const { tun } = await heldPair(ns, window);
    const recv = tun.recv();
    // fill the window, then one more send blocks
    for (let i = 0; i < 16; i++) await tun.send(new Uint8Array(64 * 1024), { timeout: 1000 }).catch(() => {});
    const send = tun.send(new Uint8Array(64 * 1024), { timeout: 20_000 });
    await sleep(100);
    const started = Date.now();
    const at = (p: Promise<unknown>) =>
      p.then(
        () => ({ err: undefined as unknown, ms: Date.now() - started }),
        (err: unknown) => ({ err, ms: Date.now() - started }),
      );
    const outcomes = Promise.all([at(recv), at(send)]);
    const closing = tun.close();
    const [r, w] = await outcomes;
    await closing;
    expect(r.err).toBeInstanceOf(ClosedError);
    expect(w.err).toBeInstanceOf(ClosedError);
    // at once, not after close() has told the other end and cleaned up
    expect(r.ms).toBeLessThan(500);
    expect(w.ms).toBeLessThan(500);
  });

  it("end when their member unregisters or their connection closes", async () => {
    const ns = uniqueNamespace();
    const member = await echoMember(ns);
    const conn = await nats.open(ns);
    const tun = await conn.tunnel("echo");
    await tun.send(enc("x"));
    expect(dec(await tun.recv({ timeout: 5000 }))).toBe("x");
    await member.unregister();
    await expect(tun.recv({ timeout: 5000 })).rejects.toBeInstanceOf(ClosedError);
    const member2 = await echoMember(ns);
    const tun2 = await conn.tunnel("echo");
    const pending = tun2.recv().catch((e: unknown) => e);
    await conn.close();
    expect(await pending).toBeInstanceOf(ClosedError);
    await expect(tun2.send(enc("y"))).rejects.toBeInstanceOf(ClosedError);
    expect(member2.stats().tunnels).toBe(1);
  });

  it("tell the survivor within the outage bound when the other process is killed", async () => {
    const ns = uniqueNamespace();
    const child = spawn(
      process.execPath,
      ["test/fixtures/tunnel-member.mjs", nats.server().url, ns, String(TEST_STREAM_BYTES)],
      {
        cwd: root,
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    try {
      let out = "";
      child.stdout?.on("data", (c: Buffer) => {
        out += c.toString();
      });
      await waitFor("member ready", () => out.includes("ready"), 20_000);
      const heartbeat = 200;
      const outageTimeout = 1000;
      const conn = await nats.open(ns, { tunnels: { heartbeat, outageTimeout } });
      const tun = await conn.tunnel("peer", { timeout: 5000 });
      expect(dec(await tun.recv({ timeout: 5000 }))).toBe("hello");
      const pending = tun.recv();
      child.kill("SIGKILL");
      const killed = Date.now();
      const err = await pending.catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ClosedError);
      // the outage bound and 5 missed heartbeats, plus one to notice, with a generous margin
      expect(Date.now() - killed).toBeLessThan(outageTimeout + 6 * heartbeat + 2000);
      expect(Date.now() - killed).toBeGreaterThanOrEqual(outageTimeout);
      expect(await tun.closed).toBeInstanceOf(ClosedError);
    } finally {
      child.kill("SIGKILL");
    }
  }, 30_000);

  it("refuse bad input before touching the network", async () => {
    const ns = uniqueNamespace();
    await echoMember(ns);
    const conn = await nats.open(ns, { tunnels: { maxMessage: 2 * 1024 * 1024 } });
    await expect(conn.tunnel("a.b")).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(conn.tunnel("echo", { timeout: 0 })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(conn.tunnel("echo", { timout: 5 } as never)).rejects.toBeInstanceOf(InvalidArgumentError);
    const tun = await conn.tunnel("echo");
    const out = conn.nats.stats().outMsgs;
    await expect(tun.send(new Uint8Array(0))).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(tun.send("text" as never)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(tun.send(enc("x"), { timeout: -1 })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(tun.send(new Uint8Array(2 * 1024 * 1024 + 1))).rejects.toBeInstanceOf(PayloadTooLargeError);
    await expect(tun.recv({ timeout: 1.5 })).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(conn.nats.stats().outMsgs).toBe(out);
    // the tunnel is unharmed
    await tun.send(enc("ok"));
    expect(dec(await tun.recv({ timeout: 5000 }))).toBe("ok");
    await tun.close();
  });
});
