/** `jetmesh ls`: the clusters and their live members, with versions and stats. */
import type { Command } from "commander";
import { type Io, printTable, writeOut } from "../io.js";
import { collect, metadataFlags } from "../option-parsers.js";
import { type ServerFlags, serverOptions } from "../server-options.js";
import { withConnection } from "../with-connection.js";

interface LsFlags {
  versionRange?: string;
  meta?: string[];
  foreign?: boolean;
}

/** Adds the `ls` command to `program`. */
export function addLsCommand(program: Command, io: Io): void {
  serverOptions(
    program
      .command("ls")
      .description("list clusters and their live members, with versions and stats")
      .argument("[cluster]", "only this cluster")
      .option("--version-range <range>", "only members whose version satisfies this SemVer range")
      .option("--meta <key=value>", "only members with this metadata (repeatable)", collect, [])
      .option("--foreign", "also list micro services of other NATS clients"),
  ).action(async (cluster: string | undefined, flags: ServerFlags & LsFlags) => {
    const metadata = metadataFlags(flags.meta);
    const members = await withConnection(flags, (conn) =>
      conn.discover(cluster, {
        ...(flags.versionRange === undefined ? {} : { version: flags.versionRange }),
        ...(flags.meta === undefined ? {} : { metadata }),
        ...(flags.timeout === undefined ? {} : { timeout: flags.timeout }),
        ...(flags.foreign ? { foreign: true } : {}),
      }),
    );
    if (flags.json) {
      await writeOut(io, `${JSON.stringify(members, null, 2)}\n`);
      return;
    }
    if (members.length === 0) {
      await writeOut(io, "no members\n");
      return;
    }
    await writeOut(
      io,
      printTable(
        ["CLUSTER", "MEMBER", "VERSION", "REQUESTS", "ERRORS", "AVG MS", "OVERLOADED", "DROPPED", "QUEUED", "METADATA"],
        members.map((m) => [
          m.cluster,
          m.id,
          m.version,
          String(m.stats.requests),
          String(m.stats.requestErrors),
          m.stats.averageProcessingTime.toFixed(3),
          String(m.stats.overloaded),
          String(m.stats.dropped),
          String(m.stats.queuedBytes),
          Object.entries(m.metadata)
            .filter(([k]) => !k.startsWith("jetmesh."))
            .map(([k, v]) => `${k}=${v}`)
            .join(","),
        ]),
      ),
    );
  });
}
