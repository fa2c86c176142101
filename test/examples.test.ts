import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { useNats } from "./helpers.js";

const run = promisify(execFile);
const nats = useNats();

describe("examples", () => {
  it("npm run demo runs the echo, chat and file-copy examples end to end against a real server", async () => {
    const { stdout } = await run("npm", ["run", "--silent", "demo"], {
      env: { ...process.env, NATS_URL: nats.server().url },
      timeout: 120_000,
    });
    expect(stdout).toMatch(/alpha says: hello #1|beta says: hello #1/);
    expect(stdout).toMatch(/RemoteError: you asked me to fail \(code E_ASKED\)/);
    expect(stdout).toMatch(/NoRespondersError/);
    expect(stdout).toMatch(/alpha got broadcast "hi all"/);
    expect(stdout).toMatch(/beta got broadcast "hi all"/);
    expect(stdout).toMatch(/done\./);
    // then the chat example, over topics
    expect(stdout).toMatch(/\[alice\] #1 alice: hi bob/);
    expect(stdout).toMatch(/\[bob\] #2 bob: hi alice!/);
    expect(stdout).toMatch(/\[carol\] #1 alice: hi bob/);
    expect(stdout).toMatch(/\[carol\] #3 alice: is carol coming\?/);
    const moderated = /lines moderated: bot-1 (\d+), bot-2 (\d+)/.exec(stdout);
    expect(Number(moderated?.[1]) + Number(moderated?.[2])).toBe(20);
    expect(stdout).toMatch(/archived 24 lines/);
    // then the file copy, over a tunnel
    expect(stdout).toMatch(/copied 25165824 of 25165824 bytes/);
    expect(stdout).toMatch(/hashes match/);
    expect(stdout.match(/done\./g)).toHaveLength(3);
  }, 150_000);

  it("npm run demo:traced shows a typed contract and one trace across caller, service and subscriber", async () => {
    const { stdout } = await run("npm", ["run", "--silent", "demo:traced"], {
      env: { ...process.env, NATS_URL: nats.server().url },
      timeout: 120_000,
    });
    expect(stdout).toMatch(/reply: hello, Ada/);
    expect(stdout).toMatch(/same trace: yes/);
    expect(stdout).toMatch(/subscriber: Ada was greeted/);
    expect(stdout).toMatch(/refused before sending: .*\/name must NOT have fewer than 1 characters/);
    expect(stdout).toMatch(/refused by the service: BAD_REQUEST/);
    expect(stdout).toMatch(/service stats: 2 requests, 1 malformed/);
    // the console exporter printed the spans of both sides
    expect(stdout).toMatch(/name: 'request greeter'/);
    expect(stdout).toMatch(/name: 'process greeter'/);
    expect(stdout).toMatch(/name: 'publish greeted'/);
    expect(stdout).toMatch(/done\./);
  }, 150_000);

  it("npm run demo:limits shows a slow member answering OverloadedError under a burst, and retries getting through", async () => {
    const { stdout } = await run("npm", ["run", "--silent", "demo:limits"], {
      env: { ...process.env, NATS_URL: nats.server().url },
      timeout: 120_000,
    });
    // 2 running and 4 waiting are served (more if the burst was slowed down); the others are refused at once
    const served = Number(/served: (\d+), the last after \d+ ms/.exec(stdout)?.[1]);
    const refused = Number(/OverloadedError: (\d+), each within \d+ ms \(retryable: true\)/.exec(stdout)?.[1]);
    expect(served + refused).toBe(20);
    expect(served).toBeGreaterThanOrEqual(6);
    expect(refused).toBeGreaterThanOrEqual(10);
    expect(stdout).toMatch(/with back-off and retry: 20 of 20 served after \d+ retries/);
    expect(stdout).toMatch(/done\./);
  }, 150_000);
});
