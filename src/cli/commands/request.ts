/** `jetmesh request`: a request to one member of a cluster, and its reply. */
import type { Command } from "commander";
import { type Io, writeOut } from "../io.js";
import { jsonBytes } from "../json-bytes.js";
import { payload } from "../payload.js";
import { type ServerFlags, serverOptions } from "../server-options.js";
import { withConnection } from "../with-connection.js";

/** Adds the `request` command to `program`. */
export function addRequestCommand(program: Command, io: Io): void {
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
}
