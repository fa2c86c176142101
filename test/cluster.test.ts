import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Connection, connect, silentLogger } from "../src/index.js";
import { type ClusterNode, type NatsCluster, startNatsCluster } from "../src/testing/index.js";
import { dec, enc, uniqueNamespace, waitFor } from "./helpers.js";

/**
 * Requests on a 3-node cluster while the node of the member, or of the caller,
 * is killed: requests sent meanwhile fail or time out, and answers come again
 * once the connection has moved to another node. Measures the time from the
 * kill to the first answer.
 */
describe("a request on a 3-node cluster", () => {
  let cluster: NatsCluster;

  beforeAll(async () => {
    cluster = await startNatsCluster();
  }, 120_000);

  afterAll(() => cluster?.stop());

  /** Sends a request every 20 ms until stopped; records when each answer came, and answers not its own. */
  function requestLoop(caller: Connection): { answeredAt: number[]; wrong: number; stop(): Promise<void> } {
    const state = { answeredAt: [] as number[], wrong: 0, running: true };
    const loop = (async () => {
      for (let i = 0; state.running; i++) {
        try {
          const reply = await caller.request("echo", enc(`r${i}`), { timeout: 500 });
          if (dec(reply) === `r${i}`) state.answeredAt.push(performance.now());
          else state.wrong++;
        } catch {
          // the node is down: requests fail (retryably) or time out until the connection moves
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    return {
      answeredAt: state.answeredAt,
      get wrong() {
        return state.wrong;
      },
      stop: async () => {
        state.running = false;
        await loop;
      },
    };
  }

  /** Kills node `name` under a running request loop; resolves with the ms from the kill to the next answer. */
  async function recoveryAfterKill(name: string, caller: Connection): Promise<number> {
    const loop = requestLoop(caller);
    await waitFor("answers before the kill", () => loop.answeredAt.length >= 5, 10_000);
    const killedAt = performance.now();
    await cluster.kill(name);
    await waitFor("an answer after the kill", () => loop.answeredAt.some((t) => t > killedAt), 30_000);
    await loop.stop();
    expect(loop.wrong).toBe(0);
    await cluster.restart(name);
    const first = loop.answeredAt.find((t) => t > killedAt) as number;
    return first - killedAt;
  }

  it.each(["member", "caller"] as const)(
    "answers again within seconds when the %s's node dies",
    async (whose) => {
      const [n0, n1] = cluster.nodes as [ClusterNode, ClusterNode];
      const namespace = uniqueNamespace();
      // the side whose node dies knows that node only: it learns the others from the cluster
      const member = await connect({ servers: n0.url, namespace, logger: silentLogger });
      await member.register("echo", { handleRequest: (req) => req });
      const caller = await connect({ servers: n1.url, namespace, logger: silentLogger });
      try {
        const ms = await recoveryAfterKill(whose === "member" ? n0.name : n1.name, caller);
        console.log(`${whose}'s node killed: first answer ${Math.round(ms)} ms after the kill`);
        expect(ms).toBeLessThan(15_000);
      } finally {
        await caller.close();
        await member.close();
      }
    },
    90_000,
  );
});
