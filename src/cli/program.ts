/**
 * The `jetmesh` command: a development server, and each pattern from the
 * shell. Exit codes: 0 ok; 1 the operation failed (the typed error's code is
 * printed); 2 usage error.
 */
import { Command, CommanderError, Option } from "commander";
import type { Connection, ConnectOptions } from "../api/index.js";
import { connect } from "../client/index.js";
import { VERSION } from "../config/index.js";
import { startNats } from "../devserver/index.js";
import { ClosedError, InvalidArgumentError, JetmeshError, RemoteError } from "../errors/index.js";
import { type Io, printTable, readAll, writeOut } from "./io.js";

/** The options every command that talks to a server takes. */
interface ServerFlags {
  server?: string;
  namespace?: string;
  user?: string;
  password?: string;
  token?: string;
  creds?: string;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
  timeout?: number;
  connectTimeout?: number;
  json?: boolean;
}

/** The benchmark suite (bench/suite.ts in the repository), built into dist/bench beside the library. */
interface Suite {
  BENCHMARKS: readonly string[];
  runSuite(
    url: string,
    chosen: readonly string[],
    config: { rounds: number; windowMs: number; warmupMs: number },
  ): Promise<Record<string, number>>;
}

async function loadSuite(): Promise<Suite> {
  return (await import(new URL("../bench/suite.js", import.meta.url).href)) as Suite;
}

/** A usage error found after parsing (exit code 2). */
class UsageError extends Error {}

const NEWLINE = new Uint8Array([10]);

/** Runs the command line `argv` (without node and the script); resolves with the exit code. */
export async function run(argv: string[], io: Io): Promise<number> {
  const program = build(io);
  try {
    await program.parseAsync(argv, { from: "user" });
    return 0;
  } catch (err) {
    return report(err, io, argv.includes("--json"));
  }
}

function report(err: unknown, io: Io, json: boolean): number {
  if (err instanceof CommanderError) {
    // help and version exit 0; commander has printed the message already
    return err.exitCode === 0 ? 0 : 2;
  }
  const usage = err instanceof UsageError || err instanceof InvalidArgumentError;
  const code = err instanceof JetmeshError ? err.code : usage ? "USAGE" : "ERROR";
  const message = err instanceof Error ? err.message : String(err);
  const remote = err instanceof RemoteError ? err.remoteCode : undefined;
  if (json) {
    io.stderr.write(`${JSON.stringify({ error: { code, message, ...(remote ? { remoteCode: remote } : {}) } })}\n`);
  } else {
    io.stderr.write(`jetmesh: ${code}${remote ? ` (${remote})` : ""}: ${message}\n`);
  }
  return usage ? 2 : 1;
}

function serverOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option("-s, --server <url>", "NATS server URL").env("NATS_URL").default("nats://127.0.0.1:4222"))
    .option("-n, --namespace <ns>", "subject namespace", "jetmesh")
    .option("--user <user>", "user name")
    .option("--password <password>", "password")
    .option("--token <token>", "authentication token")
    .option("--creds <file>", "NATS credentials file (JWT and seed)")
    .option("--tls-ca <file>", "CA certificate to verify the server with")
    .option("--tls-cert <file>", "client certificate (with --tls-key)")
    .option("--tls-key <file>", "client private key")
    .option("-t, --timeout <ms>", "time-out of the operation in ms", positiveInt)
    .option("--connect-timeout <ms>", "how long to keep trying to reach the server, in ms", positiveInt)
    .option("--json", "machine-readable output");
}

function port(value: string): number {
  const n = positiveInt(value);
  if (n > 65535) throw new UsageError(`a port is 1 to 65535, got ${n}`);
  return n;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`expected a positive integer, got "${value}"`);
  return n;
}

async function open(flags: ServerFlags): Promise<Connection> {
  const o: ConnectOptions = { servers: flags.server ?? "nats://127.0.0.1:4222", name: "jetmesh-cli" };
  if (flags.namespace !== undefined) o.namespace = flags.namespace;
  if (flags.user !== undefined) o.user = flags.user;
  if (flags.password !== undefined) o.pass = flags.password;
  if (flags.token !== undefined) o.token = flags.token;
  if (flags.creds !== undefined) o.credsFile = flags.creds;
  if (flags.tlsCa !== undefined || flags.tlsCert !== undefined || flags.tlsKey !== undefined) {
    o.tls = {
      ...(flags.tlsCa === undefined ? {} : { caFile: flags.tlsCa }),
      ...(flags.tlsCert === undefined ? {} : { certFile: flags.tlsCert }),
      ...(flags.tlsKey === undefined ? {} : { keyFile: flags.tlsKey }),
    };
  }
  if (flags.timeout !== undefined) o.timeout = flags.timeout;
  if (flags.connectTimeout !== undefined) o.connectTimeout = flags.connectTimeout;
  return connect(o);
}

/** The payload of a command: the argument, standard input when it is `-`, or nothing. */
async function payload(data: string | undefined, io: Io): Promise<Uint8Array> {
  if (data === "-") return readAll(io.stdin);
  return new TextEncoder().encode(data ?? "");
}

/** Bytes as JSON: text when they are UTF-8, else base64. */
function jsonBytes(bytes: Uint8Array): { data: string } | { base64: string } {
  try {
    return { data: new TextDecoder("utf-8", { fatal: true }).decode(bytes) };
  } catch {
    return { base64: Buffer.from(bytes).toString("base64") };
  }
}

/** Runs `fn` with a connection, closed afterwards. */
async function withConnection<T>(flags: ServerFlags, fn: (conn: Connection) => Promise<T>): Promise<T> {
  const conn = await open(flags);
  try {
    return await fn(conn);
  } finally {
    await conn.close();
  }
}

const STOP_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/** Resolves on the first Ctrl-C, SIGTERM or SIGHUP (the terminal closed). */
function interrupted(): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => {
      for (const s of STOP_SIGNALS) process.off(s, stop);
      resolve();
    };
    for (const s of STOP_SIGNALS) process.on(s, stop);
  });
}

function build(io: Io): Command {
  const program = new Command("jetmesh")
    .description("Iris-style service messaging on NATS: a dev server, and each pattern from the shell")
    .version(VERSION)
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .showHelpAfterError();

  program
    .command("dev")
    .description("start a local JetStream-enabled nats-server for development; Ctrl-C stops it")
    .option("-p, --port <port>", "port to listen on", port, 4222)
    .option("--store <dir>", "JetStream store directory (kept); default a temporary one")
    .option("--json", "machine-readable output")
    .action(async (o: { port: number; store?: string; json?: boolean }) => {
      const server = await startNats({
        useEnv: false,
        docker: false,
        port: o.port,
        ...(o.store === undefined ? {} : { storeDir: o.store }),
      });
      if (o.json) io.stdout.write(`${JSON.stringify({ url: server.url })}\n`);
      else io.stdout.write(`nats-server with JetStream listening\n  export NATS_URL=${server.url}\nCtrl-C to stop\n`);
      const died = server.exited.then(() => "died" as const);
      const why = await Promise.race([interrupted().then(() => "stopped" as const), died]);
      await server.stop();
      if (why === "died") throw new Error("nats-server ended on its own (its output is above, if any)");
      if (!o.json) io.stdout.write("stopped\n");
    });

  serverOptions(
    program
      .command("request")
      .description("send a request to one member of a cluster and print the reply")
      .argument("<cluster>", "cluster name")
      .argument("[data]", "the request; - reads standard input"),
  ).action(async (cluster: string, data: string | undefined, flags: ServerFlags) => {
    const body = await payload(data, io);
    // --timeout is the connection's default time-out, so every call below takes it
    const reply = await withConnection(flags, (conn) => conn.request(cluster, body));
    if (flags.json) await writeOut(io, `${JSON.stringify({ cluster, ...jsonBytes(reply) })}\n`);
    else await writeOut(io, reply);
  });

  serverOptions(
    program
      .command("broadcast")
      .description("send a message to every member of a cluster")
      .argument("<cluster>", "cluster name")
      .argument("[data]", "the message; - reads standard input"),
  ).action(async (cluster: string, data: string | undefined, flags: ServerFlags) => {
    const body = await payload(data, io);
    await withConnection(flags, (conn) => conn.broadcast(cluster, body));
    await writeOut(io, flags.json ? `${JSON.stringify({ cluster, bytes: body.byteLength })}\n` : "");
  });

  serverOptions(
    program
      .command("publish")
      .description("publish an event to a topic; prints its stream sequence")
      .argument("<topic>", "topic name")
      .argument("[data]", "the event; - reads standard input"),
  ).action(async (topic: string, data: string | undefined, flags: ServerFlags) => {
    const body = await payload(data, io);
    const ack = await withConnection(flags, (conn) => conn.publish(topic, body));
    await writeOut(
      io,
      flags.json ? `${JSON.stringify({ topic, ...ack })}\n` : `published to ${topic}: seq ${ack.seq}\n`,
    );
  });

  serverOptions(
    program
      .command("subscribe")
      .description("print the events of a topic as they come, until Ctrl-C")
      .argument("<topic>", "topic name")
      .option("--from-seq <seq>", "replay from this stream sequence", positiveInt)
      .option("--durable <name>", "a durable subscription of this name")
      .option("--group <name>", "a load-shared subscription of this group")
      .option("--count <n>", "exit after this many events", positiveInt),
  ).action(
    async (
      topic: string,
      flags: ServerFlags & { fromSeq?: number; durable?: string; group?: string; count?: number },
    ) => {
      await withConnection(flags, async (conn) => {
        let seen = 0;
        let done!: () => void;
        const enough = new Promise<void>((resolve) => {
          done = resolve;
        });
        const sub = await conn.subscribe(
          topic,
          async (event, ctx) => {
            // past the count: not acknowledged, so a durable or group delivers it again to the next reader
            if (flags.count !== undefined && seen >= flags.count) throw new Error("past --count; left for later");
            seen++;
            const line = flags.json
              ? `${JSON.stringify({ topic, seq: ctx.seq, time: ctx.time.toISOString(), ...jsonBytes(event) })}\n`
              : Buffer.concat([event, NEWLINE]);
            // the event is acknowledged once it is written
            await writeOut(io, line);
            if (flags.count !== undefined && seen >= flags.count) done();
          },
          {
            // one at a time, and little fetched ahead: what is not printed goes back to the server
            eventThreads: 1,
            eventMemory: 1,
            ...(flags.durable === undefined && flags.group === undefined ? {} : { retryDelay: 0 }),
            ...(flags.fromSeq === undefined ? {} : { from: { seq: flags.fromSeq } }),
            ...(flags.durable === undefined ? {} : { durable: flags.durable }),
            ...(flags.group === undefined ? {} : { group: flags.group }),
          },
        );
        io.stderr.write(`subscribed to ${topic}; Ctrl-C to stop\n`);
        await Promise.race([enough, interrupted()]);
        await sub.unsubscribe();
      });
    },
  );

  serverOptions(
    program
      .command("tunnel")
      .description("open a tunnel to one member of a cluster: standard input goes in, what comes back goes out")
      .argument("<cluster>", "cluster name")
      .option("--chunk <bytes>", "the largest tunnel message made of input", positiveInt, 256 * 1024)
      .option("--idle <ms>", "after the input ends, close once nothing arrived for this long", positiveInt, 1000),
  ).action(async (cluster: string, flags: ServerFlags & { chunk: number; idle: number }) => {
    await withConnection(flags, async (conn) => {
      const tun = await conn.tunnel(cluster);
      let last = performance.now();
      let remoteEnded = false;
      const reading = (async () => {
        for await (const msg of tun) {
          last = performance.now();
          await writeOut(io, msg);
        }
      })().finally(() => {
        remoteEnded = true;
      });
      // a failure while reading is reported once the command ends; the other end closing ends the input too
      const readFailure = reading.then(
        () => undefined,
        (err: unknown) => err,
      );
      const input = io.stdin[Symbol.asyncIterator]();
      for (;;) {
        // null: the other end closed (or reading failed)
        const next = await Promise.race([input.next(), readFailure.then(() => null)]);
        if (next === null || next.done) break;
        // what each read gives goes out at once (so interactive input is not held back), split at --chunk
        const bytes = typeof next.value === "string" ? Buffer.from(next.value) : (next.value as Uint8Array);
        for (let at = 0; at < bytes.byteLength; at += flags.chunk) {
          await tun.send(bytes.subarray(at, at + flags.chunk));
        }
      }
      if (remoteEnded) io.stdin.pause();
      last = performance.now();
      // the input ended: wait until the other end closes or falls silent
      while (!remoteEnded && performance.now() - last < flags.idle) await new Promise((r) => setTimeout(r, 25));
      await tun.close();
      const failure = await readFailure;
      if (failure !== undefined && !(failure instanceof ClosedError)) throw failure;
    });
  });

  serverOptions(
    program
      .command("ls")
      .description("list clusters and their live members, with versions and stats")
      .argument("[cluster]", "only this cluster")
      .option("--version-range <range>", "only members whose version satisfies this SemVer range")
      .option("--meta <key=value>", "only members with this metadata (repeatable)", collect, []),
  ).action(async (cluster: string | undefined, flags: ServerFlags & { versionRange?: string; meta?: string[] }) => {
    const metadata: Record<string, string> = {};
    for (const kv of flags.meta ?? []) {
      const at = kv.indexOf("=");
      if (at < 1) throw new UsageError(`--meta takes key=value, got "${kv}"`);
      metadata[kv.slice(0, at)] = kv.slice(at + 1);
    }
    const members = await withConnection(flags, (conn) =>
      conn.discover(cluster, {
        ...(flags.versionRange === undefined ? {} : { version: flags.versionRange }),
        ...(flags.meta === undefined ? {} : { metadata }),
        ...(flags.timeout === undefined ? {} : { timeout: flags.timeout }),
      }),
    );
    if (flags.json) {
      await writeOut(io, `${JSON.stringify(members, null, 2)}\n`);
      return;
    }
    if (members.length === 0) {
      await writeOut(io, "no members\n");
      return;
    }
    await writeOut(
      io,
      printTable(
        ["CLUSTER", "MEMBER", "VERSION", "REQUESTS", "ERRORS", "AVG MS", "OVERLOADED", "DROPPED", "QUEUED", "METADATA"],
        members.map((m) => [
          m.cluster,
          m.id,
          m.version,
          String(m.stats.requests),
          String(m.stats.requestErrors),
          m.stats.averageProcessingTime.toFixed(3),
          String(m.stats.overloaded),
          String(m.stats.dropped),
          String(m.stats.queuedBytes),
          Object.entries(m.metadata)
            .filter(([k]) => !k.startsWith("jetmesh."))
            .map(([k, v]) => `${k}=${v}`)
            .join(","),
        ]),
      ),
    );
  });

  serverOptions(
    program
      .command("bench")
      .description(
        "run the benchmark suite against the server: each pattern, jetmesh beside the raw NATS client " +
          "(credentials go in the --server URL)",
      )
      .argument("[benchmarks...]", "which to run: request, broadcast, publish, subscribe, tunnel, typed (default all)")
      .option("--rounds <n>", "rounds per measurement", positiveInt, 3)
      .option("--window <ms>", "measuring window per round", positiveInt, 1000)
      .option("--warmup <ms>", "warm-up before each window", positiveInt, 200),
  ).action(async (chosen: string[], flags: ServerFlags & { rounds: number; window: number; warmup: number }) => {
    const suite = await loadSuite();
    const unknown = chosen.filter((c) => !suite.BENCHMARKS.includes(c));
    if (unknown.length > 0) {
      throw new UsageError(`unknown benchmark ${unknown.join(", ")}; choose from ${suite.BENCHMARKS.join(", ")}`);
    }
    const config = { rounds: flags.rounds, windowMs: flags.window, warmupMs: flags.warmup };
    const which = chosen.length > 0 ? chosen : [...suite.BENCHMARKS];
    const url = flags.server ?? "nats://127.0.0.1:4222";
    if (!flags.json) {
      await suite.runSuite(url, which, config);
      return;
    }
    // with --json the tables go to stderr, and stdout carries only the ratios
    const log = console.log;
    console.log = console.error;
    let headline: Record<string, number>;
    try {
      headline = await suite.runSuite(url, which, config);
    } finally {
      console.log = log;
    }
    await writeOut(io, `${JSON.stringify(headline)}\n`);
  });

  return program;
}
