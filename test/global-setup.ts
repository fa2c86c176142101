/**
 * Builds src into .build/test-dist once before the suite: the tests that run
 * jetmesh in a child process of its own (to kill it) import it from there.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

export default async function setup(): Promise<void> {
  const root = fileURLToPath(new URL("..", import.meta.url));
  await promisify(execFile)(
    process.execPath,
    [
      "node_modules/typescript/bin/tsc",
      "-p",
      "tsconfig.build.json",
      "--outDir",
      ".build/test-dist",
      "--declaration",
      "false",
      "--declarationMap",
      "false",
      "--sourceMap",
      "false",
    ],
    { cwd: root },
  );
}
