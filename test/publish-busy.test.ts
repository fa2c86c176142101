import { Empty, headers } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import { ManagedStream, Publisher } from "../src/jetstream/index.js";
import { resolveTopics } from "../src/topics/index.js";
import { enc, useNats, wiring } from "./helpers.js";

const nats = useNats();

/**
 * nats-server 2.11 and later may answer a publish "429 Too Many Requests",
 * as a status or as an ack error, when it has too many publishes in flight.
 * A server is played here by a subscriber that answers the first tries so.
 */
describe("a publish answered 429 Too Many Requests", () => {
  it("is sent again after a pause, with the same id, until it is stored, within its time-out", async () => {
    const nc = await connect({ servers: nats.server().url });
    try {
      const ids: string[] = [];
      const sentAt: number[] = [];
      nc.subscribe("busy.events", {
        callback: (_, msg) => {
          ids.push(msg.headers?.get("Nats-Msg-Id") ?? "");
          sentAt.push(performance.now());
          if (ids.length === 1) msg.respond(Empty, { headers: headers(429, "Too Many Requests") });
          else if (ids.length === 2)
            msg.respond(
              enc(JSON.stringify({ error: { code: 429, err_code: 10999, description: "too many requests" } })),
            );
          else msg.respond(enc(JSON.stringify({ stream: "BUSY", seq: 7 })));
        },
      });
      await nc.flush();
      const stream = new ManagedStream(nc, resolveTopics("busy", {}), "busy.>", "topics");
      stream.ready = true;
      const publisher = new Publisher(wiring(nc), stream, "topic");
      const ack = await publisher.publish("busy.events", "events", enc("e"), 5_000, undefined);
      expect(ack).toEqual({ seq: 7, duplicate: false });
      expect(ids).toHaveLength(3);
      // the same event each time: JetStream stores it once
      expect(new Set(ids).size).toBe(1);
      expect(ids[0]).not.toBe("");
      // after a pause, not at once
      expect((sentAt[1] as number) - (sentAt[0] as number)).toBeGreaterThanOrEqual(20);
      publisher.close();
    } finally {
      await nc.close();
    }
  });

  it("fails with a TimeoutError, not a silent loss, when the server stays too busy", async () => {
    const nc = await connect({ servers: nats.server().url });
    try {
      let tries = 0;
      nc.subscribe("busier.events", {
        callback: (_, msg) => {
          tries++;
          msg.respond(Empty, { headers: headers(429, "Too Many Requests") });
        },
      });
      await nc.flush();
      const stream = new ManagedStream(nc, resolveTopics("busier", {}), "busier.>", "topics");
      stream.ready = true;
      const publisher = new Publisher(wiring(nc), stream, "topic");
      const err = await publisher
        .publish("busier.events", "events", enc("e"), 1_500, undefined)
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ code: "TIMEOUT" });
      expect(tries).toBeGreaterThan(2);
      publisher.close();
    } finally {
      await nc.close();
    }
  });
});
