import { headers } from "@nats-io/nats-core";
import { connect as natsConnect } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import type { Logger } from "../src/index.js";
import { dec, enc, uniqueNamespace, useNats, waitFor } from "./helpers.js";

const nats = useNats();

function recordingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  const noop = () => {};
  return { warnings, debug: noop, info: noop, warn: (_o, msg) => void warnings.push(msg ?? ""), error: noop };
}

describe("malformed messages from the wire", () => {
  it("are logged and answered with an error where possible, and the service keeps running", async () => {
    const ns = uniqueNamespace();
    const logger = recordingLogger();
    const member = await nats.open(ns, { logger });
    const broadcasts: number[][] = [];
    const svc = await member.register("victim", {
      handleRequest: (r) => r,
      handleBroadcast: (msg) => void broadcasts.push([...msg]),
    });
    const raw = await natsConnect({ servers: nats.server().url });
    try {
      // no reply subject: cannot be answered, is logged
      raw.publish(`${ns}.req.victim`, enc("garbage"));
      // a bad deadline header: answered with a BAD_REQUEST error
      const h = headers();
      h.set("Jetmesh-Timeout", "soon");
      const bad = await raw.request(`${ns}.req.victim`, enc("x"), { headers: h, timeout: 2000 });
      expect(bad.headers?.get("Nats-Service-Error")).toMatch(/malformed request/);
      expect(bad.headers?.get("Jetmesh-Error")).toBe("BAD_REQUEST");
      expect(bad.headers?.get("Nats-Service-Error-Code")).toBe("BAD_REQUEST");
      // garbage on the broadcast subject is just bytes to the handler
      raw.publish(`${ns}.bcast.victim`, new Uint8Array([0xff, 0x00, 0xfe]));
      await raw.flush();
      await waitFor("logged", () => logger.warnings.length >= 2);
      await waitFor("garbage broadcast handled", () => broadcasts.length === 1);
      expect(broadcasts[0]).toEqual([0xff, 0x00, 0xfe]);
      expect(logger.warnings.join("\n")).toMatch(/without a reply subject/);
      expect(svc.stats().malformed).toBe(2);
      // a plain request from a raw NATS client (no jetmesh headers) is served
      const plain = await raw.request(`${ns}.req.victim`, enc("raw"), { timeout: 2000 });
      expect(dec(plain.data)).toBe("raw");
      // and jetmesh callers still get answers
      const client = await nats.open(ns);
      expect(dec(await client.request("victim", enc("still here")))).toBe("still here");
    } finally {
      await raw.close();
    }
  });

  it("errors from a non-jetmesh micro service are RemoteErrors", async () => {
    const ns = uniqueNamespace();
    const raw = await natsConnect({ servers: nats.server().url });
    try {
      raw.subscribe(`${ns}.req.foreign`, {
        callback: (_err, msg) => {
          const h = headers();
          h.set("Nats-Service-Error", "foreign failure");
          h.set("Nats-Service-Error-Code", "418");
          msg.respond(new Uint8Array(0), { headers: h });
        },
      });
      await raw.flush();
      const client = await nats.open(ns);
      await expect(client.request("foreign", enc("x"))).rejects.toMatchObject({
        code: "REMOTE",
        remoteCode: "418",
        message: "foreign failure",
      });
    } finally {
      await raw.close();
    }
  });
});
