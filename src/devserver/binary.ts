import { type ChildProcess, spawn } from "node:child_process";
import { constants } from "node:fs";
import { access, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import type { NatsServer, StartNatsOptions } from "./nats-server.js";
import { lastLines, NatsServerStartError, startFailure } from "./server-log.js";

export const MISSING =
  "nats-server not found: apt-get install nats-server (or download it from the NATS releases), " +
  "set NATS_SERVER_BIN to its path, or set NATS_URL to a running JetStream-enabled server";

/** The nats-server binary: NATS_SERVER_BIN, else the first on PATH; undefined when none. */
export async function findNatsServer(): Promise<string | undefined> {
  const explicit = process.env.NATS_SERVER_BIN;
  const candidates = explicit
    ? [explicit]
    : (process.env.PATH ?? "")
        .split(delimiter)
        .filter(Boolean)
        .map((dir) => join(dir, "nats-server"));
  for (const file of candidates) {
    try {
      await access(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Starts `nats-server` on a free loopback port with a temp store dir. */
export async function startBinary(options: StartNatsOptions): Promise<NatsServer> {
  const bin = await findNatsServer();
  if (!bin) throw new Error(MISSING);
  const storeDir = options.storeDir ?? (await mkdtemp(join(tmpdir(), "jetmesh-nats-")));
  const timeout = options.startTimeout ?? 20_000;
  const args = (port: number) => [
    "-a",
    "127.0.0.1",
    "-p",
    String(port),
    ...(options.jetstream === false ? [] : ["-js", "-sd", storeDir]),
    ...(options.user !== undefined ? ["--user", options.user, "--pass", options.pass ?? ""] : []),
    ...(options.token !== undefined ? ["--auth", options.token] : []),
    ...(options.args ?? []),
  ];
  let child: ChildProcess;
  let port: number;
  try {
    ({ child, port } = await launch(bin, args(options.port ?? -1), timeout));
  } catch (err) {
    if (options.storeDir === undefined) await rm(storeDir, { recursive: true, force: true });
    throw err;
  }
  let stopped: Promise<void> | undefined;
  let restarting = false;
  let ended!: () => void;
  const exited = new Promise<void>((resolve) => {
    ended = resolve;
  });
  const watch = (c: ChildProcess) => c.once("exit", () => !restarting && ended());
  watch(child);
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);

  const server: NatsServer = {
    kind: "binary",
    exited,
    get url() {
      return `nats://127.0.0.1:${port}`;
    },
    stop() {
      stopped ??= (async () => {
        process.removeListener("exit", killOnExit);
        await terminate(child);
        ended();
        if (options.storeDir === undefined) await rm(storeDir, { recursive: true, force: true });
      })();
      return stopped;
    },
    async restart() {
      if (stopped) throw new Error("restart: the server was stopped");
      restarting = true;
      try {
        await terminate(child);
        ({ child, port } = await launch(bin, args(port), timeout));
      } catch (err) {
        ended();
        throw err;
      } finally {
        restarting = false;
      }
      watch(child);
    },
    async reload() {
      if (stopped) throw new Error("reload: the server was stopped");
      child.kill("SIGHUP");
    },
    [Symbol.asyncDispose]() {
      return server.stop();
    },
  };
  return server;
}

async function launch(bin: string, args: string[], timeout: number): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(bin, args, { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  return new Promise((resolve, reject) => {
    const fail = (why: string) => {
      clearTimeout(timer);
      child.kill("SIGKILL");
      // the cause first, in a few words; the whole log stays on the error
      const cause = startFailure(log);
      const tail = lastLines(log, 5);
      const message = cause
        ? `nats-server could not start: ${cause}`
        : `nats-server could not start: ${why}${tail ? `; its last lines:\n${tail}` : ""}`;
      reject(new NatsServerStartError(message, `${bin} ${args.join(" ")}\n${log}`));
    };
    const timer = setTimeout(() => fail(`not ready within ${timeout} ms`), timeout);
    let port = 0;
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (chunk: string) => {
      log += chunk;
      const listening = /Listening for client connections on [^\s]*:(\d+)/.exec(log);
      if (listening?.[1]) port = Number(listening[1]);
      if (port && /Server is ready/.test(log)) {
        clearTimeout(timer);
        child.stderr?.removeAllListeners("data");
        child.stderr?.resume();
        resolve({ child, port });
      }
    });
    child.once("error", (err) => fail(err.message));
    child.once("exit", (code, signal) => fail(`exited early (code ${code}, signal ${signal})`));
  });
}

async function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.removeAllListeners("exit");
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
}
