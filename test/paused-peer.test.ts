/**
 * A member process paused with SIGSTOP (a GC pause, a stopped container, a
 * debugger) and resumed: callers time out retryably meanwhile, and every
 * caller gets its own answer afterwards.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { TimeoutError } from "../src/index.js";
import { dec, enc, TEST_STREAM_BYTES, uniqueNamespace, useNats, waitFor } from "./helpers.js";

const nats = useNats();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function startMember(url: string, ns: string): Promise<ChildProcess> {
  const script = fileURLToPath(new URL("./fixtures/echo-member.mjs", import.meta.url));
  const child = spawn(process.execPath, [script, url, ns, String(TEST_STREAM_BYTES)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  child.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  await waitFor("the member is ready", () => out.includes("ready"), 20_000);
  return child;
}

describe("a member paused with SIGSTOP", () => {
  it("makes callers time out retryably, and answers again, each caller its own reply, once resumed", async () => {
    const ns = uniqueNamespace();
    const child = await startMember(nats.server().url, ns);
    try {
      const client = await nats.open(ns);
      expect(dec(await client.request("echo", enc("before")))).toBe("before");
      child.kill("SIGSTOP");
      const during = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          client.request("echo", enc(`during ${i}`), { timeout: 500 }).catch((e: unknown) => e),
        ),
      );
      for (const err of during) {
        expect(err).toBeInstanceOf(TimeoutError);
        expect((err as TimeoutError).retryable).toBe(true);
      }
      await sleep(1_000);
      child.kill("SIGCONT");
      const t0 = performance.now();
      expect(dec(await client.request("echo", enc("after"), { timeout: 5_000 }))).toBe("after");
      expect(performance.now() - t0).toBeLessThan(3_000);
      const stats = JSON.parse(dec(await client.request("echo-stats", enc("")))) as {
        requests: number;
        expired: number;
      };
      // every request is accounted for: handled once (the late replies of the 20 go to callers that
      // stopped waiting, and are dropped there) or skipped as expired; none is lost or handled twice
      expect(stats.requests + stats.expired).toBe(22);
      const again = await Promise.all(
        Array.from({ length: 20 }, (_, i) => client.request("echo", enc(`again ${i}`), { timeout: 5_000 })),
      );
      expect(again.map(dec)).toEqual(Array.from({ length: 20 }, (_, i) => `again ${i}`));
    } finally {
      child.kill("SIGKILL");
    }
  });
});
