/**
 * A JetStream cluster on loopback, for tests of failover: nats-server
 * processes routed to one another, each with a temporary store, on free
 * ports; a node can be killed (SIGKILL) and started again with its store.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { showValue } from "../config/index.js";
import { InvalidArgumentError } from "../errors/index.js";
import { findNatsServer, MISSING } from "./binary.js";
import { lastLines, NatsServerStartError, startFailure } from "./server-log.js";

/** One node of a {@link NatsCluster}. */
export interface ClusterNode {
  readonly name: string;
  readonly url: string;
  readonly running: boolean;
}

/** A running cluster, from {@link startNatsCluster}. Disposing it stops every node and removes their stores. */
export interface NatsCluster extends AsyncDisposable {
  readonly nodes: readonly ClusterNode[];
  /** Every node's URL (a client given all of them fails over between them). */
  readonly urls: string[];
  /** Kills node `name` at once (SIGKILL); resolves once its process is gone. */
  kill(name: string): Promise<void>;
  /** Starts node `name` again, with its store; resolves once it accepts clients. */
  restart(name: string): Promise<void>;
  /** The name of the node leading `stream` now (undefined while none does). */
  streamLeader(stream: string): Promise<string | undefined>;
  /** Stops every node and removes their stores. Idempotent. */
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const address = s.address();
      const port = typeof address === "object" && address ? address.port : 0;
      s.close(() => resolve(port));
    });
  });
}

interface Node {
  name: string;
  port: number;
  clusterPort: number;
  store: string;
  child: ChildProcess | undefined;
  exited: Promise<void> | undefined;
  log: string;
}

/** Resolves once `check` resolves true, polling; rejects with `what` after `ms`. */
async function until(what: string, check: () => Promise<boolean>, ms: number): Promise<void> {
  const deadline = performance.now() + ms;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (performance.now() > deadline) throw new Error(`cluster: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Whether JetStream answers through the node at `url` (the cluster has a meta leader). */
async function jetStreamAnswers(url: string): Promise<boolean> {
  const nc = await connect({ servers: url, reconnect: false, timeout: 1000 });
  try {
    const jsm = await jetstreamManager(nc, { timeout: 1000 });
    await jsm.getAccountInfo();
    return true;
  } finally {
    await nc.close();
  }
}

/** Options of {@link startNatsCluster}. */
export interface StartNatsClusterOptions {
  /** How many nodes (2 to 9, default 3). */
  nodes?: number;
  /** How long to wait for JetStream to answer on every node, in ms (default 60 000). */
  startTimeout?: number;
  /** Extra `nats-server` arguments for every node. */
  args?: string[];
}

/**
 * Starts a JetStream cluster of `nats-server` processes on loopback (3 nodes
 * by default), each with a temporary store, on free ports; resolves once
 * JetStream answers through every node. A node can be killed and started
 * again with its store, to test failover.
 *
 * @example
 * ```ts
 * await using cluster = await startNatsCluster();
 * const conn = await connect({ servers: cluster.urls });
 * await cluster.kill("n0"); // the connection moves to another node
 * ```
 */
export async function startNatsCluster(options: StartNatsClusterOptions = {}): Promise<NatsCluster> {
  const count = options.nodes ?? 3;
  if (!Number.isInteger(count) || count < 2 || count > 9) {
    throw new InvalidArgumentError(`nodes must be an integer from 2 to 9, got ${showValue(options.nodes)}`);
  }
  const startTimeout = options.startTimeout ?? 60_000;
  const bin = await findNatsServer();
  if (!bin) throw new Error(MISSING);
  const root = await mkdtemp(join(tmpdir(), "jetmesh-cluster-"));
  const nodes: Node[] = [];
  for (let i = 0; i < count; i++) {
    nodes.push({
      name: `n${i}`,
      port: await freePort(),
      clusterPort: await freePort(),
      store: join(root, `n${i}`),
      child: undefined,
      exited: undefined,
      log: "",
    });
  }
  const routes = nodes.map((n) => `nats://127.0.0.1:${n.clusterPort}`).join(",");
  const launch = (n: Node) => {
    const args = [
      "-js",
      "-a",
      "127.0.0.1",
      "-p",
      String(n.port),
      "-n",
      n.name,
      "-sd",
      n.store,
      "--cluster_name",
      "jetmesh",
      "--cluster",
      `nats://127.0.0.1:${n.clusterPort}`,
      "--routes",
      routes,
      ...(options.args ?? []),
    ];
    const child = spawn(bin, args, { stdio: ["ignore", "ignore", "pipe"] });
    child.stderr?.on("data", (c: Buffer) => {
      n.log = (n.log + c.toString()).slice(-20_000);
    });
    n.child = child;
    n.exited = new Promise((resolve) => child.once("exit", () => resolve()));
    child.once("error", (err) => {
      n.log += `\n${String(err)}`;
    });
  };
  const node = (name: string) => {
    const n = nodes.find((x) => x.name === name);
    if (!n) throw new Error(`cluster: no node ${name}`);
    return n;
  };
  const url = (n: Node) => `nats://127.0.0.1:${n.port}`;
  // nodes never outlive the process that started them
  const killAll = () => {
    for (const n of nodes) n.child?.kill("SIGKILL");
  };
  process.once("exit", killAll);
  const stop = async () => {
    process.removeListener("exit", killAll);
    killAll();
    await Promise.all(nodes.map((n) => n.exited));
    await rm(root, { recursive: true, force: true });
  };
  for (const n of nodes) launch(n);
  try {
    await until(
      "JetStream on every node",
      async () => (await Promise.all(nodes.map((n) => jetStreamAnswers(url(n))))).every(Boolean),
      startTimeout,
    );
  } catch (err) {
    // the cause first, in a few words (a node's fatal error); every node's log stays on the error
    const causes = nodes.flatMap((n) => {
      const cause = startFailure(n.log);
      return cause === undefined ? [] : [`${n.name}: ${cause}`];
    });
    const tails = nodes.map((n) => `--- ${n.name}\n${lastLines(n.log, 5)}`).join("\n");
    const logs = nodes.map((n) => `--- ${n.name}\n${n.log}`).join("\n");
    await stop();
    throw new NatsServerStartError(
      causes.length > 0
        ? `nats-server cluster could not start: ${causes.join("; ")}`
        : `${(err as Error).message}; the nodes' last lines:\n${tails}`,
      logs,
    );
  }
  return {
    get nodes() {
      return nodes.map((n) => ({ name: n.name, url: url(n), running: n.child !== undefined }));
    },
    urls: nodes.map(url),
    kill: async (name) => {
      const n = node(name);
      n.child?.kill("SIGKILL");
      await n.exited;
      n.child = undefined;
    },
    restart: async (name) => {
      const n = node(name);
      if (n.child) return;
      launch(n);
      await until(`${name} to answer`, () => jetStreamAnswers(url(n)), startTimeout);
    },
    streamLeader: async (stream) => {
      for (const n of nodes) {
        if (!n.child) continue;
        const nc = await connect({ servers: url(n), reconnect: false, timeout: 1000 }).catch(() => undefined);
        if (!nc) continue;
        try {
          const jsm = await jetstreamManager(nc, { timeout: 2000 });
          return (await jsm.streams.info(stream)).cluster?.leader;
        } catch {
          // no answer through this node: try the next
        } finally {
          await nc.close();
        }
      }
      return undefined;
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
