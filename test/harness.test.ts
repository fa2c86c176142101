import { connect as natsConnect } from "@nats-io/transport-node";
import { afterEach, describe, expect, it } from "vitest";
import { startNats } from "../src/testing/index.js";

const saved = { ...process.env };
afterEach(() => {
  process.env = { ...saved };
});

describe("startNats", () => {
  it("starts a real JetStream-enabled server on loopback and stops it", async () => {
    const server = await startNats({ useEnv: false });
    expect(server.url).toMatch(/^nats:\/\//);
    const nc = await natsConnect({ servers: server.url });
    expect(nc.info?.jetstream).toBe(true);
    await nc.close();
    await server.stop();
    await server.stop(); // idempotent
    await expect(natsConnect({ servers: server.url, timeout: 500 })).rejects.toThrow();
  });

  it("uses NATS_URL when it is set", async () => {
    process.env.NATS_URL = "nats://127.0.0.1:4999";
    await using server = await startNats();
    expect(server.kind).toBe("env");
    expect(server.url).toBe("nats://127.0.0.1:4999");
    await expect(server.restart()).rejects.toThrow(/NATS_URL/);
  });

  it("keeps JetStream file storage across restart()", async () => {
    await using server = await startNats({ useEnv: false, docker: false });
    const { jetstreamManager } = await import("@nats-io/jetstream");
    let nc = await natsConnect({ servers: server.url });
    await (await jetstreamManager(nc)).streams.add({ name: "KEEP", subjects: ["keep.>"] });
    await nc.close();
    await server.restart();
    nc = await natsConnect({ servers: server.url });
    const info = await (await jetstreamManager(nc)).streams.info("KEEP");
    expect(info.config.name).toBe("KEEP");
    await nc.close();
  });

  it("fails with a message naming the fix when no nats-server binary is found", async () => {
    process.env.NATS_SERVER_BIN = "/nonexistent/nats-server";
    delete process.env.NATS_URL;
    await expect(startNats({ docker: false })).rejects.toThrow(/apt-get install nats-server.*NATS_URL/);
  });
});
