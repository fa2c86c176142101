import { describe, expect, it } from "vitest";
import { handedOver, unfilledBytes } from "../../src/tunnel/byte-buffers.js";
import { decodeFrame, encodeFrame, type Frame, KIND } from "../../src/tunnel/frame.js";
import { Inbound, type Received } from "../../src/tunnel/inbound.js";
import { ReceiveQueue } from "../../src/tunnel/receive-queue.js";

const MiB = 1024 * 1024;

/** A message as the NATS client hands it: a Buffer viewing part of a larger read. */
function socketView(read: number, at: number, bytes: Uint8Array): Uint8Array {
  const buf = Buffer.alloc(read);
  buf.set(bytes, at);
  return buf.subarray(at, at + bytes.byteLength);
}

describe("tunnel byte buffers", () => {
  it("allocates plain Uint8Arrays of their own, small and large", () => {
    for (const n of [0, 1, 4095, 4096, 64 * 1024 + 7, MiB]) {
      const b = unfilledBytes(n);
      expect(b.constructor).toBe(Uint8Array);
      expect(b.byteLength).toBe(n);
      expect(b.byteOffset).toBe(0);
      expect(b.buffer.byteLength).toBe(n);
    }
  });

  it("encodes frames of every size exactly (no byte left unwritten)", () => {
    for (const size of [1, 4096, 64 * 1024, MiB - 13]) {
      const chunk = new Uint8Array(size).map((_, i) => i % 251);
      for (const kind of [KIND.whole, KIND.first]) {
        const f = decodeFrame(encodeFrame(kind, 12345, chunk, kind === KIND.first ? 2 * size : 0)) as Frame;
        expect(f.kind).toBe(kind);
        expect(f.seq).toBe(12345);
        expect(Buffer.from(f.payload).equals(Buffer.from(chunk))).toBe(true);
      }
    }
  });

  it("hands over a view that spans most of its buffer as a plain Uint8Array, without copying", () => {
    const bytes = new Uint8Array(60_000).fill(9);
    const view = socketView(64 * 1024, 10, bytes);
    const handed = handedOver(view);
    expect(handed.constructor).toBe(Uint8Array);
    expect(handed.buffer).toBe(view.buffer);
    expect(Buffer.from(handed).equals(Buffer.from(bytes))).toBe(true);
  });

  it("copies a small view of a large socket read, so that it does not keep the read alive", () => {
    const bytes = new TextEncoder().encode("small");
    const view = socketView(64 * 1024, 100, bytes);
    const handed = handedOver(view);
    expect(handed.constructor).toBe(Uint8Array);
    expect(handed.buffer).not.toBe(view.buffer);
    expect(handed.buffer.byteLength).toBe(bytes.byteLength);
    expect(new TextDecoder().decode(handed)).toBe("small");
  });
});

describe("tunnel receive queue", () => {
  const received = (bytes: Uint8Array, view: boolean): Received => ({
    bytes,
    release: bytes.byteLength + 128,
    big: false,
    view,
  });

  it("copies a view that waits for recv: it holds its own bytes, and only those", () => {
    const taken: Received[] = [];
    const q = new ReceiveQueue((r) => taken.push(r));
    const bytes = new TextEncoder().encode("waits");
    const view = socketView(64 * 1024, 7, bytes);
    q.put(received(view, true));
    // the client's buffer is reused by nobody, but a later change to it must not show
    (view as Buffer).fill(0);
    const got = q.take();
    expect(got?.buffer.byteLength).toBe(bytes.byteLength);
    expect(new TextDecoder().decode(got)).toBe("waits");
    expect(taken).toHaveLength(1);
    expect(q.bytes).toBe(0);
  });

  it("hands a large view straight to a waiting recv", async () => {
    const q = new ReceiveQueue(() => {});
    const waiting = q.wait(1_000, undefined);
    const view = socketView(70_000, 0, new Uint8Array(65_000).fill(3));
    q.put(received(view, true));
    const got = await waiting;
    expect(got.constructor).toBe(Uint8Array);
    expect(got.buffer).toBe(view.buffer);
    expect(got.byteLength).toBe(65_000);
  });

  it("gets whole frames from the inbound as views, and joined messages as buffers of their own", () => {
    const got: Received[] = [];
    const inbound = new Inbound(MiB, 8 * MiB, {
      deliver: (r) => got.push(r),
      release: () => {},
      closed: () => {},
      malformed: () => {},
    });
    inbound.frame(encodeFrame(KIND.whole, 0, new Uint8Array(10).fill(1)), 1);
    inbound.frame(encodeFrame(KIND.first, 1, new Uint8Array(5000).fill(2), 10_000), 2);
    inbound.frame(encodeFrame(KIND.last, 2, new Uint8Array(5000).fill(2)), 3);
    expect(got.map((r) => [r.view, r.big, r.bytes.byteLength])).toEqual([
      [true, false, 10],
      [false, true, 10_000],
    ]);
    expect(got[1]?.bytes.every((b) => b === 2)).toBe(true);
  });
});
