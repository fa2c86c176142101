import { jetstream } from "@nats-io/jetstream";
import { connect as natsConnect } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import type { Logger, Tunnel } from "../src/index.js";
import { encodeFrame, KIND } from "../src/tunnel/frame.js";
import { dec, deferred, enc, uniqueNamespace, useNats, waitFor } from "./helpers.js";

const nats = useNats();

/** A logger that records warnings and then throws: nothing in a NATS callback may let that escape. */
function throwingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  const noop = () => {};
  return {
    warnings,
    debug: noop,
    info: noop,
    warn: (_o, msg) => {
      warnings.push(msg ?? "");
      throw new Error("a logger that throws");
    },
    error: noop,
  };
}

const malformedOf = (tun: Tunnel) => (tun as unknown as { malformed: number }).malformed;

describe("tunnels and hostile wire input", () => {
  it("drop bad frames, grants and control messages, logging and counting them, and work on", async () => {
    const ns = uniqueNamespace();
    const logger = throwingLogger();
    const accepted = deferred<Tunnel>();
    const member = await nats.open(ns, { logger });
    await member.register("victim", { handleTunnel: (tun) => accepted.resolve(tun) });
    const conn = await nats.open(ns, { logger });
    const tun = await conn.tunnel("victim");
    const reader = await accepted.promise;
    await tun.send(enc("before"));
    expect(dec(await reader.recv({ timeout: 5000 }))).toBe("before");
    const raw = await natsConnect({ servers: nats.server().url });
    try {
      const js = jetstream(raw);
      const data = `${ns}.tunnel.${tun.id}.up`;
      // frames stored in the stream as if the opener had sent them (one with the next sequence would
      // take that sequence's place: whoever may publish to the stream may write to the tunnel)
      for (const bad of [
        new Uint8Array([1, 2]),
        Uint8Array.of(9, 0, 0, 0, 0, 0, 1, 7),
        encodeFrame(KIND.first, 1, new Uint8Array(10), 3), // a first chunk larger than its message
        encodeFrame(KIND.whole, 2 ** 40, enc("far ahead")),
        encodeFrame(KIND.close, 1, new Uint8Array(3)),
      ]) {
        await js.publish(data, bad);
      }
      // control messages to the opener: grants beyond anything sent, garbage, a flood of bytes
      const control = `${ns}.tunctl.${tun.id}.o`;
      for (const bad of ["c99999999999999", "c-1", "cabc", "s-4", "s99999999999999999", "hello"])
        raw.publish(control, bad);
      raw.publish(control, new Uint8Array(100_000).fill(0x63));
      await raw.flush();
      await waitFor("bad input counted at both ends", () => malformedOf(reader) >= 5 && malformedOf(tun) >= 6);
      // the tunnel is unharmed: both ways, in order
      for (const m of ["a", "b", "c"]) await tun.send(enc(m), { timeout: 5000 });
      for (const m of ["a", "b", "c"]) expect(dec(await reader.recv({ timeout: 5000 }))).toBe(m);
      await reader.send(enc("back"), { timeout: 5000 });
      expect(dec(await tun.recv({ timeout: 5000 }))).toBe("back");
      expect(logger.warnings).toContain("malformed tunnel input dropped");
      await tun.close();
      await expect(reader.recv({ timeout: 5000 })).rejects.toThrow(/closed by the other end/);
    } finally {
      await raw.close();
    }
  });

  it("answer bad set-up requests BAD_REQUEST and keep taking tunnels", async () => {
    const ns = uniqueNamespace();
    const logger = throwingLogger();
    const member = await nats.open(ns, { logger });
    await member.register("victim", {
      async handleTunnel(tun) {
        for await (const m of tun) await tun.send(m);
      },
    });
    const raw = await natsConnect({ servers: nats.server().url });
    try {
      const id = "ab".repeat(16);
      for (const bad of [
        "not json",
        "null",
        "[1]",
        JSON.stringify({ id: "x", window: 1048576, heartbeat: 1000, maxMessage: 10 }),
        JSON.stringify({ id, window: 10, heartbeat: 1000, maxMessage: 10 }), // a window no chunk fits
        JSON.stringify({ id, window: 1048576, heartbeat: 1000, maxMessage: 10, outageTimeout: "long" }),
        JSON.stringify({ id, window: 1048576, heartbeat: 1000, maxMessage: 10, maxPayload: 3 }),
      ]) {
        const reply = await raw.request(`${ns}.tun.victim`, enc(bad), { timeout: 5000 });
        expect(reply.headers?.get("Jetmesh-Error"), bad).toBe("BAD_REQUEST");
      }
      // no reply subject: logged, nothing else
      raw.publish(`${ns}.tun.victim`, enc("garbage"));
      await raw.flush();
      await waitFor("logged", () => logger.warnings.filter((w) => /set-up request/.test(w)).length >= 8);
      const conn = await nats.open(ns);
      const tun = await conn.tunnel("victim", { timeout: 5000 });
      await tun.send(enc("still here"));
      expect(dec(await tun.recv({ timeout: 5000 }))).toBe("still here");
      await tun.close();
    } finally {
      await raw.close();
    }
  });
});
