/** `jetmesh dev`: a local JetStream-enabled nats-server for development, until Ctrl-C. */
import type { Command } from "commander";
import { startNats } from "../../devserver/index.js";
import { interrupted } from "../interrupted.js";
import type { Io } from "../io.js";
import { port } from "../option-parsers.js";

/** Adds the `dev` command to `program`. */
export function addDevCommand(program: Command, io: Io): void {
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
}
