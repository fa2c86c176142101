/**
 * The tools of the interoperability tests with other NATS clients: the
 * official `nats` CLI (natscli, pinned) and `jetmesh-go`, the Go program of
 * test/go (nats.go with its micro and jetstream packages). Each is taken from
 * its environment variable (`NATS_CLI_BIN`, `JETMESH_GO_PROGRAM`) if set, else
 * from `.tools/` where `.ci/run` installs it, else built there with `go` (a
 * few minutes the first time, for the CLI).
 */
import { execFile, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);

/** The natscli release the tests run; `.ci/run` installs the same one (keep the two in step). */
export const NATS_CLI_VERSION = "0.5.1";

const root = fileURLToPath(new URL("../..", import.meta.url));
const goSource = `${root}test/go`;
const cliDir = `${root}.tools/natscli-${NATS_CLI_VERSION}/bin`;
const programDir = `${root}.tools/jetmesh-go/bin`;

export interface GoTools {
  /** The `nats` CLI. */
  natsCli: string;
  /** The `jetmesh-go` program of test/go. */
  goProgram: string;
}

interface Tool {
  path: string;
  /** Builds it, when it is not there (or older than its sources) and go is. */
  build?: () => Promise<void>;
  /** Why it cannot be had. */
  missing?: string;
}

/**
 * Why the tools cannot be had on this machine, or undefined when they can
 * (found, or go is there to build them). Synchronous, for `it.skipIf`.
 */
export function goToolsMissing(): string | undefined {
  const reasons = plan().flatMap((t) => (t.missing ? [t.missing] : []));
  return reasons.length > 0 ? reasons.join("; ") : undefined;
}

/** The tools' paths, building first those that need it. */
export async function goTools(): Promise<GoTools> {
  const [cli, program] = plan();
  for (const tool of [cli, program]) {
    if (tool.missing) throw new Error(tool.missing);
    await tool.build?.();
  }
  return { natsCli: cli.path, goProgram: program.path };
}

let planned: [Tool, Tool] | undefined;
/** Where each tool is, and how to build it: looked at once per test file. */
function plan(): [Tool, Tool] {
  planned ??= [natsCli(), goProgram()];
  return planned;
}

function natsCli(): Tool {
  const given = process.env.NATS_CLI_BIN;
  if (given)
    return existsSync(given) ? { path: given } : { path: given, missing: `NATS_CLI_BIN=${given} does not exist` };
  const path = `${cliDir}/nats`;
  if (existsSync(path)) return { path };
  if (!hasGo()) return { path, missing: `the nats CLI is not in ${cliDir} and there is no go to build it` };
  return {
    path,
    build: async () => {
      // into a folder of its own first, so that a build cut short leaves no half binary at `path`
      const tmp = `${cliDir}.tmp-${process.pid}`;
      rmSync(tmp, { recursive: true, force: true });
      await goRun(["install", `github.com/nats-io/natscli/nats@v${NATS_CLI_VERSION}`], root, { GOBIN: tmp });
      mkdirSync(cliDir, { recursive: true });
      renameSync(`${tmp}/nats`, path);
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}

function goProgram(): Tool {
  const given = process.env.JETMESH_GO_PROGRAM;
  if (given) {
    return existsSync(given) ? { path: given } : { path: given, missing: `JETMESH_GO_PROGRAM=${given} does not exist` };
  }
  const path = `${programDir}/jetmesh-go`;
  const built = existsSync(path) ? statSync(path).mtimeMs : undefined;
  const fresh = built !== undefined && built >= newestSource();
  if (fresh) return { path };
  if (!hasGo()) {
    if (built !== undefined) {
      console.warn(`${path} is older than test/go, and there is no go to build it again: using it as it is`);
      return { path };
    }
    return { path, missing: `jetmesh-go is not in ${programDir} and there is no go to build it` };
  }
  return {
    path,
    build: async () => {
      mkdirSync(programDir, { recursive: true });
      const tmp = `${path}.tmp-${process.pid}`;
      await goRun(["build", "-buildvcs=false", "-o", tmp, "."], goSource);
      renameSync(tmp, path);
    },
  };
}

/** The last change to the Go program's sources (ms). */
function newestSource(): number {
  return Math.max(
    ...readdirSync(goSource)
      .filter((f) => f.endsWith(".go") || f === "go.mod" || f === "go.sum")
      .map((f) => statSync(`${goSource}/${f}`).mtimeMs),
  );
}

let goThere: boolean | undefined;
function hasGo(): boolean {
  goThere ??= spawnSync("go", ["version"], { stdio: "ignore" }).status === 0;
  return goThere;
}

async function goRun(args: string[], cwd: string, env: Record<string, string> = {}): Promise<void> {
  try {
    await run("go", args, {
      cwd,
      // natscli and nats.go need a recent Go: an older go (1.21+) fetches the toolchain go.mod asks for
      env: { ...process.env, GOTOOLCHAIN: process.env.GOTOOLCHAIN ?? "auto", ...env },
      timeout: 15 * 60_000,
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (err) {
    const { stderr } = err as { stderr?: string };
    throw new Error(`go ${args.join(" ")} failed: ${stderr || String(err)}`);
  }
}
