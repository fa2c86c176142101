import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect as natsConnect } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import { ClosedError, ConfigurationError, type Connection, type Tunnel } from "../src/index.js";
import { startProxy } from "./faults/tcp-proxy.js";
import { dec, deferred, enc, uniqueNamespace, useNats, waitForAsync } from "./helpers.js";

const nats = useNats();
const MiB = 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A tunnel whose accepting end the test holds (the member's handler only hands it over). */
async function heldPair(ns: string, tunnels: { window?: number; heartbeat?: number; outageTimeout?: number } = {}) {
  const accepted = deferred<Tunnel>();
  const member = await nats.open(ns, { tunnels });
  await member.register("held", { handleTunnel: (tun) => accepted.resolve(tun) });
  const conn = await nats.open(ns, { tunnels });
  const tun = await conn.tunnel("held", { timeout: 5000 });
  return { conn, member, tun, mtun: await accepted.promise };
}

/** Bytes that say where they sit: message `n` of `size` bytes. */
function numbered(n: number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 7 + n * 13) % 251;
  if (size >= 4) new DataView(out.buffer).setUint32(0, n);
  return out;
}

/** Sizes of a mixed load: small, medium, and one split (above the server's 1 MiB max payload). */
const SIZES = [1, 100, 64 * 1024, 3 * MiB + 5, 17, 512 * 1024, 2];

/** Reads `tun` until its iteration ends: every message, and how it ended. */
async function readToEnd(tun: Tunnel): Promise<{ got: Uint8Array[]; end: "normal" | { error: unknown } }> {
  const got: Uint8Array[] = [];
  try {
    for await (const m of tun) got.push(m);
    return { got, end: "normal" };
  } catch (error) {
    return { got, end: { error } };
  }
}

function expectAll(got: Uint8Array[], sizes: number[]): void {
  expect(got.map((m) => m.byteLength)).toEqual(sizes);
  got.forEach((m, n) => {
    expect(Buffer.from(m).equals(Buffer.from(numbered(n, sizes[n] ?? 0))), `message ${n}`).toBe(true);
  });
}

/** What the tunnels stream still holds of `tun`, and the consumers left on it. */
async function leftOnServer(
  conn: Connection,
  ns: string,
  id: string,
): Promise<{ messages: number; consumers: number }> {
  const jsm = await jetstreamManager(conn.nats);
  const stream = `JETMESH_TUNNELS_${ns}`;
  const info = await jsm.streams.info(stream, { subjects_filter: `${ns}.tunnel.${id}.>` });
  const subjects = info.state.subjects ?? {};
  const messages = Object.values(subjects).reduce((a, b) => a + b, 0);
  return { messages, consumers: (await jsm.consumers.list(stream).next()).length };
}

describe("tunnel half-close (end)", () => {
  for (const first of ["opener", "member"] as const) {
    it(`the ${first} ends first: the other end reads every byte in order and ends normally, sends on, ends too, and both close by themselves`, async () => {
      const ns = uniqueNamespace();
      const { conn, tun, mtun } = await heldPair(ns);
      const [a, b] = first === "opener" ? [tun, mtun] : [mtun, tun];
      // a reads all along (it still reads after its end)
      const aReading = readToEnd(a);
      for (const [n, size] of SIZES.entries()) await a.send(numbered(n, size), { timeout: 10_000 });
      await a.end();
      // a send after end rejects at once, typed, and says why
      const late = a.send(enc("too late"));
      await expect(late).rejects.toBeInstanceOf(ClosedError);
      await expect(late).rejects.toThrow(/ended the tunnel/);
      // b: every message in order, then the iteration ends normally; recv then says the stream ended
      const bRead = await readToEnd(b);
      expect(bRead.end).toBe("normal");
      expectAll(bRead.got, SIZES);
      await expect(b.recv({ timeout: 100 })).rejects.toBeInstanceOf(ClosedError);
      // the tunnel is open still: b sends, a (ended) reads
      const back = [5, 70_000, 2 * MiB + 3, 9];
      for (const [n, size] of back.entries()) await b.send(numbered(n, size), { timeout: 10_000 });
      await sleep(300);
      let bothClosed = false;
      void Promise.all([a.closed, b.closed]).then(() => {
        bothClosed = true;
      });
      expect(bothClosed, "closed while one end has not ended").toBe(false);
      await b.end();
      const aRead = await aReading;
      expect(aRead.end).toBe("normal");
      expectAll(aRead.got, back);
      // both ended: both ends closed by themselves, normally, and released what they held
      expect(await withTimeout(a.closed, 10_000)).toBeUndefined();
      expect(await withTimeout(b.closed, 10_000)).toBeUndefined();
      await expect(tun.send(enc("x"))).rejects.toBeInstanceOf(ClosedError);
      await expect(mtun.send(enc("x"))).rejects.toBeInstanceOf(ClosedError);
      await waitForAsync("nothing of the tunnel left on the server", async () => {
        const left = await leftOnServer(conn, ns, tun.id);
        return left.messages === 0 && left.consumers === 0;
      });
      // close() after all that still works, and end() stays resolved
      await tun.close();
      await mtun.close();
      await expect(a.end()).resolves.toBeUndefined();
    }, 60_000);
  }

  it("end() is idempotent, waits for the sends before it, and close() after it works", async () => {
    const ns = uniqueNamespace();
    const { tun, mtun } = await heldPair(ns);
    const sends = [0, 1, 2].map((n) => tun.send(numbered(n, 1000)));
    const ending = tun.end();
    expect(tun.end()).toBe(ending);
    await Promise.all(sends);
    await ending;
    const read = await readToEnd(mtun);
    expect(read.end).toBe("normal");
    expectAll(read.got, [1000, 1000, 1000]);
    // the opener closes instead of waiting for the member's end: the member sees the close
    await tun.close();
    // the member learns of it when the close frame reaches its consumer, which close() does not wait for
    expect(await withTimeout(mtun.closed, 10_000)).toBeUndefined();
    await expect(mtun.send(enc("x"), { timeout: 5000 })).rejects.toBeInstanceOf(ClosedError);
    // end() on a tunnel closed there does nothing
    await expect(mtun.end()).resolves.toBeUndefined();
  }, 30_000);

  it("end() called while a window's worth waits for a reader that has not read yet loses nothing", async () => {
    const ns = uniqueNamespace();
    const { tun, mtun } = await heldPair(ns, { window: MiB });
    // 6 windows of messages, all sent at once: the writer waits for credit most of the way
    const sizes = Array.from({ length: 48 }, (_v, n) => (n % 3 === 0 ? 200_000 : 90_000 + n));
    const order: string[] = [];
    const sends = sizes.map((size, n) =>
      tun.send(numbered(n, size), { timeout: 30_000 }).then(() => {
        order.push(`send ${n}`);
      }),
    );
    const ending = tun.end().then(() => {
      order.push("end");
    });
    // a send after the end rejects at once, even while the end waits
    await expect(tun.send(enc("after the end"))).rejects.toBeInstanceOf(ClosedError);
    await sleep(500);
    // nobody read: the writer got a window ahead, and the end waits behind the rest
    expect(order.length).toBeGreaterThan(0);
    expect(order.length).toBeLessThan(sizes.length / 2);
    expect(order).not.toContain("end");
    // the reader reads slowly at first, then all
    const got: Uint8Array[] = [];
    for (let i = 0; i < 5; i++) {
      got.push(await mtun.recv({ timeout: 10_000 }));
      await sleep(50);
    }
    const rest = await readToEnd(mtun);
    expect(rest.end).toBe("normal");
    expectAll([...got, ...rest.got], sizes);
    await Promise.all(sends);
    await ending;
    expect(order).toEqual([...sizes.map((_s, n) => `send ${n}`), "end"]);
    await mtun.end();
    expect(await withTimeout(tun.closed, 10_000)).toBeUndefined();
    expect(await withTimeout(mtun.closed, 10_000)).toBeUndefined();
  }, 60_000);

  it("an end sent during an outage of the sender's connection arrives after everything sent before it", async () => {
    const ns = uniqueNamespace();
    const proxy = await startProxy(nats.server().url);
    try {
      const accepted = deferred<Tunnel>();
      const member = await nats.open(ns, { tunnels: { window: MiB } });
      await member.register("held", { handleTunnel: (t) => accepted.resolve(t) });
      const conn = await nats.open(ns, {
        servers: proxy.url,
        reconnectTimeWait: 100,
        tunnels: { window: MiB, heartbeat: 200, outageTimeout: 15_000 },
      });
      const tun = await conn.tunnel("held", { timeout: 5000 });
      const mtun = await accepted.promise;
      const reading = readToEnd(mtun);
      const before = Array.from({ length: 20 }, (_v, n) => 1000 + n);
      for (const [n, size] of before.entries()) await tun.send(numbered(n, size));
      proxy.down();
      await sleep(300);
      // sends go on into the window while the connection is down, and so does the end
      const during = Array.from({ length: 20 }, (_v, n) => 3000 + n);
      for (const [n, size] of during.entries()) {
        await tun.send(numbered(before.length + n, size), { timeout: 10_000 });
      }
      let ended = false;
      const ending = tun.end().then(() => {
        ended = true;
      });
      await sleep(1_500);
      // the end waits for the server's acknowledgement, which cannot come while the connection is down
      expect(ended).toBe(false);
      proxy.up();
      await withTimeout(ending, 20_000);
      const read = await withTimeout(reading, 20_000);
      expect(read.end).toBe("normal");
      expectAll(read.got, [...before, ...during]);
      // the member answers after the end, and ends: both close
      await mtun.send(enc("answer"));
      expect(dec(await tun.recv({ timeout: 10_000 }))).toBe("answer");
      await mtun.end();
      await expect(tun.recv({ timeout: 10_000 })).rejects.toBeInstanceOf(ClosedError);
      expect(await withTimeout(tun.closed, 10_000)).toBeUndefined();
      expect(await withTimeout(mtun.closed, 10_000)).toBeUndefined();
    } finally {
      await proxy.close();
    }
  }, 90_000);

  it("an end that closed by itself leaves the other end all it has not read, however long it takes to read it", async () => {
    const ns = uniqueNamespace();
    const heartbeat = 100;
    const outageTimeout = 1000;
    const { tun, mtun } = await heldPair(ns, { window: MiB, heartbeat, outageTimeout });
    // the opener fills the member's window (the member does not read)
    const sizes: number[] = [];
    for (let n = 0; ; n++) {
      try {
        await tun.send(numbered(n, 100_000 + n), { timeout: 300 });
        sizes.push(100_000 + n);
      } catch {
        break;
      }
    }
    await tun.end();
    await mtun.end();
    // the opener has the member's end and its own is stored: it closed by itself, and is silent from now on
    expect(await withTimeout(tun.closed, 10_000)).toBeUndefined();
    // well past the bound of silence (the outage bound and 5 heartbeats), the member reads everything
    await sleep(outageTimeout + 5 * heartbeat + 2000);
    const read = await readToEnd(mtun);
    expect(read.end).toBe("normal");
    expectAll(read.got, sizes);
    expect(await withTimeout(mtun.closed, 10_000)).toBeUndefined();
  }, 30_000);

  it("an end that ended and then vanished is still noticed as gone by the end that has not ended", async () => {
    const ns = uniqueNamespace();
    const proxy = await startProxy(nats.server().url);
    try {
      const heartbeat = 100;
      const outageTimeout = 1000;
      const accepted = deferred<Tunnel>();
      const member = await nats.open(ns, { servers: proxy.url });
      await member.register("held", { handleTunnel: (t) => accepted.resolve(t) });
      const conn = await nats.open(ns, { tunnels: { heartbeat, outageTimeout } });
      const tun = await conn.tunnel("held", { timeout: 5000 });
      const mtun = await accepted.promise;
      await mtun.send(enc("last words"));
      await mtun.end();
      const read = await readToEnd(tun);
      expect(read.end).toBe("normal");
      expect(read.got.map(dec)).toEqual(["last words"]);
      // the member's end of the tunnel is cut off for good: its END is the last thing it stored
      proxy.down();
      const downAt = performance.now();
      const reason = await withTimeout(tun.closed, outageTimeout + 5 * heartbeat + 10_000);
      expect(reason).toBeInstanceOf(ClosedError);
      expect(String(reason?.message)).toMatch(/gone/);
      expect(performance.now() - downAt).toBeGreaterThanOrEqual(outageTimeout);
      await expect(tun.send(enc("anyone?"))).rejects.toBeInstanceOf(ClosedError);
      // this end's end now says the tunnel broke
      await expect(tun.end()).rejects.toBeInstanceOf(ClosedError);
    } finally {
      await proxy.close();
    }
  }, 30_000);

  it("end() rejects ClosedError when the tunnel breaks before its end is stored", async () => {
    const ns = uniqueNamespace();
    const { conn, tun } = await heldPair(ns, { window: MiB });
    // the member does not read: a send waits for credit, and the end behind it
    const waiting = (async () => {
      for (;;) await tun.send(new Uint8Array(200_000), { timeout: 30_000 });
    })();
    const sendFailed = waiting.catch((err: unknown) => err);
    await sleep(500);
    const ending = tun.end();
    // the other end says it broke the tunnel (a control message anyone may send)
    conn.nats.publish(`${ns}.tunctl.${tun.id}.o`, "x");
    await expect(withTimeout(ending, 10_000)).rejects.toBeInstanceOf(ClosedError);
    await expect(ending).rejects.toThrow(/broke/);
    expect(await sendFailed).toBeInstanceOf(ClosedError);
    expect(await withTimeout(tun.closed, 10_000)).toBeInstanceOf(ClosedError);
    // and later calls say so too
    await expect(tun.end()).rejects.toBeInstanceOf(ClosedError);
  }, 30_000);

  it("a member whose opener cannot half-close (an earlier version) gets ConfigurationError from end(), and the tunnel works on", async () => {
    const ns = uniqueNamespace();
    const accepted = deferred<Tunnel>();
    const member = await nats.open(ns);
    await member.register("held", { handleTunnel: (t) => accepted.resolve(t) });
    // an opener of an earlier version: its set-up request has no halfClose
    const raw = await natsConnect({ servers: nats.server().url });
    try {
      const id = "ab".repeat(16);
      const setUp = { id, window: MiB, heartbeat: 1000, maxMessage: MiB };
      const answer = await raw.request(`${ns}.tun.held`, enc(JSON.stringify(setUp)), { timeout: 5000 });
      // this version says it can
      expect(JSON.parse(dec(answer.data))).toMatchObject({ halfClose: true });
      const mtun = await accepted.promise;
      const ending = mtun.end();
      await expect(ending).rejects.toBeInstanceOf(ConfigurationError);
      await expect(ending).rejects.toThrow(/earlier jetmesh/);
      // nothing changed: sends go on, and no END frame went to the old peer
      await mtun.send(enc("still sending"));
      const js = jetstream(raw);
      const jsm = await js.jetstreamManager();
      const stream = `JETMESH_TUNNELS_${ns}`;
      await waitForAsync("the message stored", async () => {
        const info = await jsm.streams.info(stream, { subjects_filter: `${ns}.tunnel.${id}.down` });
        return Object.values(info.state.subjects ?? {}).reduce((a, b) => a + b, 0) === 1;
      });
      const last = await jsm.streams.getMessage(stream, { last_by_subj: `${ns}.tunnel.${id}.down` });
      expect(last?.data[0]).toBe(0); // a whole message, not an end
      await mtun.close();
    } finally {
      await raw.close();
    }
  }, 30_000);
});

/** `p`, or a rejection when it has not settled within `ms`. */
function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_r, reject) => {
    timer = setTimeout(() => reject(new Error(`not settled within ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}
