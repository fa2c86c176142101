/**
 * Builds what the tests run in processes of their own, once before the suite:
 * the library into dist/ (its declarations type the benchmark suite), and the
 * library, the command and the benchmark suite into .build/test-dist, where a
 * package.json of its own makes "jetmesh" resolve to that copy, so no test
 * ever loads dist/ while another test rebuilds it (the examples test does).
 */
import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
const QUIET = ["--declaration", "false", "--declarationMap", "false", "--sourceMap", "false"];

export default async function setup(): Promise<void> {
  const root = fileURLToPath(new URL("..", import.meta.url));
  const tsc = (...args: string[]) => run(process.execPath, ["node_modules/typescript/bin/tsc", ...args], { cwd: root });
  await tsc("-p", "tsconfig.build.json");
  await Promise.all([
    tsc("-p", "tsconfig.build.json", "--outDir", ".build/test-dist", ...QUIET),
    tsc("-p", "tsconfig.bench.json", "--outDir", ".build/test-dist/bench", ...QUIET),
  ]);
  await writeFile(
    `${root}/.build/test-dist/package.json`,
    `${JSON.stringify({
      name: "jetmesh",
      private: true,
      type: "module",
      exports: { ".": "./index.js", "./testing": "./testing/index.js" },
    })}\n`,
  );
}
