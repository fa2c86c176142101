import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { permissionsConfig } from "../src/client/index.js";
import { connect, contract, permissions, TUNNELS_DEFAULTS, topicContract } from "../src/index.js";
import { dec, deferred, enc, uniqueNamespace, useNats, waitFor } from "./helpers.js";

const nats = useNats();
const CLI = fileURLToPath(new URL("../.build/test-dist/cli/main.js", import.meta.url));

interface Ran {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs `jetmesh args` against the test server (NATS_URL), feeding `input` on stdin. */
function jetmesh(args: string[], input?: Uint8Array | string, env: Record<string, string> = {}): Promise<Ran> {
  const child = start(args, env);
  child.stdin?.end(input ?? "");
  return finished(child);
}

function start(args: string[], env: Record<string, string> = {}): ChildProcess {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, NATS_URL: nats.server().url, ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  // a command that ends before reading all its input closes the pipe: not this test's failure
  child.stdin?.on("error", () => {});
  return child;
}

function finished(child: ChildProcess): Promise<Ran> {
  const out: Buffer[] = [];
  let stderr = "";
  child.stdout?.on("data", (d: Buffer) => out.push(d));
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout: Buffer.concat(out), stderr })));
}

/** A free loopback port. */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("the jetmesh command", () => {
  it("request: prints the reply; reads - from stdin; --json; exit 1 with the error's code on failure", async () => {
    const ns = uniqueNamespace();
    const conn = await nats.open(ns);
    await conn.register("echo", {
      handleRequest: (req) => {
        if (dec(req) === "fail") throw Object.assign(new Error("asked to fail"), { code: "E_ASKED" });
        return enc(`echo: ${dec(req)}`);
      },
    });
    const ok = await jetmesh(["request", "echo", "hi", "-n", ns]);
    expect(ok).toMatchObject({ code: 0, stderr: "" });
    expect(ok.stdout.toString()).toBe("echo: hi");
    const piped = await jetmesh(["request", "echo", "-", "--namespace", ns], "from stdin");
    expect(piped.stdout.toString()).toBe("echo: from stdin");
    // without "-", standard input is left alone (a shell loop's input is not swallowed)
    const empty = await jetmesh(["request", "echo", "--namespace", ns], "not for the request");
    expect(empty.stdout.toString()).toBe("echo: ");
    const json = await jetmesh(["request", "echo", "x", "-n", ns, "--json"]);
    expect(JSON.parse(json.stdout.toString())).toEqual({ cluster: "echo", data: "echo: x" });

    const remote = await jetmesh(["request", "echo", "fail", "-n", ns]);
    expect(remote.code).toBe(1);
    expect(remote.stderr).toBe("jetmesh: REMOTE (E_ASKED): asked to fail\n");
    const none = await jetmesh(["request", "nobody", "x", "-n", ns, "--json"]);
    expect(none.code).toBe(1);
    expect(JSON.parse(none.stderr).error).toMatchObject({ code: "NO_RESPONDERS" });
    const timeout = await jetmesh([
      "request",
      "echo",
      "x",
      "-n",
      ns,
      "-s",
      "nats://127.0.0.1:1",
      "--connect-timeout",
      "300",
    ]);
    expect(timeout.code).toBe(1);
    expect(timeout.stderr).toMatch(/^jetmesh: CONNECTION: /);
  });

  it("exits 2 on usage errors, and has --help on every command", async () => {
    for (const args of [
      ["frob"],
      ["request"],
      ["request", "bad name", "x"],
      ["request", "echo", "-t", "0"],
      ["ls", "--meta", "novalue"],
    ]) {
      const r = await jetmesh(args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr.length, args.join(" ")).toBeGreaterThan(0);
    }
    for (const command of [
      "dev",
      "request",
      "broadcast",
      "publish",
      "subscribe",
      "tunnel",
      "ls",
      "permissions",
      "bench",
    ]) {
      const r = await jetmesh([command, "--help"]);
      expect(r.code, command).toBe(0);
      expect(r.stdout.toString(), command).toContain(`Usage: jetmesh ${command}`);
    }
    expect((await jetmesh(["--help"])).stdout.toString()).toMatch(/Commands:[\s\S]*tunnel/);
  });

  it("broadcast reaches every member; publish prints the sequence; subscribe streams events", async () => {
    const ns = uniqueNamespace();
    const conn = await nats.open(ns);
    const heard: string[] = [];
    await conn.register("room", { handleBroadcast: (m) => void heard.push(dec(m)) });
    await conn.register("room", { handleBroadcast: (m) => void heard.push(dec(m)) });
    expect((await jetmesh(["broadcast", "room", "hello all", "-n", ns])).code).toBe(0);
    await waitFor("both members", () => heard.length === 2);
    expect(heard).toEqual(["hello all", "hello all"]);

    const sub = start(["subscribe", "news", "-n", ns, "--json", "--count", "2"]);
    sub.stdin?.end();
    const subDone = finished(sub);
    // the subscription is live once the command says so on stderr
    let said = "";
    sub.stderr?.on("data", (d: Buffer) => {
      said += d.toString();
    });
    await waitFor("the subscription", () => said.includes("subscribed to news"));
    const first = await jetmesh(["publish", "news", "one", "-n", ns]);
    expect(first).toMatchObject({ code: 0 });
    expect(first.stdout.toString()).toMatch(/^published to news: seq \d+\n$/);
    const second = await jetmesh(["publish", "news", "-", "-n", ns, "--json"], "two");
    const ack = JSON.parse(second.stdout.toString());
    expect(ack).toMatchObject({ topic: "news", duplicate: false });
    const done = await subDone;
    expect(done.code).toBe(0);
    const lines = done.stdout
      .toString()
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.data)).toEqual(["one", "two"]);
    expect(lines[1].seq).toBe(ack.seq);
  });

  it("subscribe --durable --count hands each event to exactly one run, in order, none lost", async () => {
    const ns = uniqueNamespace();
    for (let i = 1; i <= 4; i++) expect((await jetmesh(["publish", "orders", `e${i}`, "-n", ns])).code).toBe(0);
    const got: string[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await jetmesh(["subscribe", "orders", "-n", ns, "--durable", "d1", "--from-seq", "1", "--count", "1"]);
      expect(r.code).toBe(0);
      got.push(r.stdout.toString());
    }
    expect(got).toEqual(["e1\n", "e2\n", "e3\n", "e4\n"]);
  });

  it("subscribe runs until Ctrl-C and then exits 0", async () => {
    const ns = uniqueNamespace();
    // the stream exists first, with the tests' settings; the command takes it as it is
    const conn = await nats.open(ns);
    await conn.publish("ticks", enc("before"));
    const sub = start(["subscribe", "ticks", "-n", ns]);
    sub.stdin?.end();
    const done = finished(sub);
    let err = "";
    sub.stderr?.on("data", (d: Buffer) => {
      err += d.toString();
    });
    await waitFor("subscribed", () => err.includes("subscribed to ticks"));
    await conn.publish("ticks", enc("tick 1"));
    let out = "";
    sub.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
    });
    await waitFor("the event", () => out.includes("tick 1"));
    sub.kill("SIGINT");
    const r = await done;
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toBe("tick 1\n");
  });

  it("tunnel copies stdin through a member and back to stdout, byte for byte, ending its sending when stdin ends", async () => {
    const ns = uniqueNamespace();
    // the member takes the tunnels stream as the command makes it (the default size, in memory)
    const conn = await nats.open(ns, { tunnels: { maxBytes: TUNNELS_DEFAULTS.maxBytes } });
    await conn.register("files", {
      async handleTunnel(tun) {
        // echoes until the command's input ends, answers a moment later, then ends too
        for await (const msg of tun) await tun.send(msg);
        await new Promise((r) => setTimeout(r, 1500));
        await tun.send(enc("<done>"));
        await tun.end();
      },
    });
    const data = randomBytes(3 * 1024 * 1024 + 17);
    const r = await jetmesh(["tunnel", "files", "-n", ns], data);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    // everything, and what came after the input ended (later than the old --idle wait), then the command ends
    expect(r.stdout.byteLength).toBe(data.byteLength + 6);
    expect(r.stdout.equals(Buffer.concat([data, Buffer.from("<done>")]))).toBe(true);
    // input goes out as it comes: an answer arrives before the input ends
    const live = start(["tunnel", "files", "-n", ns]);
    const liveDone = finished(live);
    let echoed = "";
    live.stdout?.on("data", (d: Buffer) => {
      echoed += d.toString();
    });
    live.stdin?.write("line-a\n");
    await waitFor("the first line back", () => echoed === "line-a\n");
    live.stdin?.end("line-b\n");
    expect((await liveDone).code).toBe(0);
    expect(echoed).toBe("line-a\nline-b\n<done>");
    // a member that ends first: the command goes on sending its input, and ends once it has
    const heard = deferred<number>();
    await conn.register("greeter", {
      async handleTunnel(tun) {
        await tun.send(enc("hello"));
        await tun.end();
        let n = 0;
        for await (const msg of tun) n += msg.byteLength;
        heard.resolve(n);
      },
    });
    const greeted = start(["tunnel", "greeter", "-n", ns]);
    const greetedDone = finished(greeted);
    let exited = false;
    void greetedDone.then(() => {
      exited = true;
    });
    let greeting = "";
    greeted.stdout?.on("data", (d: Buffer) => {
      greeting += d.toString();
    });
    greeted.stdin?.write("x".repeat(1000));
    await waitFor("the greeting", () => greeting === "hello");
    await new Promise((r) => setTimeout(r, 500));
    expect(exited, "exited while its input is open").toBe(false);
    greeted.stdin?.end("y".repeat(500));
    const g = await greetedDone;
    expect(g).toMatchObject({ code: 0, stderr: "" });
    expect(await heard.promise).toBe(1500);
    // --idle is gone: the member's end or close says when the answers are over
    expect((await jetmesh(["tunnel", "files", "-n", ns, "--idle", "500"], "x")).code).toBe(2);
    // a member that closes ends the command, though its input is still open
    await conn.register("closer", {
      async handleTunnel(tun) {
        await tun.recv();
        await tun.send(enc("bye"));
        await tun.close();
      },
    });
    const closing = start(["tunnel", "closer", "-n", ns]);
    const closed = finished(closing);
    closing.stdin?.write("hello");
    const c = await closed;
    expect(c.code).toBe(0);
    expect(c.stdout.toString()).toBe("bye");
    const none = await jetmesh(["tunnel", "nobody", "-n", ns], "x");
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/NO_RESPONDERS/);
  });

  it("ls lists clusters, members, versions and stats as a table or JSON, filtered", async () => {
    const ns = uniqueNamespace();
    const conn = await nats.open(ns);
    const a = await conn.register(
      "shop",
      { handleRequest: (r) => r },
      { version: "1.0.0", metadata: { region: "eu" } },
    );
    const b = await conn.register(
      "shop",
      { handleRequest: (r) => r },
      { version: "2.1.0", metadata: { region: "us" } },
    );
    await conn.request("shop", enc("x"));
    const table = await jetmesh(["ls", "-n", ns]);
    expect(table.code).toBe(0);
    const text = table.stdout.toString();
    expect(text).toMatch(/^CLUSTER\s+MEMBER\s+VERSION\s+REQUESTS/);
    expect(text).toContain(a.id);
    expect(text).toMatch(new RegExp(`shop\\s+${b.id}\\s+2\\.1\\.0`));
    const json = JSON.parse((await jetmesh(["ls", "shop", "-n", ns, "--json"])).stdout.toString());
    expect(json.map((m: { id: string }) => m.id).sort()).toEqual([a.id, b.id].sort());
    expect(json.reduce((n: number, m: { stats: { requests: number } }) => n + m.stats.requests, 0)).toBe(1);
    const eu = JSON.parse((await jetmesh(["ls", "--meta", "region=eu", "shop", "-n", ns, "--json"])).stdout.toString());
    expect(eu.map((m: { id: string }) => m.id)).toEqual([a.id]);
    const v2 = JSON.parse((await jetmesh(["ls", "-n", ns, "--json", "--version-range", "^2"])).stdout.toString());
    expect(v2.map((m: { id: string }) => m.id)).toEqual([b.id]);
    expect((await jetmesh(["ls", "-n", uniqueNamespace()])).stdout.toString()).toBe("no members\n");
  });

  it("permissions prints the least permissions of a namespace, as server configuration or JSON", async () => {
    const config = await jetmesh(["permissions", "--namespace", "shop", "--role", "client"]);
    expect(config.code).toBe(0);
    expect(config.stdout.toString()).toContain(permissionsConfig(permissions("shop", { role: "client" })));
    const json = await jetmesh(["permissions", "-n", "shop", "--micro", "--json"]);
    expect(JSON.parse(json.stdout.toString())).toEqual(permissions("shop", { micro: true }));
    expect((await jetmesh(["permissions", "--role", "boss"])).code).toBe(2);
    expect((await jetmesh(["permissions", "-n", "bad ns"])).code).toBe(2);
  });

  it("dev starts a JetStream server on the port asked for, keeps its store, and stops on Ctrl-C", async () => {
    const port = await freePort();
    const store = mkdtempSync(join(tmpdir(), "jetmesh-dev-"));
    dirs.push(store);
    const dev = start(["dev", "--port", String(port), "--store", store], { NATS_URL: "" });
    dev.stdin?.end();
    const done = finished(dev);
    let out = "";
    dev.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
    });
    await waitFor("the URL", () => out.includes(`export NATS_URL=nats://127.0.0.1:${port}`), 20_000);
    const conn = await connect({ servers: `nats://127.0.0.1:${port}`, topics: { maxBytes: 1024 * 1024 } });
    const ack = await conn.publish("hello", enc("world"));
    expect(ack.seq).toBe(1);
    await conn.close();
    dev.kill("SIGINT");
    const r = await done;
    expect(r.code).toBe(0);
    expect(out).toContain("stopped");
    expect(existsSync(join(store, "jetstream"))).toBe(true);
    // the port is free again
    await expect(connect({ servers: `nats://127.0.0.1:${port}`, connectTimeout: 300 })).rejects.toMatchObject({
      code: "CONNECTION",
    });
  });

  it("dev --cluster 3 starts a 3-node JetStream cluster whose comma-separated URL list the other commands take", async () => {
    const dev = start(["dev", "--cluster", "3", "--json"], { NATS_URL: "" });
    dev.stdin?.end();
    const done = finished(dev);
    let out = "";
    dev.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
    });
    await waitFor("the URLs", () => out.includes("\n"), 60_000);
    const { url, urls } = JSON.parse(out) as { url: string; urls: string[] };
    expect(urls).toHaveLength(3);
    expect(url).toBe(urls.join(","));
    // a member on the first node answers a request sent through the list, replicated topics take R3
    const ns = uniqueNamespace();
    const member = await connect({ servers: urls[0] as string, namespace: ns });
    await member.register("echo", { handleRequest: (req) => req });
    const r = await jetmesh(["request", "echo", "hi", "-n", ns, "-s", url]);
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toBe("hi");
    const conn = await connect({ servers: urls[2] as string, namespace: ns, topics: { replicas: 3 } });
    expect((await conn.publish("replicated", enc("x"))).seq).toBe(1);
    await conn.close();
    await member.close();
    dev.kill("SIGINT");
    expect((await done).code).toBe(0);
    // a cluster forming on a busy machine: the URLs alone may take up to the minute waited for above
  }, 120_000);

  it("bench runs the benchmark suite against the server and prints the ratios", async () => {
    const r = await jetmesh(["bench", "request", "--rounds", "1", "--window", "100", "--warmup", "20", "--json"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/request\/reply, requests\/s/);
    const headline = JSON.parse(r.stdout.toString()) as Record<string, number>;
    expect(Object.keys(headline).sort()).toEqual(
      ["128B", "1024B"]
        .flatMap((size) => [...[1, 16, 128].map((n) => `request ${size} x${n}`), `request ${size} p50 latency`])
        .sort(),
    );
    for (const ratio of Object.values(headline)) expect(ratio).toBeGreaterThan(0);
    expect((await jetmesh(["bench", "nonsense"])).code).toBe(2);
  });
});

describe("the jetmesh command with --codec", () => {
  const Orders = (codec: "msgpack" | "json") =>
    contract({
      name: "orders",
      request: { type: "object", properties: { sku: { type: "string" } }, required: ["sku"] } as const,
      reply: { type: "object" } as const,
      broadcast: { type: "string" } as const,
      codec,
    });
  const lines = (out: Buffer) =>
    out
      .toString()
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));

  it("request and broadcast speak a typed contract: JSON text in, the reply printed as one line of JSON", async () => {
    for (const codec of ["msgpack", "json"] as const) {
      const ns = uniqueNamespace();
      const conn = await nats.open(ns);
      const heard: string[] = [];
      await conn.register(Orders(codec), {
        handleRequest: (req) => ({ sku: req.sku, ok: true, at: [1, 2] }),
        handleBroadcast: (msg) => void heard.push(msg),
      });
      const r = await jetmesh(["request", "orders", '{"sku":"A1"}', "-n", ns, "--codec", codec]);
      expect(r, codec).toMatchObject({ code: 0, stderr: "" });
      expect(r.stdout.toString()).toBe('{"sku":"A1","ok":true,"at":[1,2]}\n');
      const piped = await jetmesh(["request", "orders", "-", "-n", ns, "--codec", codec, "--json"], '{"sku":"B2"}');
      expect(JSON.parse(piped.stdout.toString())).toEqual({
        cluster: "orders",
        value: { sku: "B2", ok: true, at: [1, 2] },
      });
      // the member checks its contract: a request that does not match is its BAD_REQUEST
      const refused = await jetmesh(["request", "orders", '{"qty":1}', "-n", ns, "--codec", codec]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/^jetmesh: REMOTE \(BAD_REQUEST\): /);
      expect((await jetmesh(["broadcast", "orders", '"to all"', "-n", ns, "--codec", codec])).code).toBe(0);
      await waitFor("the broadcast", () => heard.length === 1);
      expect(heard).toEqual(["to all"]);
    }
    // without --codec, the bytes of a msgpack reply are printed as they are (today's behaviour)
    const ns = uniqueNamespace();
    await (await nats.open(ns)).register(Orders("msgpack"), { handleRequest: () => ({}) });
    const raw = await jetmesh(["request", "orders", "x", "-n", ns]);
    expect(raw.code).toBe(1);
    expect(raw.stderr).toMatch(/BAD_REQUEST/);
  });

  it("takes data that is JSON text only, and says so (exit 2)", async () => {
    for (const args of [
      ["request", "orders", "{sku: A1}", "--codec", "msgpack"],
      ["request", "orders", "--codec", "json"],
      ["publish", "news", "hi", "--codec", "json"],
      ["request", "orders", "{}", "--codec", "yaml"],
    ]) {
      const r = await jetmesh(args);
      expect(r.code, args.join(" ")).toBe(2);
    }
    const r = await jetmesh(["publish", "news", "hi", "--codec", "json"]);
    expect(r.stderr).toMatch(/with --codec json, the data is JSON text \(a string is written '"text"'\)/);
  });

  it("publish encodes events for typed subscribers; subscribe prints typed events as JSON, one line each", async () => {
    for (const codec of ["msgpack", "json"] as const) {
      const ns = uniqueNamespace();
      const conn = await nats.open(ns);
      const Prices = topicContract({ name: "prices", event: { type: "object" } as const, codec });
      const typed: unknown[] = [];
      await conn.use(Prices).subscribe((p) => typed.push(p));
      const sub = start(["subscribe", "prices", "-n", ns, "--codec", codec, "--count", "2"]);
      sub.stdin?.end();
      const subDone = finished(sub);
      let said = "";
      sub.stderr?.on("data", (d: Buffer) => {
        said += d.toString();
      });
      await waitFor("the subscription", () => said.includes("subscribed to prices"));
      const published = await jetmesh(["publish", "prices", '{"sku":"A1","eur":12.5}', "-n", ns, "--codec", codec]);
      expect(published.stdout.toString()).toMatch(/^published to prices: seq 1\n$/);
      await conn.use(Prices).publish({ sku: "B2", eur: 3 });
      const done = await subDone;
      expect(done.code, codec).toBe(0);
      expect(lines(done.stdout)).toEqual([
        { sku: "A1", eur: 12.5 },
        { sku: "B2", eur: 3 },
      ]);
      await waitFor("the typed subscriber", () => typed.length === 2);
      expect(typed[0]).toEqual({ sku: "A1", eur: 12.5 });
      // --json: the value beside the sequence and time; a durable's leftover past --count is not logged
      const json = await jetmesh(
        [
          "subscribe",
          "prices",
          "-n",
          ns,
          "--codec",
          codec,
          "--json",
          "--durable",
          "d",
          "--from-seq",
          "1",
          "--count",
          "1",
        ],
        undefined,
        { JETMESH_LOG: "warn" },
      );
      expect(json.code).toBe(0);
      expect(lines(json.stdout)).toEqual([
        { topic: "prices", seq: 1, time: expect.any(String), value: { sku: "A1", eur: 12.5 } },
      ]);
      expect(json.stderr).toBe("subscribed to prices; Ctrl-C to stop\n");
    }
  });
});

describe("the jetmesh command's error messages", () => {
  it("dev on a port in use says so in one line, the server's log only with --verbose", async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const { port } = blocker.address() as { port: number };
    try {
      const r = await jetmesh(["dev", "--port", String(port)], undefined, { NATS_URL: "" });
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(
        `jetmesh: ERROR: nats-server could not start: port ${port} is already in use; ` +
          "is another server running there? stop it, or pick another port with --port " +
          "(--verbose prints the server's log)\n",
      );
      const verbose = await jetmesh(["dev", "--port", String(port), "--verbose"], undefined, { NATS_URL: "" });
      expect(verbose.code).toBe(1);
      expect(verbose.stderr).toMatch(
        /^nats-server said:\n\S*nats-server -a 127\.0\.0\.1 -p \d+ [^\n]*\n.*\[INF\] Starting nats-server/,
      );
      expect(verbose.stderr).toMatch(/\[FTL\].*address already in use/);
      expect(verbose.stderr.trimEnd().split("\n").at(-1)).toMatch(
        /^jetmesh: ERROR: nats-server could not start: port \d+ is already in use/,
      );
    } finally {
      blocker.close();
    }
  });

  it("a server URL that cannot be right is a usage error at once, naming it", async () => {
    const r = await jetmesh(["request", "echo", "x", "-s", "nats:/127.0.0.1:4222"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /^jetmesh: INVALID_ARGUMENT: options\.servers: "nats:\/127\.0\.0\.1:4222" is not a server URL/,
    );
  });
});
