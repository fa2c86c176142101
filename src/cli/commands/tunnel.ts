/** `jetmesh tunnel`: a tunnel to one member of a cluster, joined to standard input and output. */
import type { Command } from "commander";
import { ClosedError } from "../../errors/index.js";
import { type Io, writeOut } from "../io.js";
import { positiveInt } from "../option-parsers.js";
import { type ServerFlags, serverOptions } from "../server-options.js";
import { withConnection } from "../with-connection.js";

/** Adds the `tunnel` command to `program`. */
export function addTunnelCommand(program: Command, io: Io): void {
  serverOptions(
    program
      .command("tunnel")
      .description("open a tunnel to one member of a cluster: standard input goes in, what comes back goes out")
      .argument("<cluster>", "cluster name")
      .option("--chunk <bytes>", "the largest tunnel message made of input", positiveInt, 256 * 1024)
      .option("--idle <ms>", "after the input ends, close once nothing arrived for this long", positiveInt, 1000),
  ).action(async (cluster: string, flags: ServerFlags & { chunk: number; idle: number }) => {
    await withConnection(flags, async (conn) => {
      const tun = await conn.tunnel(cluster);
      let last = performance.now();
      let remoteEnded = false;
      const reading = (async () => {
        for await (const msg of tun) {
          last = performance.now();
          await writeOut(io, msg);
        }
      })().finally(() => {
        remoteEnded = true;
      });
      // a failure while reading is reported once the command ends; the other end closing ends the input too
      const readFailure = reading.then(
        () => undefined,
        (err: unknown) => err,
      );
      const input = io.stdin[Symbol.asyncIterator]();
      for (;;) {
        // null: the other end closed (or reading failed)
        const next = await Promise.race([input.next(), readFailure.then(() => null)]);
        if (next === null || next.done) break;
        // what each read gives goes out at once (so interactive input is not held back), split at --chunk
        const bytes = typeof next.value === "string" ? Buffer.from(next.value) : (next.value as Uint8Array);
        for (let at = 0; at < bytes.byteLength; at += flags.chunk) {
          await tun.send(bytes.subarray(at, at + flags.chunk));
        }
      }
      if (remoteEnded) io.stdin.pause();
      last = performance.now();
      // the input ended: wait until the other end closes or falls silent
      while (!remoteEnded && performance.now() - last < flags.idle) await new Promise((r) => setTimeout(r, 25));
      await tun.close();
      const failure = await readFailure;
      if (failure !== undefined && !(failure instanceof ClosedError)) throw failure;
    });
  });
}
