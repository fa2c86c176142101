import { spawn } from "node:child_process";
import { request as httpRequest } from "node:http";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { connect, type HealthReport, InvalidArgumentError, serveHealth, silentLogger } from "../src/index.js";
import { startNats } from "../src/testing/index.js";
import { uniqueNamespace, useNats, waitForAsync } from "./helpers.js";

const nats = useNats();
const CLI = fileURLToPath(new URL("../.build/test-dist/cli/main.js", import.meta.url));

/** Runs `jetmesh args` against the test server (NATS_URL). */
function jetmesh(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, NATS_URL: nats.server().url },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
}

/** GETs (or HEADs) `url`: its status and body. */
function get(url: string, method = "GET"): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method }, (res) => {
      let body = "";
      res.on("data", (d: Buffer) => {
        body += d.toString();
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("jetmesh health", () => {
  it("exits 0 with one line naming the members when at least --min answer", async () => {
    const ns = uniqueNamespace();
    const conn = await nats.open(ns);
    const a = await conn.register("echo", { handleRequest: (req) => req }, { version: "1.2.3" });
    const b = await conn.register("echo", { handleRequest: (req) => req }, { version: "1.2.4" });
    const ok = await jetmesh(["health", "echo", "-n", ns, "--min", "2"]);
    expect(ok).toMatchObject({ code: 0, stderr: "" });
    expect(ok.stdout.split("\n")).toHaveLength(2); // one line
    expect(ok.stdout).toMatch(/^ok: cluster "echo": 2 members: /);
    expect(ok.stdout).toContain(`${a.id} 1.2.3`);
    expect(ok.stdout).toContain(`${b.id} 1.2.4`);
    const json = await jetmesh(["health", "echo", "-n", ns, "--json", "--timeout", "300"]);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ cluster: "echo", healthy: true, min: 1 });
    expect(JSON.parse(json.stdout).members).toHaveLength(2);
  });

  it("exits 1 when no member answers, or fewer than --min", async () => {
    const ns = uniqueNamespace();
    const none = await jetmesh(["health", "echo", "-n", ns]);
    expect(none.code).toBe(1);
    expect(none.stdout).toBe("");
    expect(none.stderr).toBe('jetmesh: NO_RESPONDERS: cluster "echo": 0 members answered, at least 1 wanted\n');

    const conn = await nats.open(ns);
    const svc = await conn.register("echo", { handleRequest: (req) => req }, { metadata: { host: "h1" } });
    const few = await jetmesh(["health", "echo", "-n", ns, "--min", "2"]);
    expect(few.code).toBe(1);
    expect(few.stderr).toBe(
      `jetmesh: NO_RESPONDERS: cluster "echo": 1 member answered, at least 2 wanted: ${svc.id} 0.0.0\n`,
    );
    // --meta: this host's own member, not any member of the cluster
    expect((await jetmesh(["health", "echo", "-n", ns, "--meta", "host=h1"])).code).toBe(0);
    expect((await jetmesh(["health", "echo", "-n", ns, "--meta", "host=h2"])).code).toBe(1);
    // another namespace's member does not count
    const other = await jetmesh(["health", "echo", "-n", uniqueNamespace()]);
    expect(other.code).toBe(1);
  });

  it("exits 1 with a clear message when the server cannot be reached, 2 on a usage error", async () => {
    const down = await jetmesh(["health", "echo", "-s", "nats://127.0.0.1:1", "--connect-timeout", "300"]);
    expect(down.code).toBe(1);
    expect(down.stdout).toBe("");
    expect(down.stderr).toMatch(/^jetmesh: CONNECTION: /);
    expect((await jetmesh(["health", "echo", "--min", "0"])).code).toBe(2);
    expect((await jetmesh(["health", "bad name"])).code).toBe(2);
    expect((await jetmesh(["health", "echo", "--meta", "novalue"])).code).toBe(2);
  });
});

describe("serveHealth", () => {
  it("answers 200 while the connection and its services are up, 503 once a service unregisters", async () => {
    const conn = await nats.open(uniqueNamespace());
    const svc = await conn.register("echo", { handleRequest: (req) => req });
    const other = await conn.register("other", { handleRequest: (req) => req });
    await using health = await serveHealth({ connection: conn, services: [svc, other], port: 0, host: "127.0.0.1" });
    expect(health.url).toBe(`http://127.0.0.1:${health.port}/healthz`);

    const up = await get(health.url);
    expect(up.status).toBe(200);
    expect(JSON.parse(up.body) as HealthReport).toEqual({
      ready: true,
      connection: "connected",
      services: [
        { cluster: "echo", id: svc.id, live: true },
        { cluster: "other", id: other.id, live: true },
      ],
    });
    expect(await get(health.url, "HEAD")).toEqual({ status: 200, body: "" });
    expect((await get(`http://127.0.0.1:${health.port}/elsewhere`)).status).toBe(404);
    expect((await get(health.url, "POST")).status).toBe(405);

    await other.unregister();
    const down = await get(health.url);
    expect(down.status).toBe(503);
    expect(JSON.parse(down.body)).toMatchObject({
      ready: false,
      connection: "connected",
      services: [{ live: true }, { live: false }],
    });
  });

  it("answers 503 once the connection is closed", async () => {
    const conn = await nats.open(uniqueNamespace());
    await using health = await serveHealth({ connection: conn, port: 0, host: "127.0.0.1", path: "/ready" });
    expect(health.url.endsWith("/ready")).toBe(true);
    expect((await get(health.url)).status).toBe(200);
    await conn.close();
    const closed = await get(health.url);
    expect(closed.status).toBe(503);
    expect(JSON.parse(closed.body)).toEqual({ ready: false, connection: "closed", services: [] });
  });

  it("answers 503 while the server is gone and the connection tries to reconnect", async () => {
    const server = await startNats();
    const conn = await connect({ servers: server.url, logger: silentLogger, reconnectTimeWait: 200 });
    try {
      await using health = await serveHealth({ connection: conn, port: 0, host: "127.0.0.1" });
      expect((await get(health.url)).status).toBe(200);
      await server.stop();
      await waitForAsync("a 503 while reconnecting", async () => (await get(health.url)).status === 503, 20_000);
      expect(health.report()).toMatchObject({ ready: false, connection: "reconnecting" });
    } finally {
      await conn.close();
    }
  });

  it("stops answering when closed, and checks its options", async () => {
    const conn = await nats.open(uniqueNamespace());
    const health = await serveHealth({ connection: conn, port: 0, host: "127.0.0.1" });
    expect((await get(health.url)).status).toBe(200);
    await health.close();
    await health.close();
    await expect(get(health.url)).rejects.toThrow(/ECONNREFUSED/);

    await expect(serveHealth({ port: 0 })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(serveHealth({ connection: conn, port: -1 })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(serveHealth({ connection: conn, port: 0, path: "healthz" })).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
    await expect(serveHealth({ connection: conn, port: 0, prot: 1 } as never)).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
  });
});
