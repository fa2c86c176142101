/** `jetmesh dev`: a local JetStream-enabled nats-server (or a cluster of them) for development, until Ctrl-C. */
import type { Command } from "commander";
import { NatsServerStartError, startNats, startNatsCluster } from "../../devserver/index.js";
import { interrupted } from "../interrupted.js";
import type { Io } from "../io.js";
import { clusterSize, port } from "../option-parsers.js";
import { UsageError } from "../usage-error.js";

interface DevFlags {
  port: number;
  store?: string;
  cluster?: number;
  json?: boolean;
  verbose?: boolean;
}

/** What `dev` runs: its URLs, how to stop it, and when it ends on its own. */
interface Running {
  urls: string[];
  stop(): Promise<void>;
  exited: Promise<void>;
}

async function start(o: DevFlags): Promise<Running> {
  if (o.cluster === undefined) {
    const server = await startNats({
      useEnv: false,
      docker: false,
      port: o.port,
      ...(o.store === undefined ? {} : { storeDir: o.store }),
    });
    return { urls: [server.url], stop: () => server.stop(), exited: server.exited };
  }
  if (o.store !== undefined) throw new UsageError("--store is for one server; a cluster's nodes keep temporary stores");
  const cluster = await startNatsCluster({ nodes: o.cluster });
  // a node that dies is its clients' to see (they move to another); the cluster runs until Ctrl-C
  return { urls: cluster.urls, stop: () => cluster.stop(), exited: new Promise<void>(() => {}) };
}

/** Adds the `dev` command to `program`. */
export function addDevCommand(program: Command, io: Io): void {
  program
    .command("dev")
    .description("start a local JetStream-enabled nats-server (or a cluster) for development; Ctrl-C stops it")
    .option("-p, --port <port>", "port to listen on (one server)", port, 4222)
    .option("--store <dir>", "JetStream store directory (kept); default a temporary one (one server)")
    .option("--cluster <nodes>", "start a JetStream cluster of 2 to 9 nodes on free ports instead", clusterSize)
    .option("--json", "machine-readable output")
    .option("--verbose", "when the server cannot start, print all it said, not only why")
    .action(async (o: DevFlags) => {
      const running = await start(o).catch((err: unknown) => {
        throw startFailed(err, o, io);
      });
      const url = running.urls.join(",");
      if (o.json) io.stdout.write(`${JSON.stringify({ url, urls: running.urls })}\n`);
      else {
        const what = o.cluster === undefined ? "nats-server" : `a ${o.cluster}-node cluster`;
        io.stdout.write(`${what} with JetStream listening\n  export NATS_URL=${url}\nCtrl-C to stop\n`);
      }
      const died = running.exited.then(() => "died" as const);
      const why = await Promise.race([interrupted().then(() => "stopped" as const), died]);
      await running.stop();
      if (why === "died") throw new Error("nats-server ended on its own");
      if (!o.json) io.stdout.write("stopped\n");
    });
}

/**
 * A server that did not start: why, in a line (its log only with
 * --verbose, before that line), and what to do about a port in use.
 */
function startFailed(err: unknown, o: DevFlags, io: Io): unknown {
  if (!(err instanceof NatsServerStartError)) return err;
  if (o.verbose) io.stderr.write(`nats-server said:\n${err.log.trimEnd()}\n`);
  const taken = o.cluster === undefined && / is already in use/.test(err.message);
  const hint = taken ? `; is another server running there? stop it, or pick another port with --port` : "";
  const more = o.verbose ? "" : " (--verbose prints the server's log)";
  return new Error(`${err.message}${hint}${more}`, { cause: err });
}
