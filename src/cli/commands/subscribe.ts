/** `jetmesh subscribe`: the events of a topic, printed as they come until Ctrl-C or --count. */
import type { Command } from "commander";
import type { EventContext, Logger, SubscribeOptions, Subscription } from "../../api/index.js";
import { topicContract } from "../../contract/index.js";
import { defaultLogger } from "../../logging/index.js";
import { type CliCodec, codecOption, jsonText, jsonValue } from "../codec-option.js";
import { interrupted } from "../interrupted.js";
import { type Io, writeOut } from "../io.js";
import { jsonBytes } from "../json-bytes.js";
import { positiveInt } from "../option-parsers.js";
import { type ServerFlags, serverOptions } from "../server-options.js";
import { withConnection } from "../with-connection.js";

const NEWLINE = new Uint8Array([10]);

interface SubscribeFlags extends ServerFlags {
  fromSeq?: number;
  durable?: string;
  group?: string;
  count?: number;
  codec: CliCodec;
}

/**
 * Thrown for an event past --count: not acknowledged, so a durable or group
 * delivers it again to the next reader. Not a failure, so not logged.
 */
const LEFT_FOR_LATER = new Error("past --count; left for later");

/** The default logger, but for the events left for later. */
function quietAboutLeftovers(logger: Logger): Logger {
  return {
    ...logger,
    warn: (obj, msg) => {
      if ((obj as { err?: unknown }).err !== LEFT_FOR_LATER) logger.warn(obj, msg);
    },
  };
}

/** Adds the `subscribe` command to `program`. */
export function addSubscribeCommand(program: Command, io: Io): void {
  serverOptions(
    program
      .command("subscribe")
      .description("print the events of a topic as they come, until Ctrl-C")
      .argument("<topic>", "topic name")
      .option("--from-seq <seq>", "replay from this stream sequence", positiveInt)
      .option("--durable <name>", "a durable subscription of this name")
      .option("--group <name>", "a load-shared subscription of this group")
      .option("--count <n>", "exit after this many events", positiveInt)
      .addOption(codecOption()),
  ).action(async (topic: string, flags: SubscribeFlags) => {
    await withConnection(
      flags,
      async (conn) => {
        let seen = 0;
        let done!: () => void;
        const enough = new Promise<void>((resolve) => {
          done = resolve;
        });
        // one line per event: bytes as they are, or (with a codec) the decoded value as JSON
        const print = async (line: string | Uint8Array) => {
          // past the count: not acknowledged, so a durable or group delivers it again to the next reader
          if (flags.count !== undefined && seen >= flags.count) throw LEFT_FOR_LATER;
          seen++;
          // the event is acknowledged once it is written
          await writeOut(io, line);
          if (flags.count !== undefined && seen >= flags.count) done();
        };
        const meta = (ctx: EventContext) => ({ topic, seq: ctx.seq, time: ctx.time.toISOString() });
        const options: SubscribeOptions = {
          // one at a time, and little fetched ahead: what is not printed goes back to the server
          eventThreads: 1,
          eventMemory: 1,
          ...(flags.durable === undefined && flags.group === undefined ? {} : { retryDelay: 0 }),
          ...(flags.fromSeq === undefined ? {} : { from: { seq: flags.fromSeq } }),
          ...(flags.durable === undefined ? {} : { durable: flags.durable }),
          ...(flags.group === undefined ? {} : { group: flags.group }),
        };
        let sub: Subscription;
        if (flags.codec === "raw") {
          sub = await conn.subscribe(
            topic,
            (event, ctx) =>
              print(
                flags.json
                  ? `${JSON.stringify({ ...meta(ctx), ...jsonBytes(event) })}\n`
                  : Buffer.concat([event, NEWLINE]),
              ),
            options,
          );
        } else {
          // a topic contract that takes any value: events are decoded as a typed subscriber's are
          // (one that cannot be decoded is logged, not printed, and a durable or group gives it up)
          const any = topicContract({ name: topic, event: true, codec: flags.codec });
          sub = await conn
            .use(any)
            .subscribe(
              (value, ctx) =>
                print(`${flags.json ? JSON.stringify({ ...meta(ctx), value: jsonValue(value) }) : jsonText(value)}\n`),
              options,
            );
        }
        io.stderr.write(`subscribed to ${topic}; Ctrl-C to stop\n`);
        await Promise.race([enough, interrupted()]);
        await sub.unsubscribe();
      },
      { logger: quietAboutLeftovers(defaultLogger()) },
    );
  });
}
