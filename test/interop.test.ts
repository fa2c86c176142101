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

  it("lists micro services of other clients with discover({ foreign: true }), and only then", async () => {
    const namespace = uniqueNamespace();
    await using member = await connect({ servers: nats.server().url, namespace, logger: silentLogger });
    await member.register("orders", { handleRequest: (req) => req }, { version: "1.2.0" });
    await using other = await connect({
      servers: nats.server().url,
      namespace: uniqueNamespace(),
      logger: silentLogger,
    });
    await other.register("orders", { handleRequest: (req) => req });
    // a micro service of another client, answering STATS as the micro protocol says
    const raw = await natsConnect({ servers: nats.server().url });
    const name = `inventory_${namespace.replace(/[^A-Za-z0-9]/g, "")}`;
    const stats = {
      type: "io.nats.micro.v1.stats_response",
      name,
      id: "foreign-1",
      version: "0.3.0",
      metadata: { lang: "go" },
      started: new Date().toISOString(),
      endpoints: [{ name: "get", subject: "inventory.get", queue_group: "q", num_requests: 7, num_errors: 0 }],
    };
    for (const subject of ["$SRV.STATS", `$SRV.STATS.${name}`]) {
      raw.subscribe(subject, {
        callback: (_, msg) => {
          msg.respond(enc(JSON.stringify(stats)));
        },
      });
    }
    await raw.flush();
    try {
      const own = await member.discover(undefined, { timeout: 300 });
      expect(own.map((m) => [m.cluster, m.foreign])).toEqual([["orders", false]]);
      const all = await member.discover(undefined, { timeout: 300, foreign: true });
      const found = all.filter((m) => m.cluster === name || m.cluster === "orders");
      expect(found.map((m) => [m.cluster, m.id, m.version, m.foreign])).toEqual([
        [name, "foreign-1", "0.3.0", true],
        ["orders", own[0]?.id, "1.2.0", false],
      ]);
      expect(found[0]?.endpoints[0]).toMatchObject({ name: "get", num_requests: 7 });
      await expect(member.discover(undefined, { foreign: "yes" as unknown as boolean })).rejects.toThrow(
        /options.foreign must be a boolean/,
      );
    } finally {
      await raw.close();
    }
  });
});
