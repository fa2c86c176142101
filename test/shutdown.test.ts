import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { closeOnSignal, InvalidArgumentError } from "../src/index.js";
import { dec, enc, TEST_STREAM_BYTES, uniqueNamespace, useNats, waitFor } from "./helpers.js";

const nats = useNats();
const SCRIPT = fileURLToPath(new URL("./fixtures/shutdown-member.mjs", import.meta.url));

interface Fixture {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit code, the signal that killed it, and when (performance.now()). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
});

/** Starts test/fixtures/shutdown-member.mjs in `mode`, and waits for its "ready". */
async function fixture(mode: string, ns: string, handlerMs = 0, limitMs?: number): Promise<Fixture> {
  const args = [SCRIPT, mode, nats.server().url, ns, String(TEST_STREAM_BYTES), String(handlerMs)];
  if (limitMs !== undefined) args.push(String(limitMs));
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let out = "";
  let err = "";
  child.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal, at: performance.now() })),
  );
  await waitFor(`the ${mode} fixture to be ready (stderr: ${err})`, () => out.includes("ready"), 20_000);
  return { child, stdout: () => out, stderr: () => err, exited };
}

describe("closeOnSignal", () => {
  it("on SIGTERM leaves discovery at once, lets the in-flight request finish, then exits 0", async () => {
    const ns = uniqueNamespace();
    const f = await fixture("serve", ns, 4000);
    const conn = await nats.open(ns);
    expect(await conn.discover("slow", { timeout: 1000 })).toHaveLength(1);
    const reply = conn.request("slow", enc("x"), { timeout: 30_000 }).then(dec, (err: unknown) => err);
    await waitFor("the handler to start", () => f.stdout().includes("started"));

    f.child.kill("SIGTERM");
    await waitFor("the shutdown line", () => f.stderr().includes("closing on signal"));
    // draining: gone from discovery while the handler still runs
    expect(await conn.discover("slow", { timeout: 500 })).toEqual([]);
    expect(f.child.exitCode).toBeNull();

    expect(await reply).toBe("done");
    const repliedAt = performance.now();
    const exit = await f.exited;
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(exit.at - repliedAt).toBeLessThan(5000);
    expect(f.stderr().match(/closing on signal/g)).toHaveLength(1);
  });

  it("exits at once, with 128 + the signal's number, on a second signal", async () => {
    const ns = uniqueNamespace();
    const f = await fixture("serve", ns, 60_000);
    const conn = await nats.open(ns);
    // its member is killed before it answers: the caller's own time-out (or the closing connection) ends it
    void conn.request("slow", enc("x"), { timeout: 60_000 }).catch(() => {});
    await waitFor("the handler to start", () => f.stdout().includes("started"));
    f.child.kill("SIGTERM");
    await waitFor("the shutdown line", () => f.stderr().includes("closing on signal"));
    const second = performance.now();
    f.child.kill("SIGTERM");
    const exit = await f.exited;
    expect(exit).toMatchObject({ code: 143, signal: null });
    expect(exit.at - second).toBeLessThan(5000);
    expect(f.stderr()).toContain("second signal");
  });

  it("exits with code 1 at the time limit when closing takes longer", async () => {
    const ns = uniqueNamespace();
    const f = await fixture("serve", ns, 60_000, 1500);
    const conn = await nats.open(ns);
    // its member is killed before it answers: the caller's own time-out (or the closing connection) ends it
    void conn.request("slow", enc("x"), { timeout: 60_000 }).catch(() => {});
    await waitFor("the handler to start", () => f.stdout().includes("started"));
    const signalled = performance.now();
    f.child.kill("SIGTERM");
    const exit = await f.exited;
    expect(exit).toMatchObject({ code: 1, signal: null });
    expect(exit.at - signalled).toBeGreaterThan(1000);
    expect(exit.at - signalled).toBeLessThan(15_000);
    expect(f.stderr()).toContain("time limit");
  });

  it("does not keep the process alive by itself", async () => {
    const f = await fixture("idle", uniqueNamespace());
    // nothing else holds the event loop: the process ends without a signal
    const exit = await f.exited;
    expect(exit).toMatchObject({ code: 0, signal: null });
  });

  it("sets exit code 1 when closing fails", async () => {
    const f = await fixture("failing", uniqueNamespace());
    f.child.kill("SIGINT");
    const exit = await f.exited;
    expect(exit).toMatchObject({ code: 1, signal: null });
    expect(f.stderr()).toContain("asked to fail");
  });

  it("returns a disposer that removes its listeners, and checks its arguments", () => {
    const before = { term: process.listenerCount("SIGTERM"), usr2: process.listenerCount("SIGUSR2") };
    const dispose = closeOnSignal({ close: async () => {} }, { signals: ["SIGUSR2"] });
    expect(process.listenerCount("SIGUSR2")).toBe(before.usr2 + 1);
    expect(process.listenerCount("SIGTERM")).toBe(before.term);
    dispose();
    expect(process.listenerCount("SIGUSR2")).toBe(before.usr2);

    const target = { close: async () => {} };
    expect(() => closeOnSignal({} as never)).toThrow(InvalidArgumentError);
    expect(() => closeOnSignal([])).toThrow(InvalidArgumentError);
    expect(() => closeOnSignal(target, { signals: ["SIGKILL"] })).toThrow(InvalidArgumentError);
    expect(() => closeOnSignal(target, { signals: ["SIGNOPE" as NodeJS.Signals] })).toThrow(InvalidArgumentError);
    expect(() => closeOnSignal(target, { timeout: 0 })).toThrow(InvalidArgumentError);
    expect(() => closeOnSignal(target, { timout: 5 } as never)).toThrow(InvalidArgumentError);
    expect(process.listenerCount("SIGTERM")).toBe(before.term);
  });
});
