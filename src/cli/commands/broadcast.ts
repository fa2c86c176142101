/** `jetmesh broadcast`: a message to every member of a cluster. */
import type { Command } from "commander";
import { type Io, writeOut } from "../io.js";
import { payload } from "../payload.js";
import { type ServerFlags, serverOptions } from "../server-options.js";
import { withConnection } from "../with-connection.js";

/** Adds the `broadcast` command to `program`. */
export function addBroadcastCommand(program: Command, io: Io): void {
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
}
