import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { createInbox, type Msg, type NatsConnection } from "@nats-io/nats-core";
import { Ajv } from "ajv";
import { describe, expect, it } from "vitest";
import { ClosedError, InvalidArgumentError, RemoteError } from "../src/index.js";
import { enc, TEST_STREAM_BYTES, uniqueNamespace, useNats, waitFor } from "./helpers.js";

const nats = useNats();

// The shapes of the micro protocol's responses, after the published JSON schemas
// (https://nats.io/schemas/micro/v1/*): required fields, name and SemVer patterns.
const name = { type: "string", pattern: "^[a-zA-Z0-9_-]+$", minLength: 1 };
const semver = {
  type: "string",
  pattern: "^(0|[1-9]\\d*)\\.(0|[1-9]\\d*)\\.(0|[1-9]\\d*)(?:-[0-9A-Za-z.-]+)?(?:\\+[0-9A-Za-z.-]+)?$",
};
const metadata = { type: ["object", "null"], additionalProperties: { type: "string" } };
const head = {
  name,
  id: { type: "string", minLength: 1 },
  version: semver,
  metadata,
};
const PING = {
  type: "object",
  required: ["type", "name", "id", "version"],
  properties: { type: { const: "io.nats.micro.v1.ping_response" }, ...head },
};
const INFO = {
  type: "object",
  required: ["type", "name", "id", "version", "description", "endpoints"],
  properties: {
    type: { const: "io.nats.micro.v1.info_response" },
    ...head,
    description: { type: "string" },
    endpoints: {
      type: "array",
      items: {
        type: "object",
        required: ["name", "subject"],
        properties: { name, subject: { type: "string", minLength: 1 }, queue_group: { type: "string" }, metadata },
      },
    },
  },
};
const nanos = { type: "integer", minimum: 0 };
const STATS = {
  type: "object",
  required: ["type", "name", "id", "version", "started", "endpoints"],
  properties: {
    type: { const: "io.nats.micro.v1.stats_response" },
    ...head,
    started: { type: "string", format: "date-time" },
    endpoints: {
      type: "array",
      items: {
        type: "object",
        required: [
          "name",
          "subject",
          "num_requests",
          "num_errors",
          "last_error",
          "processing_time",
          "average_processing_time",
        ],
        properties: {
          name,
          subject: { type: "string" },
          queue_group: { type: "string" },
          num_requests: nanos,
          num_errors: nanos,
          last_error: { type: "string" },
          processing_time: nanos,
          average_processing_time: nanos,
          data: { type: "object" },
        },
      },
    },
  },
};
const ajv = new Ajv({ allErrors: true, strict: false });
const validators = { PING: ajv.compile(PING), INFO: ajv.compile(INFO), STATS: ajv.compile(STATS) };

/** Every answer to a micro request on `subject` within `ms`. */
async function ask(nc: NatsConnection, subject: string, ms = 250): Promise<Record<string, unknown>[]> {
  const inbox = createInbox();
  const got: Record<string, unknown>[] = [];
  // with no member at all, the server answers "no responders": an empty status message
  const sub = nc.subscribe(inbox, { callback: (_e, m: Msg) => void (m.data.length > 0 && got.push(m.json())) });
  nc.publish(subject, new Uint8Array(0), { reply: inbox });
  await new Promise((r) => setTimeout(r, ms));
  sub.unsubscribe();
  return got;
}

describe("discovery: the micro protocol", () => {
  it("answers PING, INFO and STATS, alone, by name and by id, in the protocol's shapes with the member's values", async () => {
    const ns = uniqueNamespace();
    const conn = await nats.open(ns);
    const svc = await conn.register(
      "echo",
      {
        handleRequest: (req) => {
          if (new TextDecoder().decode(req) === "fail") throw new Error("asked to fail");
          return req;
        },
        handleBroadcast: () => {},
      },
      { version: "1.4.2", description: "echoes", metadata: { region: "eu" }, requestThreads: 2 },
    );
    for (let i = 0; i < 3; i++) await conn.request("echo", enc("hi"));
    await expect(conn.request("echo", enc("fail"))).rejects.toBeInstanceOf(RemoteError);
    const nc = conn.nats;

    // micro tools see it as <ns>_echo under $SRV; the namespace's own subjects name the cluster
    const name = `${ns}_echo`;
    for (const verb of ["PING", "INFO", "STATS"] as const) {
      for (const subject of [
        `$SRV.${verb}`,
        `$SRV.${verb}.${name}`,
        `$SRV.${verb}.${name}.${svc.id}`,
        `${ns}.srv.${verb}`,
        `${ns}.srv.${verb}.echo`,
        `${ns}.srv.${verb}.echo.${svc.id}`,
      ]) {
        const mine = (await ask(nc, subject)).filter((r) => r.id === svc.id);
        expect(mine, subject).toHaveLength(1);
        const answer = mine[0] ?? {};
        expect(validators[verb](answer), `${subject}: ${ajv.errorsText(validators[verb].errors)}`).toBe(true);
        expect(answer).toMatchObject({
          name,
          id: svc.id,
          version: "1.4.2",
          metadata: { region: "eu", "jetmesh.namespace": ns, "jetmesh.cluster": "echo" },
        });
      }
    }
    // another member id or another name: no answer from this member
    for (const subject of [`$SRV.PING.${name}.nope`, `$SRV.PING.echo`, `${ns}.srv.PING.other`, `${ns}.srv.FOO`]) {
      expect(
        (await ask(nc, subject)).filter((r) => r.id === svc.id),
        subject,
      ).toHaveLength(0);
    }

    const [info] = (await ask(nc, `$SRV.INFO.${name}.${svc.id}`)) as { description: string; endpoints: unknown[] }[];
    expect(info?.description).toBe("echoes");
    expect(info?.endpoints).toEqual([
      { name: "request", subject: `${ns}.req.echo`, queue_group: "q", metadata: null },
      { name: "broadcast", subject: `${ns}.bcast.echo`, queue_group: "", metadata: null },
    ]);
    const [stats] = (await ask(nc, `${ns}.srv.STATS.echo.${svc.id}`)) as {
      started: string;
      endpoints: Record<string, unknown>[];
    }[];
    expect(Date.now() - Date.parse(stats?.started ?? "")).toBeLessThan(60_000);
    const request = stats?.endpoints.find((e) => e.name === "request");
    expect(request).toMatchObject({ num_requests: 4, num_errors: 1, last_error: "asked to fail" });
    expect(request?.processing_time).toBeGreaterThan(0);
    expect(request?.average_processing_time).toBe(Math.round((svc.stats().averageProcessingTime * 1e6) as number));
    expect(request?.data).toMatchObject({ overloaded: 0, running: 0, queued_bytes: 0 });
  });

  it("stops answering as soon as the member unregisters", async () => {
    const ns = uniqueNamespace();
    const conn = await nats.open(ns);
    const svc = await conn.register("gone", { handleRequest: (r) => r });
    for (const subject of [`$SRV.PING.${ns}_gone`, `${ns}.srv.PING.gone`]) {
      expect((await ask(conn.nats, subject)).map((r) => r.id)).toEqual([svc.id]);
    }
    await svc.unregister();
    for (const subject of [`$SRV.PING.${ns}_gone`, `${ns}.srv.PING.gone`]) {
      expect(await ask(conn.nats, subject)).toEqual([]);
    }
  });
});

describe("discover()", () => {
  it("lists live members of its namespace with version, metadata and stats, filtered by version range and metadata", async () => {
    const ns = uniqueNamespace();
    const conn = await nats.open(ns);
    const handler = { handleRequest: (r: Uint8Array) => r };
    const a = await conn.register("shop", handler, {
      version: "1.2.0",
      description: "the shop",
      metadata: { region: "eu", env: "prod" },
    });
    const b = await conn.register("shop", handler, { version: "1.9.1", metadata: { region: "us", env: "prod" } });
    const c = await conn.register("shop", handler, { version: "2.0.0", metadata: { region: "eu", env: "dev" } });
    const other = await conn.register("billing", handler);
    // the same cluster in another namespace is not listed
    await (await nats.open(uniqueNamespace())).register("shop", handler);
    for (let i = 0; i < 6; i++) await conn.request("shop", enc("x"));

    const all = await conn.discover();
    expect(all.map((m) => m.id).sort()).toEqual([a.id, b.id, c.id, other.id].sort());
    const shop = await conn.discover("shop");
    expect(shop.map((m) => m.id).sort()).toEqual([a.id, b.id, c.id].sort());
    const first = shop.find((m) => m.id === a.id);
    expect(first).toMatchObject({
      cluster: "shop",
      version: "1.2.0",
      description: "the shop",
      metadata: { region: "eu", env: "prod" },
    });
    expect(first?.started).toBeInstanceOf(Date);
    expect(shop.reduce((n, m) => n + m.stats.requests, 0)).toBe(6);

    expect((await conn.discover("shop", { version: "^1.0.0" })).map((m) => m.id).sort()).toEqual([a.id, b.id].sort());
    expect((await conn.discover("shop", { version: ">=1.5 <3" })).map((m) => m.id).sort()).toEqual([b.id, c.id].sort());
    expect((await conn.discover("shop", { metadata: { region: "eu" } })).map((m) => m.id).sort()).toEqual(
      [a.id, c.id].sort(),
    );
    expect(
      (await conn.discover(undefined, { version: "^1", metadata: { region: "eu", env: "prod" } })).map((m) => m.id),
    ).toEqual([a.id]);
    expect(await conn.discover("nobody")).toEqual([]);
  });

  it("works in a namespace of several tokens, and does not list a namespace nested in it", async () => {
    const ns = `${uniqueNamespace()}.shop`;
    const member = await nats.open(ns);
    const svc = await member.register("echo", { handleRequest: (r) => r });
    const nested = await nats.open(`${ns}.eu`);
    await nested.register("echo", { handleRequest: (r) => r });
    const caller = await nats.open(ns);
    expect((await caller.discover()).map((m) => m.id)).toEqual([svc.id]);
    expect((await caller.discover("echo")).map((m) => m.id)).toEqual([svc.id]);
  });

  it("stops waiting when its connection closes, or its signal aborts", async () => {
    const conn = await nats.open(uniqueNamespace());
    const pending = conn.discover(undefined, { timeout: 5000 }).catch((e: unknown) => e);
    const started = Date.now();
    await conn.close();
    expect(await pending).toBeInstanceOf(ClosedError);
    expect(Date.now() - started).toBeLessThan(2000);
    const other = await nats.open(uniqueNamespace());
    const reason = new Error("enough");
    const aborted = other.discover(undefined, { timeout: 5000, signal: AbortSignal.timeout(50) });
    await expect(aborted).rejects.toMatchObject({ name: "TimeoutError" });
    await expect(other.discover(undefined, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
  });

  it("counts every request STATS-wise, overloaded ones as errors", async () => {
    const ns = uniqueNamespace();
    const conn = await nats.open(ns);
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const svc = await conn.register(
      "tight",
      {
        handleRequest: async (r) => {
          await gate;
          return r;
        },
      },
      { requestThreads: 1, requestMemory: 1 },
    );
    const calls = Array.from({ length: 6 }, () =>
      conn.request("tight", enc("x")).then(
        () => "ok",
        (e) => e.code,
      ),
    );
    await waitFor("5 answered at once", () => svc.stats().overloaded === 4);
    release();
    const outcomes = await Promise.all(calls);
    expect(outcomes.filter((o) => o === "OVERLOADED")).toHaveLength(4);
    const [stats] = (await ask(conn.nats, `$SRV.STATS.${ns}_tight.${svc.id}`)) as {
      endpoints: Record<string, unknown>[];
    }[];
    expect(stats?.endpoints[0]).toMatchObject({ num_requests: 6, num_errors: 4, data: { overloaded: 4 } });
  });

  it("drops a member whose process died, without any reaper", async () => {
    const ns = uniqueNamespace();
    const conn = await nats.open(ns);
    const script = fileURLToPath(new URL("./fixtures/tunnel-member.mjs", import.meta.url));
    const child = spawn(process.execPath, [script, nats.server().url, ns, String(TEST_STREAM_BYTES)], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    await new Promise<void>((resolve) => child.stdout?.once("data", () => resolve()));
    expect((await conn.discover("peer")).map((m) => m.cluster)).toEqual(["peer"]);
    child.kill("SIGKILL");
    await waitFor(
      "the dead member to be gone from the server",
      () => child.exitCode !== null || child.signalCode !== null,
    );
    // the server notices the closed socket at once; give it a moment
    let left = await conn.discover("peer", { timeout: 200 });
    for (let i = 0; i < 20 && left.length > 0; i++) left = await conn.discover("peer", { timeout: 200 });
    expect(left).toEqual([]);
  });

  it("refuses bad arguments before anything is sent", async () => {
    const conn = await nats.open(uniqueNamespace());
    await expect(conn.discover("bad name")).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(conn.discover(undefined, { version: "not a range" })).rejects.toThrow(/SemVer range/);
    await expect(conn.discover(undefined, { metadata: { a: 1 as unknown as string } })).rejects.toThrow(
      /must be a string/,
    );
    await expect(conn.discover(undefined, { timeout: 0 })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(conn.discover(undefined, { nope: 1 } as never)).rejects.toThrow(/unknown key/);
    await expect(conn.register("x", { handleRequest: (r) => r }, { version: "1.0" })).rejects.toThrow(/SemVer version/);
    for (const version of ["v1.2.3", " 1.2.3", "1.2", "1.2.3+", "1.2.3+a..b", "01.2.3"]) {
      await expect(conn.register("x", { handleRequest: (r) => r }, { version })).rejects.toThrow(/SemVer version/);
    }
    // build metadata and pre-releases are SemVer too, and the micro protocol's pattern takes them
    for (const version of ["1.0.0+build.5", "2.1.0-rc.1+sha.5114f85"]) {
      const svc = await conn.register("semver", { handleRequest: (r) => r }, { version });
      expect((await conn.discover("semver", { timeout: 300 })).map((m) => m.version)).toEqual([version]);
      await svc.unregister();
    }
    await expect(
      conn.register("x", { handleRequest: (r) => r }, { metadata: { "jetmesh.namespace": "other" } }),
    ).rejects.toThrow(/jetmesh's own/);
    await expect(conn.register("x", { handleRequest: (r) => r }, { requestThreads: 0 })).rejects.toThrow(
      /positive integer/,
    );
  });
});
