import { headers } from "@nats-io/nats-core";
import { connect as natsConnect } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import { connect, RemoteError, silentLogger } from "../src/index.js";
import { dec, enc, uniqueNamespace, useNats } from "./helpers.js";

const nats = useNats();

/**
 * jetmesh beside services written with other NATS clients: a micro service
 * (any language) takes requests in the micro protocol's default queue group
 * `q`, and reads errors from the micro protocol's headers.
 */
describe("beside another NATS client's micro service", () => {
  it("shares the requests of one subject with it, each handled once", async () => {
    const namespace = uniqueNamespace();
    await using member = await connect({ servers: nats.server().url, namespace, logger: silentLogger });
    let byJetmesh = 0;
    await member.register("echo", {
      handleRequest: (req) => {
        byJetmesh++;
        return req;
      },
    });
    // a service of another client, as the micro protocol subscribes it: queue group "q"
    const foreign = await natsConnect({ servers: nats.server().url });
    let byForeign = 0;
    foreign.subscribe(`${namespace}.req.echo`, {
      queue: "q",
      callback: (_, msg) => {
        byForeign++;
        msg.respond(msg.data);
      },
    });
    await foreign.flush();
    try {
      await using caller = await connect({ servers: nats.server().url, namespace, logger: silentLogger });
      const n = 400;
      for (let i = 0; i < n; i++) expect(dec(await caller.request("echo", enc(`r${i}`)))).toBe(`r${i}`);
      // every request handled once: not once by each
      expect(byJetmesh + byForeign).toBe(n);
      expect(byJetmesh).toBeGreaterThan(0);
      expect(byForeign).toBeGreaterThan(0);
    } finally {
      await foreign.close();
    }
  });

  it("answers other clients with a numeric Nats-Service-Error-Code, and reads theirs", async () => {
    const namespace = uniqueNamespace();
    await using member = await connect({ servers: nats.server().url, namespace, logger: silentLogger });
    await member.register("fails", {
      handleRequest: () => {
        throw Object.assign(new Error("not there"), { code: "E_NOT_FOUND" });
      },
    });
    const raw = await natsConnect({ servers: nats.server().url });
    try {
      const answer = await raw.request(`${namespace}.req.fails`, enc("x"), { timeout: 5000 });
      const code = answer.headers?.get("Nats-Service-Error-Code") ?? "";
      expect(Number.isInteger(Number(code)) && code !== "").toBe(true);
      expect(code).toBe("500");
      expect(answer.headers?.get("Nats-Service-Error")).toBe("not there");
      expect(answer.headers?.get("Jetmesh-Error-Code")).toBe("E_NOT_FOUND");
      // a micro service of another client answering an error the micro way
      raw.subscribe(`${namespace}.req.foreign`, {
        queue: "q",
        callback: (_, msg) => {
          const h = headers();
          h.set("Nats-Service-Error", "no such order");
          h.set("Nats-Service-Error-Code", "404");
          msg.respond(new Uint8Array(0), { headers: h });
        },
      });
      await raw.flush();
      await using caller = await connect({ servers: nats.server().url, namespace, logger: silentLogger });
      const err = await caller.request("foreign", enc("x")).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RemoteError);
      expect(err).toMatchObject({ message: "no such order", remoteCode: "404" });
    } finally {
      await raw.close();
    }
  });
});
