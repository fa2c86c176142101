import { describe, expect, it } from "vitest";
import { fastAck } from "../../src/jetstream/publisher.js";
import { parseAckSubject } from "../../src/wire/ack-subject.js";

const enc = (s: string) => new TextEncoder().encode(s);

describe("reading JetStream's wire formats", () => {
  it("parses both forms of a delivery's ack subject", () => {
    expect(parseAckSubject("$JS.ACK.S.c1.2.17.5.1795459754479668538.4")).toEqual({
      consumer: "c1",
      deliveries: 2,
      seq: 17,
      dseq: 5,
      timestamp: "1795459754479668538",
    });
    expect(parseAckSubject("$JS.ACK.dom.ACCHASH.S.dur~t~n.1.9.3.1795459754479668538.0.rand")).toEqual({
      consumer: "dur~t~n",
      deliveries: 1,
      seq: 9,
      dseq: 3,
      timestamp: "1795459754479668538",
    });
  });

  it("refuses ack subjects that are not JetStream's", () => {
    for (const bad of [
      "",
      "_INBOX.abc.1",
      "$JS.ACK.S.c1.1.2",
      "$JS.ACK.S.c1.x.1.1.1.0",
      "$JS.ACK.S.c1.1.0.1.1.0",
      "$JS.ACK.S..1.1.1.1.0",
      "$JS.NAK.S.c1.1.1.1.1.0",
      "$JS.ACK.S.c1.1.-1.1.1.0",
      "$JS.ACK.S.c1.1.1.1.notatime.0",
      "$JS.ACK.S.c1.1.99999999999999999999.1.1.0",
      `$JS.ACK.${".".repeat(40)}`,
    ]) {
      expect(parseAckSubject(bad)).toBeUndefined();
    }
  });

  it("reads publish acks, and leaves anything else to the JSON path", () => {
    expect(fastAck(enc('{"stream":"T", "seq":123}'))).toEqual({ seq: 123, duplicate: false });
    expect(fastAck(enc('{"stream":"T", "seq":2,"duplicate": true}'))).toEqual({ seq: 2, duplicate: true });
    expect(fastAck(enc('{"stream":"T","domain":"d","seq":7}'))).toEqual({ seq: 7, duplicate: false });
    expect(fastAck(enc('{"error":{"code":503,"err_code":10077,"description":"maximum bytes exceeded"}}'))).toBe(
      undefined,
    );
    expect(fastAck(enc('{"stream":"T"}'))).toBeUndefined();
    expect(fastAck(enc('{"stream":"T", "seq":x}'))).toBeUndefined();
    expect(fastAck(enc(""))).toBeUndefined();
  });
});
