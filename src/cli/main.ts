#!/usr/bin/env node
/** The `jetmesh` command (see program.ts). */
import { run } from "./program.js";

process.exitCode = await run(process.argv.slice(2), {
  stdin: process.stdin,
  stdinIsTTY: process.stdin.isTTY === true,
  stdout: process.stdout,
  stderr: process.stderr,
});
