/** `jetmesh broadcast`: a message to every member of a cluster. */
import type { Command } from "commander";
import { contract } from "../../contract/index.js";
import { type CliCodec, codecOption, dataValue } from "../codec-option.js";
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
      .argument("[data]", "the message (JSON text with --codec msgpack or json); - reads standard input")
      .addOption(codecOption()),
  ).action(async (cluster: string, data: string | undefined, flags: ServerFlags & { codec: CliCodec }) => {
    if (flags.codec !== "raw") {
      const value = await dataValue(data, io, flags.codec);
      // a contract that takes any value: the message is encoded as a typed client does
      const any = contract({ name: cluster, broadcast: true, codec: flags.codec });
      await withConnection(flags, (conn) => conn.use(any).broadcast(value));
      await writeOut(io, flags.json ? `${JSON.stringify({ cluster })}\n` : "");
      return;
    }
    const body = await payload(data, io);
    await withConnection(flags, (conn) => conn.broadcast(cluster, body));
    await writeOut(io, flags.json ? `${JSON.stringify({ cluster, bytes: body.byteLength })}\n` : "");
  });
}
