/**
 * The `jetmesh` command: a development server, and each pattern from the
 * shell. Exit codes: 0 ok; 1 the operation failed (the typed error's code is
 * printed); 2 usage error. Each command is in commands/.
 */
import { Command, CommanderError } from "commander";
import { VERSION } from "../config/index.js";
import { InvalidArgumentError, JetmeshError, RemoteError } from "../errors/index.js";
import { addBenchCommand } from "./commands/bench.js";
import { addBroadcastCommand } from "./commands/broadcast.js";
import { addDevCommand } from "./commands/dev.js";
import { addHealthCommand } from "./commands/health.js";
import { addLsCommand } from "./commands/ls.js";
import { addPermissionsCommand } from "./commands/permissions.js";
import { addPublishCommand } from "./commands/publish.js";
import { addRequestCommand } from "./commands/request.js";
import { addSubscribeCommand } from "./commands/subscribe.js";
import { addTunnelCommand } from "./commands/tunnel.js";
import type { Io } from "./io.js";
import { UsageError } from "./usage-error.js";

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

function build(io: Io): Command {
  const program = new Command("jetmesh")
    .description("Iris-style service messaging on NATS: a dev server, and each pattern from the shell")
    .version(VERSION)
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .showHelpAfterError();

  // in this order in --help
  addDevCommand(program, io);
  addRequestCommand(program, io);
  addBroadcastCommand(program, io);
  addPublishCommand(program, io);
  addSubscribeCommand(program, io);
  addTunnelCommand(program, io);
  addLsCommand(program, io);
  addHealthCommand(program, io);
  addPermissionsCommand(program, io);
  addBenchCommand(program, io);

  return program;
}
