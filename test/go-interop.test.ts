import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { beforeAll, describe, expect, it } from "vitest";
import { RemoteError } from "../src/index.js";
import { type GoTools, goTools, goToolsMissing, NATS_CLI_VERSION } from "./faults/go-tools.js";
import { dec, enc, uniqueNamespace, useNats, waitFor } from "./helpers.js";

const nats = useNats();

// Without the tools (and no go to build them) the tests are skipped, saying why; CI sets
// JETMESH_REQUIRE_INTEROP=1, and there a missing tool is a failure instead.
const missing = goToolsMissing();
const required = process.env.JETMESH_REQUIRE_INTEROP === "1";
if (missing && !required) console.warn(`go-interop: skipped, ${missing}`);
const withTools = it.skipIf(missing !== undefined);

/** In `namespace`, a member of "echo" answering `echo: <request>`, and one of "fails" throwing "not there" with `code`. */
async function echoAndFailing(namespace: string, code: number | string): Promise<void> {
  const member = await nats.open(namespace);
  await member.register("echo", { handleRequest: (req) => enc(`echo: ${dec(req)}`) });
  await member.register("fails", {
    handleRequest: () => {
      throw Object.assign(new Error("not there"), { code });
    },
  });
}

let tools: GoTools;
beforeAll(async () => {
  // the first time, go builds the CLI and the Go program into .tools/: minutes
  if (!missing) tools = await goTools();
}, 20 * 60_000);

/**
 * jetmesh seen from the official `nats` CLI (natscli, pinned in
 * test/faults/go-tools.ts) and from a Go program on nats.go, its `micro` and
 * `jetstream` packages (test/go): the CLI lists, describes and counts
 * jetmesh members (`nats micro ls/info/stats`), requests them (`nats req`)
 * and hears their broadcasts (`nats sub`); a Go client calls a member and a
 * jetmesh caller calls a Go micro service, which shares the requests of one
 * subject with a member; events cross the topics stream both ways between
 * jetmesh and Go JetStream publishers and consumers.
 */
describe(`beside the nats CLI ${NATS_CLI_VERSION} and nats.go`, () => {
  if (missing !== undefined && required) {
    it("has its tools (JETMESH_REQUIRE_INTEROP=1)", () => {
      throw new Error(`the interoperability tools are missing: ${missing}`);
    });
  }

  withTools("nats micro ls, info and stats see a jetmesh member, its endpoints and its counts", async () => {
    const namespace = uniqueNamespace();
    const member = await nats.open(namespace);
    const svc = await member.register(
      "catalog",
      { handleRequest: (req) => req, handleBroadcast: () => {} },
      { version: "1.4.0", description: "a jetmesh member", metadata: { region: "eu" } },
    );
    const caller = await nats.open(namespace);
    for (let i = 0; i < 3; i++) await caller.request("catalog", enc(`r${i}`));
    // micro tools see the cluster as the service <ns>_<cluster>
    const name = `${namespace}_catalog`;
    const head = {
      name,
      id: svc.id,
      version: "1.4.0",
      metadata: { "jetmesh.namespace": namespace, "jetmesh.cluster": "catalog", region: "eu" },
    };
    const listed = JSON.parse((await cli("micro", "ls", "--json")).stdout) as { id: string }[];
    expect(listed.filter((s) => s.id === svc.id)).toEqual([
      expect.objectContaining({ ...head, description: "a jetmesh member" }),
    ]);
    const endpoints = [
      { name: "request", subject: `${namespace}.req.catalog`, queue_group: "q" },
      { name: "broadcast", subject: `${namespace}.bcast.catalog`, queue_group: "" },
    ];

    const info = JSON.parse((await cli("micro", "info", name, "--json")).stdout);
    expect(info.info).toMatchObject({ ...head, type: "io.nats.micro.v1.info_response", endpoints });
    expect(info.stats).toMatchObject({ ...head, type: "io.nats.micro.v1.stats_response" });

    const stats = JSON.parse((await cli("micro", "stats", name, "--json")).stdout);
    expect(stats).toMatchObject([{ ...head, endpoints }]);
    expect(stats[0].endpoints[0]).toMatchObject({ num_requests: 3, num_errors: 0, last_error: "" });
    expect(Date.parse(stats[0].started)).toBeGreaterThan(Date.now() - 60_000);

    // the tables read the same answers
    expect((await cli("micro", "ls")).stdout).toContain(svc.id);
    expect((await cli("micro", "info", name)).stdout).toContain(`${namespace}.bcast.catalog`);
    expect((await cli("micro", "stats", name)).stdout).toMatch(/│ request +│ 3 +│ q +│ 0 /);
  });

  withTools("nats micro info lists each method as an endpoint, and nats req calls one on its subject", async () => {
    const namespace = uniqueNamespace();
    const member = await nats.open(namespace);
    await member.register("orders", {
      methods: { create: (req) => enc(`created ${dec(req)}`), get: (req) => req },
    });
    const info = JSON.parse((await cli("micro", "info", `${namespace}_orders`, "--json")).stdout);
    expect(info.info.endpoints).toEqual([
      {
        name: "create",
        subject: `${namespace}.req.orders.create`,
        queue_group: "q",
        metadata: { "jetmesh.method": "create" },
      },
      { name: "get", subject: `${namespace}.req.orders.get`, queue_group: "q", metadata: { "jetmesh.method": "get" } },
    ]);
    const created = await cli("req", `${namespace}.req.orders.create`, "A1", "--raw");
    expect(created.stdout.trim()).toBe("created A1");
    const stats = JSON.parse((await cli("micro", "stats", `${namespace}_orders`, "--json")).stdout);
    expect(stats[0].endpoints.map((e: { name: string; num_requests: number }) => [e.name, e.num_requests])).toEqual([
      ["create", 1],
      ["get", 0],
    ]);
  });

  withTools("nats req gets a member's answer, and its error in the micro protocol's headers", async () => {
    const namespace = uniqueNamespace();
    await echoAndFailing(namespace, 404);
    const ok = await cli("req", `${namespace}.req.echo`, "hello from the CLI", "--raw");
    expect(ok.stdout.trim()).toBe("echo: hello from the CLI");
    // the CLI prints an answer's headers to stderr
    const failed = await cli("req", `${namespace}.req.fails`, "x");
    expect(failed.stderr).toMatch(/Nats-Service-Error: not there\n/);
    expect(failed.stderr).toMatch(/Nats-Service-Error-Code: 404\n/);
  });

  withTools("a Go client calls a member and reads its error", async () => {
    const namespace = uniqueNamespace();
    await echoAndFailing(namespace, "E_NOT_FOUND");
    expect(await goOnce("request", "-subject", `${namespace}.req.echo`, "-data", "from go")).toEqual([
      { data: "echo: from go", headers: null },
    ]);
    const [failed] = await goOnce("request", "-subject", `${namespace}.req.fails`, "-data", "x");
    expect(failed).toMatchObject({
      data: "",
      headers: {
        "Nats-Service-Error": ["not there"],
        "Nats-Service-Error-Code": ["500"],
        "Jetmesh-Error-Code": ["E_NOT_FOUND"],
      },
    });
  });

  withTools("a jetmesh caller calls a Go micro service, reads its error and discovers it", async () => {
    const namespace = uniqueNamespace();
    await using svc = await goServe("orders", `${namespace}.req.orders`);
    const caller = await nats.open(namespace);
    expect(dec(await caller.request("orders", enc("order 7")))).toBe("go: order 7");
    const err = await caller.request("orders", enc("fail")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteError);
    expect(err).toMatchObject({ message: "no such order", remoteCode: "404" });

    const found = await caller.discover("orders", { foreign: true, timeout: 1000 });
    expect(found).toMatchObject([{ cluster: "orders", id: svc.id, version: "0.3.0", foreign: true }]);
    expect(found[0]?.endpoints[0]).toMatchObject({
      subject: `${namespace}.req.orders`,
      num_requests: 2,
      num_errors: 1,
    });
    expect(await svc.stop()).toEqual({ event: "stopped", requests: 2 });
  });

  withTools(
    "shares the requests of one subject between a member and a Go micro service, each handled once",
    async () => {
      const namespace = uniqueNamespace();
      const member = await nats.open(namespace);
      let byJetmesh = 0;
      await member.register("shared", {
        handleRequest: (req) => {
          byJetmesh++;
          return enc(`jetmesh: ${dec(req)}`);
        },
      });
      await using go = await goServe("shared", `${namespace}.req.shared`);
      const caller = await nats.open(namespace);
      const n = 200;
      const answeredBy = { jetmesh: 0, go: 0 };
      for (let i = 0; i < n; i++) {
        const [who, body] = dec(await caller.request("shared", enc(`r${i}`))).split(": ");
        expect(body).toBe(`r${i}`);
        answeredBy[who as keyof typeof answeredBy]++;
      }
      expect(answeredBy.jetmesh + answeredBy.go).toBe(n);
      expect(answeredBy.jetmesh).toBe(byJetmesh);
      expect(answeredBy.jetmesh).toBeGreaterThan(0);
      expect(answeredBy.go).toBeGreaterThan(0);
      // the Go service counted as many as it answered: none was handled twice
      expect(await go.stop()).toEqual({ event: "stopped", requests: answeredBy.go });
      expect(go.lines.filter((l) => l.event === "request")).toHaveLength(answeredBy.go);
    },
    60_000,
  );

  withTools("nats sub hears a jetmesh broadcast", async () => {
    const namespace = uniqueNamespace();
    const conn = await nats.open(namespace);
    const sub = spawnCli("sub", `${namespace}.bcast.news`, "--count", "1");
    try {
      await waitFor("nats sub to subscribe", () => sub.stderr.includes("Subscribing on"), 15_000);
      // a broadcast is best effort: send until the subscription, live by now or soon, hears one
      for (let i = 0; sub.exitCode === null; i++) {
        if (i >= 100) throw new Error(`nats sub heard no broadcast: ${sub.stdout} ${sub.stderr}`);
        await conn.broadcast("news", enc(`extra ${i}`));
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(sub.exitCode).toBe(0);
      expect(sub.stdout).toMatch(new RegExp(`\\[#1\\] Received on "${namespace}\\.bcast\\.news"\\nextra \\d+\\n`));
    } finally {
      sub.child.kill();
    }
  });

  withTools("a Go JetStream publish reaches a jetmesh subscriber", async () => {
    const namespace = uniqueNamespace();
    const conn = await nats.open(namespace);
    const got: { event: string; seq: number }[] = [];
    // subscribing makes the namespace's stream
    await conn.subscribe("prices", (event, ctx) => {
      got.push({ event: dec(event), seq: ctx.seq });
    });
    const [ack] = await goOnce("publish", "-subject", `${namespace}.topic.prices`, "-data", "from go");
    expect(ack).toMatchObject({ stream: `JETMESH_TOPICS_${namespace}`, duplicate: false });
    await waitFor("the event", () => got.length > 0);
    expect(got).toEqual([{ event: "from go", seq: ack?.seq }]);
  });

  withTools("a Go JetStream consumer reads jetmesh's publishes from its topics stream", async () => {
    const namespace = uniqueNamespace();
    const conn = await nats.open(namespace);
    const first = await conn.publish("prices", enc("one"));
    const second = await conn.publish("prices", enc("two"));
    await conn.publish("other", enc("not this topic"));
    const read = await goOnce(
      "consume",
      "-stream",
      `JETMESH_TOPICS_${namespace}`,
      "-subject",
      `${namespace}.topic.prices`,
      "-count",
      "2",
    );
    expect(read).toMatchObject([
      { subject: `${namespace}.topic.prices`, seq: first.seq, data: "one" },
      { subject: `${namespace}.topic.prices`, seq: second.seq, data: "two" },
    ]);
    // each carries the Nats-Msg-Id that de-duplicates a publish sent again
    for (const m of read) expect(m.headers["Nats-Msg-Id"]).toEqual([expect.any(String)]);
  });
});

// biome-ignore lint/suspicious/noExplicitAny: a line of the Go program's JSON output
type Line = Record<string, any>;

/** Runs the nats CLI against the file's server, bounded; rejects with its output on a non-zero exit. */
function cli(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      tools.natsCli,
      ["--no-context", "--server", nats.server().url, "--timeout", "5s", ...args],
      { timeout: 30_000 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`nats ${args.join(" ")}: ${err.message}\n${stdout}${stderr}`));
        else resolve({ stdout, stderr });
      },
    );
  });
}

/** Starts the nats CLI, collecting its output. */
function spawnCli(...args: string[]): { child: ChildProcess; stdout: string; stderr: string; exitCode: number | null } {
  const child = spawn(tools.natsCli, ["--no-context", "--server", nats.server().url, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const out = { child, stdout: "", stderr: "", exitCode: null as number | null };
  child.stdout.on("data", (b: Buffer) => {
    out.stdout += b.toString();
  });
  child.stderr.on("data", (b: Buffer) => {
    out.stderr += b.toString();
  });
  child.on("exit", (code) => {
    out.exitCode = code ?? -1;
  });
  return out;
}

/** Runs one subcommand of the Go program to its end; its JSON lines, or a rejection with them. */
function goOnce(command: string, ...args: string[]): Promise<Line[]> {
  return new Promise((resolve, reject) => {
    execFile(
      tools.goProgram,
      [command, "-server", nats.server().url, "-timeout", "10s", ...args],
      { timeout: 30_000 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`jetmesh-go ${command}: ${err.message}\n${stdout}${stderr}`));
        else resolve(parseLines(stdout));
      },
    );
  });
}

function parseLines(text: string): Line[] {
  return text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as Line);
}

/**
 * Starts the Go micro service `name` on `subject` and resolves once it is
 * live. `stop()` ends it (closing its stdin) and gives its last line.
 */
async function goServe(
  name: string,
  subject: string,
): Promise<{ id: string; lines: Line[]; stop: () => Promise<Line | undefined> } & AsyncDisposable> {
  const child = spawn(tools.goProgram, ["serve", "-server", nats.server().url, "-name", name, "-subject", subject], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  const lines: Line[] = [];
  let stderr = "";
  child.stderr.on("data", (b: Buffer) => {
    stderr += b.toString();
  });
  createInterface({ input: child.stdout }).on("line", (l) => {
    lines.push(JSON.parse(l) as Line);
  });
  const exited = new Promise<void>((resolve) => child.on("close", () => resolve()));
  let exitCode: number | null = null;
  child.on("exit", (code) => {
    exitCode = code ?? -1;
  });
  const stop = async () => {
    child.stdin.end();
    const killer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(killer);
    return lines.at(-1);
  };
  try {
    await waitFor(
      `the Go service ${name} to start`,
      () => {
        if (exitCode !== null)
          throw new Error(`jetmesh-go serve exited ${exitCode}: ${JSON.stringify(lines)} ${stderr}`);
        return lines.some((l) => l.event === "ready");
      },
      15_000,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  const id = String(lines.find((l) => l.event === "ready")?.id);
  return { id, lines, stop, [Symbol.asyncDispose]: async () => void (await stop()) };
}
