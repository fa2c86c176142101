import { describe, expect, it } from "vitest";
import { ClosedError } from "../src/index.js";
import { HEARTBEAT, proxiedTunnel, rideOutOutage } from "./faults/tunnel-outage.js";
import { brokeWithClosedError } from "./faults/tunnel-traffic.js";
import { useNats, waitFor } from "./helpers.js";

const nats = useNats();

describe("tunnels through connection outages", () => {
  for (const side of ["opener", "member"] as const) {
    for (const outage of [1_000, 7_000]) {
      it(`ride out a ${outage / 1000} s outage of the ${side}'s connection (${outage / HEARTBEAT} heartbeats), delivering everything resolved once and in order`, async () => {
        await rideOutOutage(nats, side, outage, 15_000);
      }, 90_000);
    }

    it(`end visibly at both ends when the ${side}'s connection is down past the outage bound`, async () => {
      const outageTimeout = 2_000;
      const { proxy, tun, opener, memberSide } = await proxiedTunnel(nats, side, outageTimeout);
      try {
        await waitFor("traffic both ways", () => opener.received.length > 50 && memberSide.received.length > 50);
        proxy.down();
        const downAt = performance.now();
        // both ends give up: the one cut off after the bound, the other after the bound and 5 heartbeats
        await waitFor(
          "both ends ended",
          () => opener.readEnd !== undefined && memberSide.readEnd !== undefined,
          outageTimeout + 5 * HEARTBEAT + 10_000,
        );
        for (const [what, t] of [
          ["opener", opener],
          ["member", memberSide],
        ] as const) {
          // a broken tunnel never looks like a finished one: iteration rejects ClosedError
          expect(brokeWithClosedError(t.readEnd), what).toBe(true);
          expect((t.readEndedAt ?? 0) - downAt, what).toBeGreaterThanOrEqual(outageTimeout - 100);
          expect(t.sendError, what).toBeInstanceOf(ClosedError);
        }
        const reason = await tun.closed;
        expect(reason).toBeInstanceOf(ClosedError);
        expect(String(reason?.message)).toMatch(side === "opener" ? /outage bound/ : /gone/);
        // the end cut off knows messages it sent may not have arrived
        const cutOff = side === "opener" ? opener : memberSide;
        const end = cutOff.readEnd as { error: Error };
        expect(end.error.message).toMatch(/not confirmed received by the other end/);
        await expect(tun.recv({ timeout: 100 })).rejects.toBeInstanceOf(ClosedError);
        await expect(tun.send(new Uint8Array(1))).rejects.toBeInstanceOf(ClosedError);
        proxy.up();
      } finally {
        await proxy.close();
      }
    }, 60_000);
  }
});
