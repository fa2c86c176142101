#!/usr/bin/env node
/** The `jetmesh` command (see program.ts). */
import { run } from "./program.js";

// a reader that went away (`jetmesh subscribe news | head -1`) ends the command quietly
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(0);
  throw err;
});

const code = await run(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
});
// exit once the output is written, even while standard input is still open
process.stdout.write("", () => process.exit(code));
