/** `jetmesh publish`: an event published to a topic, and its stream sequence. */
import type { Command } from "commander";
import type { PublishAck } from "../../api/index.js";
import { topicContract } from "../../contract/index.js";
import { type CliCodec, codecOption, dataValue } from "../codec-option.js";
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
      .argument("[data]", "the event (JSON text with --codec msgpack or json); - reads standard input")
      .addOption(codecOption()),
  ).action(async (topic: string, data: string | undefined, flags: ServerFlags & { codec: CliCodec }) => {
    let ack: PublishAck;
    if (flags.codec === "raw") {
      const body = await payload(data, io);
      ack = await withConnection(flags, (conn) => conn.publish(topic, body));
    } else {
      const value = await dataValue(data, io, flags.codec);
      // a topic contract that takes any value: the event is encoded as a typed publisher does
      const any = topicContract({ name: topic, event: true, codec: flags.codec });
      ack = await withConnection(flags, (conn) => conn.use(any).publish(value));
    }
    await writeOut(
      io,
      flags.json ? `${JSON.stringify({ topic, ...ack })}\n` : `published to ${topic}: seq ${ack.seq}\n`,
    );
  });
}
