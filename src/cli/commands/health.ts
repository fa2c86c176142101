/**
 * `jetmesh health`: exit 0 when at least `--min` members of a cluster answer
 * discovery, 1 otherwise (or when the server cannot be reached), with one
 * short line: for a Kubernetes exec probe or a Docker HEALTHCHECK. `--meta`
 * narrows it to members carrying some metadata (such as this host's own).
 */
import type { Command } from "commander";
import type { Member } from "../../api/index.js";
import { NoRespondersError } from "../../errors/index.js";
import { type Io, writeOut } from "../io.js";
import { collect, metadataFlags, positiveInt } from "../option-parsers.js";
import { type ServerFlags, serverOptions } from "../server-options.js";
import { withConnection } from "../with-connection.js";

interface HealthFlags {
  min: number;
  meta?: string[];
}

/** Members named on the line; more are counted, not listed, so the line stays short. */
const LISTED = 5;

/** Adds the `health` command to `program`. */
export function addHealthCommand(program: Command, io: Io): void {
  serverOptions(
    program
      .command("health")
      .description("exit 0 when at least --min members of the cluster answer discovery, 1 otherwise")
      .argument("<cluster>", "the cluster to check")
      .option("--min <n>", "members needed", positiveInt, 1)
      .option("--meta <key=value>", "only members with this metadata (repeatable)", collect, []),
  ).action(async (cluster: string, flags: ServerFlags & HealthFlags) => {
    const metadata = metadataFlags(flags.meta);
    const members = await withConnection(flags, (conn) =>
      conn.discover(cluster, {
        ...(flags.timeout === undefined ? {} : { timeout: flags.timeout }),
        ...(flags.meta?.length ? { metadata } : {}),
      }),
    );
    const count = `${members.length} member${members.length === 1 ? "" : "s"}`;
    if (members.length < flags.min) {
      const detail = members.length === 0 ? "" : `: ${list(members)}`;
      throw new NoRespondersError(`cluster "${cluster}": ${count} answered, at least ${flags.min} wanted${detail}`);
    }
    if (flags.json) {
      const found = members.map((m) => ({ id: m.id, version: m.version }));
      await writeOut(io, `${JSON.stringify({ cluster, healthy: true, min: flags.min, members: found })}\n`);
      return;
    }
    await writeOut(io, `ok: cluster "${cluster}": ${count}: ${list(members)}\n`);
  });
}

function list(members: Member[]): string {
  const named = members.slice(0, LISTED).map((m) => `${m.id} ${m.version}`);
  const more = members.length - named.length;
  return `${named.join(", ")}${more > 0 ? ` and ${more} more` : ""}`;
}
