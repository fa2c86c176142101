import { describe, it } from "vitest";
import { rideOutOutage } from "./faults/tunnel-outage.js";
import { useNats } from "./helpers.js";

const nats = useNats();

describe("tunnels through a long outage", () => {
  // an outage bound above the outage: the default (30 s) would be a race at exactly 30 s
  it("ride out a 30 s outage of the opener's connection, delivering everything resolved once and in order", async () => {
    await rideOutOutage(nats, "opener", 30_000, 45_000);
  }, 120_000);

  it("ride out a 30 s outage of the member's connection, delivering everything resolved once and in order", async () => {
    await rideOutOutage(nats, "member", 30_000, 45_000);
  }, 120_000);
});
