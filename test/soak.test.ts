import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { useNats } from "./helpers.js";

const nats = useNats();
const MAIN = fileURLToPath(new URL("../.build/test-dist/bench/main.js", import.meta.url));

/** Runs the benchmark entry (bench/main.ts, built) with `args` against the test server. */
function bench(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [MAIN, ...args], {
    env: { ...process.env, NATS_URL: nats.server().url },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const killer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  return new Promise((resolve) =>
    child.on("close", (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr });
    }),
  );
}

const MEMORY =
  /this: heap [\d.]+ MiB ab [\d.]+ MiB rss [\d.]+ MiB alloc (-|\d+ B\/op) {2}member: heap [\d.]+ MiB ab [\d.]+ MiB rss [\d.]+ MiB alloc (-|\d+ B\/op)/;

describe("bench soak", () => {
  it("runs every pattern at once, prints memory lines of both processes, and a summary of growth", async () => {
    const r = await bench(["soak", "--seconds", "5", "--interval", "1"]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const lines = r.stdout.split("\n");
    const samples = lines.filter((l) => /^soak +\d+ s {2}ops/.test(l));
    expect(samples.length, r.stdout).toBeGreaterThanOrEqual(3);
    for (const l of samples) expect(l).toMatch(MEMORY);
    expect(lines.some((l) => /^soak baseline/.test(l) && MEMORY.test(l))).toBe(true);
    expect(lines.some((l) => /^soak end/.test(l) && MEMORY.test(l))).toBe(true);
    // each pattern made progress
    const end = lines.find((l) => l.startsWith("soak end")) ?? "";
    const m = /req (\d+) bcast (\d+) pub (\d+) tun (\d+)\/(\d+) msgs/.exec(end);
    expect(m, end).not.toBeNull();
    for (const n of (m ?? []).slice(1)) expect(Number(n)).toBeGreaterThan(0);
    expect(r.stdout).toMatch(/soak summary: \d+ s, \d+ operations/);
    expect(r.stdout).toMatch(/soak growth per 100k operations, this process: heap [+-][\d.]+ [KM]iB .*ArrayBuffers/);
    expect(r.stdout).toMatch(/soak growth per 100k operations, member: heap [+-][\d.]+ [KM]iB .*ArrayBuffers/);
    expect(r.stdout).toMatch(/soak growth per 100k of each pattern's operations/);
    // heap allocated per operation, garbage included: more than nothing (a reply is at least its bytes), less than a MiB
    const alloc =
      /soak allocations per operation after the warm-up \(heap bytes, garbage included\): this process (\d+) B, member (\d+) B/.exec(
        r.stdout,
      );
    expect(alloc, r.stdout).not.toBeNull();
    for (const n of (alloc ?? []).slice(1)) {
      expect(Number(n)).toBeGreaterThan(0);
      expect(Number(n)).toBeLessThan(1024 * 1024);
    }
    expect(r.stdout).toMatch(/soak lost: broadcasts 0, plain events 0, durable events 0;.*failed calls: none/);
  });

  it("refuses bad options with exit code 2", async () => {
    expect((await bench(["soak", "--minutes", "0"])).code).toBe(2);
    expect((await bench(["soak", "--minutes", "61"])).code).toBe(2);
    expect((await bench(["soak", "--nope"])).code).toBe(2);
    expect((await bench(["soak", "--only", "requests,nope"])).code).toBe(2);
  });
});
