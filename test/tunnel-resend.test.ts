import { connect } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import { ClosedError } from "../src/errors/index.js";
import { ManagedStream, Publisher } from "../src/jetstream/index.js";
import { resolveTunnels } from "../src/tunnel/settings.js";
import { useNats, waitFor, wiring } from "./helpers.js";

const nats = useNats();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("tunnel frames not acknowledged", () => {
  it("are sent again after a while, each time waiting longer, and never while young", async () => {
    const nc = await connect({ servers: nats.server().url });
    try {
      // a subscriber that takes every copy and never acknowledges: a stream leader that died
      let copies = 0;
      nc.subscribe("blackhole.frames", { callback: () => void copies++ });
      await nc.flush();
      const stream = new ManagedStream(nc, resolveTunnels("blackhole", {}).stream, "blackhole.>", "tunnels");
      stream.ready = true;
      const publisher = new Publisher(wiring(nc), stream, "tunnel");
      const outcome = publisher
        .publish("blackhole.frames", "t", new Uint8Array([1, 2, 3]), 30_000, undefined, null)
        .catch((err: unknown) => err);
      await waitFor("the first copy", () => copies === 1);
      const ms = 300;
      publisher.resendOlderThan(ms);
      await nc.flush();
      expect(copies).toBe(1); // too young
      await sleep(ms + 50);
      publisher.resendOlderThan(ms);
      await waitFor("a second copy", () => copies === 2);
      await sleep(ms + 50);
      publisher.resendOlderThan(ms);
      await nc.flush();
      expect(copies).toBe(2); // now it waits 2 ms
      await sleep(ms);
      publisher.resendOlderThan(ms);
      await waitFor("a third copy", () => copies === 3);
      publisher.rejectAll(new ClosedError("done"));
      expect(await outcome).toBeInstanceOf(Error);
      publisher.close();
    } finally {
      await nc.close();
    }
  });
});
