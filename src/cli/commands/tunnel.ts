/** `jetmesh tunnel`: a tunnel to one member of a cluster, joined to standard input and output. */
import type { Command } from "commander";
import { ClosedError, ConfigurationError } from "../../errors/index.js";
import { type Io, writeOut } from "../io.js";
import { positiveInt } from "../option-parsers.js";
import { type ServerFlags, serverOptions } from "../server-options.js";
import { withConnection } from "../with-connection.js";

/** A member of an earlier version cannot half-close: once the input ended, it is closed after this much quiet, in ms. */
const QUIET_BEFORE_CLOSE = 1000;

/** Adds the `tunnel` command to `program`. */
export function addTunnelCommand(program: Command, io: Io): void {
  serverOptions(
    program
      .command("tunnel")
      .description(
        "open a tunnel to one member of a cluster: standard input goes in (its end ends the tunnel's sending), " +
          "what comes back goes out until the member ends or closes the tunnel",
      )
      .argument("<cluster>", "cluster name")
      .option("--chunk <bytes>", "the largest tunnel message made of input", positiveInt, 256 * 1024),
  ).action(async (cluster: string, flags: ServerFlags & { chunk: number }) => {
    await withConnection(flags, async (conn) => {
      const tun = await conn.tunnel(cluster);
      let last = performance.now();
      let readDone = false;
      // what comes back goes out until the member ends or closes the tunnel
      const reading = (async () => {
        for await (const msg of tun) {
          last = performance.now();
          await writeOut(io, msg);
        }
      })().finally(() => {
        readDone = true;
      });
      // a failure while reading is reported once the command ends
      const readFailure = reading.then(
        () => undefined,
        (err: unknown) => err,
      );
      // the member closing, the tunnel breaking or reading failing ends the input too (the member's end does not)
      const over = Promise.race([tun.closed, readFailure.then((err) => err ?? new Promise(() => {}))]).then(() => null);
      const input = io.stdin[Symbol.asyncIterator]();
      for (;;) {
        const next = await Promise.race([input.next(), over]);
        if (next === null) {
          io.stdin.pause();
          break;
        }
        if (next.done) break;
        // what each read gives goes out at once (so interactive input is not held back), split at --chunk
        const bytes = typeof next.value === "string" ? Buffer.from(next.value) : (next.value as Uint8Array);
        for (let at = 0; at < bytes.byteLength; at += flags.chunk) {
          await tun.send(bytes.subarray(at, at + flags.chunk));
        }
      }
      try {
        // the member reads all of the input, then its end (nothing, when the tunnel is closed already)
        await tun.end();
      } catch (err) {
        if (!(err instanceof ConfigurationError)) throw err;
        // a member of an earlier version cannot half-close: it is closed once quiet a while, and reads everything
        while (!readDone && performance.now() - last < QUIET_BEFORE_CLOSE) await sleep(25);
        await tun.close();
      }
      const failure = await readFailure;
      await tun.close();
      if (failure !== undefined && !(failure instanceof ClosedError)) throw failure;
    });
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
