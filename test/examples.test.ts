import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { useNats } from "./helpers.js";

const run = promisify(execFile);
const nats = useNats();

describe("examples", () => {
  it("npm run demo runs the echo example end to end against a real server", async () => {
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
  }, 150_000);
});
