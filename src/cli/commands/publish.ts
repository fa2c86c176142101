/** `jetmesh publish`: an event published to a topic, and its stream sequence. */
import type { Command } from "commander";
import { type Io, writeOut } from "../io.js";
import { payload } from "../payload.js";
import { type ServerFlags, serverOptions } from "../server-options.js";
import { withConnection } from "../with-connection.js";

/** Adds the `publish` command to `program`. */
export function addPublishCommand(program: Command, io: Io): void {
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
}
