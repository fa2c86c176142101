/** `jetmesh bench`: the benchmark suite against a server, jetmesh beside the raw NATS client. */
import type { Command } from "commander";
import { type Io, writeOut } from "../io.js";
import { positiveInt } from "../option-parsers.js";
import { type ServerFlags, serverOptions } from "../server-options.js";
import { UsageError } from "../usage-error.js";

/** The benchmark suite (bench/suite.ts in the repository), built into dist/bench beside the library. */
interface Suite {
  BENCHMARKS: readonly string[];
  runSuite(
    url: string,
    chosen: readonly string[],
    config: { rounds: number; windowMs: number; warmupMs: number },
  ): Promise<Record<string, number>>;
}

async function loadSuite(): Promise<Suite> {
  // this file is dist/cli/commands/bench.js: the suite is dist/bench/suite.js
  return (await import(new URL("../../bench/suite.js", import.meta.url).href)) as Suite;
}

/** Adds the `bench` command to `program`. */
export function addBenchCommand(program: Command, io: Io): void {
  serverOptions(
    program
      .command("bench")
      .description(
        "run the benchmark suite against the server: each pattern, jetmesh beside the raw NATS client " +
          "(credentials go in the --server URL)",
      )
      .argument("[benchmarks...]", "which to run: request, broadcast, publish, subscribe, tunnel, typed (default all)")
      .option("--rounds <n>", "rounds per measurement", positiveInt, 3)
      .option("--window <ms>", "measuring window per round", positiveInt, 1000)
      .option("--warmup <ms>", "warm-up before each window", positiveInt, 200),
  ).action(async (chosen: string[], flags: ServerFlags & { rounds: number; window: number; warmup: number }) => {
    const suite = await loadSuite();
    const unknown = chosen.filter((c) => !suite.BENCHMARKS.includes(c));
    if (unknown.length > 0) {
      throw new UsageError(`unknown benchmark ${unknown.join(", ")}; choose from ${suite.BENCHMARKS.join(", ")}`);
    }
    const config = { rounds: flags.rounds, windowMs: flags.window, warmupMs: flags.warmup };
    const which = chosen.length > 0 ? chosen : [...suite.BENCHMARKS];
    const url = flags.server ?? "nats://127.0.0.1:4222";
    if (!flags.json) {
      await suite.runSuite(url, which, config);
      return;
    }
    // with --json the tables go to stderr, and stdout carries only the ratios
    const log = console.log;
    console.log = console.error;
    let headline: Record<string, number>;
    try {
      headline = await suite.runSuite(url, which, config);
    } finally {
      console.log = log;
    }
    await writeOut(io, `${JSON.stringify(headline)}\n`);
  });
}
