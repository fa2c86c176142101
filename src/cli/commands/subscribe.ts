/** `jetmesh subscribe`: the events of a topic, printed as they come until Ctrl-C or --count. */
import type { Command } from "commander";
import { interrupted } from "../interrupted.js";
import { type Io, writeOut } from "../io.js";
import { jsonBytes } from "../json-bytes.js";
import { positiveInt } from "../option-parsers.js";
import { type ServerFlags, serverOptions } from "../server-options.js";
import { withConnection } from "../with-connection.js";

const NEWLINE = new Uint8Array([10]);

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
      .option("--count <n>", "exit after this many events", positiveInt),
  ).action(
    async (
      topic: string,
      flags: ServerFlags & { fromSeq?: number; durable?: string; group?: string; count?: number },
    ) => {
      await withConnection(flags, async (conn) => {
        let seen = 0;
        let done!: () => void;
        const enough = new Promise<void>((resolve) => {
          done = resolve;
        });
        const sub = await conn.subscribe(
          topic,
          async (event, ctx) => {
            // past the count: not acknowledged, so a durable or group delivers it again to the next reader
            if (flags.count !== undefined && seen >= flags.count) throw new Error("past --count; left for later");
            seen++;
            const line = flags.json
              ? `${JSON.stringify({ topic, seq: ctx.seq, time: ctx.time.toISOString(), ...jsonBytes(event) })}\n`
              : Buffer.concat([event, NEWLINE]);
            // the event is acknowledged once it is written
            await writeOut(io, line);
            if (flags.count !== undefined && seen >= flags.count) done();
          },
          {
            // one at a time, and little fetched ahead: what is not printed goes back to the server
            eventThreads: 1,
            eventMemory: 1,
            ...(flags.durable === undefined && flags.group === undefined ? {} : { retryDelay: 0 }),
            ...(flags.fromSeq === undefined ? {} : { from: { seq: flags.fromSeq } }),
            ...(flags.durable === undefined ? {} : { durable: flags.durable }),
            ...(flags.group === undefined ? {} : { group: flags.group }),
          },
        );
        io.stderr.write(`subscribed to ${topic}; Ctrl-C to stop\n`);
        await Promise.race([enough, interrupted()]);
        await sub.unsubscribe();
      });
    },
  );
}
