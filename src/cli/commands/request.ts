/** `jetmesh request`: a request to one member of a cluster, and its reply. */
import type { Command } from "commander";
import { contract } from "../../contract/index.js";
import { type CliCodec, codecOption, dataValue, jsonText, jsonValue } from "../codec-option.js";
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
      .argument("[data]", "the request (JSON text with --codec msgpack or json); - reads standard input")
      .addOption(codecOption()),
  ).action(async (cluster: string, data: string | undefined, flags: ServerFlags & { codec: CliCodec }) => {
    if (flags.codec !== "raw") {
      const value = await dataValue(data, io, flags.codec);
      // a contract that takes any value: the request is encoded, and the reply decoded, as a typed client does
      const any = contract({ name: cluster, request: true, reply: true, codec: flags.codec });
      const reply = await withConnection(flags, (conn) => conn.use(any).request(value));
      await writeOut(io, `${flags.json ? JSON.stringify({ cluster, value: jsonValue(reply) }) : jsonText(reply)}\n`);
      return;
    }
    const body = await payload(data, io);
    // --timeout is the connection's default time-out, so every call below takes it
    const reply = await withConnection(flags, (conn) => conn.request(cluster, body));
    if (flags.json) await writeOut(io, `${JSON.stringify({ cluster, ...jsonBytes(reply) })}\n`);
    else await writeOut(io, reply);
  });
}
