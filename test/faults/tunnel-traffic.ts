/**
 * Numbered traffic over one end of a tunnel, for fault tests: a writer that
 * sends message after message (a message whose send timed out was never
 * delivered, so it is sent again) and a reader that iterates, both
 * recording what they did, so a test can check that every message whose
 * send resolved arrived at the other end once and in order.
 */
import { expect } from "vitest";
import { ClosedError, TimeoutError, type Tunnel } from "../../src/index.js";
import { waitFor } from "../helpers.js";

export interface Traffic {
  /** Numbers of the messages whose send resolved, in order. */
  readonly resolved: number[];
  /** Numbers of the messages read, in order. */
  readonly received: number[];
  /** How the writer stopped: undefined while it runs or when told to stop. */
  readonly sendError: unknown;
  /** How the reader's iteration ended: "normal", or what it threw; undefined while it runs. */
  readonly readEnd: "normal" | { error: unknown } | undefined;
  /** When the reader's iteration ended (`performance.now()`). */
  readonly readEndedAt: number | undefined;
  /** Stops the writer after its current send; resolves once it has stopped. */
  stopSending(): Promise<void>;
}

function message(n: number, size: number): Uint8Array {
  const out = new Uint8Array(size).fill(n % 251);
  new DataView(out.buffer).setUint32(0, n);
  return out;
}

function number(m: Uint8Array, size: number): number {
  if (m.byteLength !== size) throw new Error(`a message of ${m.byteLength} bytes`);
  const n = new DataView(m.buffer, m.byteOffset, m.byteLength).getUint32(0);
  if (m[size - 1] !== n % 251) throw new Error(`message ${n} is not whole`);
  return n;
}

/** Starts writing and reading on `tun`: messages of `size` bytes, the writer pausing `pace` ms between them. */
export function startTraffic(tun: Tunnel, { pace = 2, size = 2048 } = {}): Traffic {
  let stop = false;
  const state = {
    resolved: [] as number[],
    received: [] as number[],
    sendError: undefined as unknown,
    readEnd: undefined as Traffic["readEnd"],
    readEndedAt: undefined as number | undefined,
  };
  const writing = (async () => {
    let n = 0;
    while (!stop) {
      try {
        await tun.send(message(n, size), { timeout: 1000 });
        state.resolved.push(n);
        n++;
      } catch (err) {
        if (err instanceof TimeoutError) continue; // never delivered: send it again
        if (!stop) state.sendError = err;
        return;
      }
      await new Promise((r) => setTimeout(r, pace));
    }
  })();
  void (async () => {
    try {
      for await (const m of tun) state.received.push(number(m, size));
      state.readEnd = "normal";
    } catch (error) {
      state.readEnd = { error };
    }
    state.readEndedAt = performance.now();
  })();
  return {
    get resolved() {
      return state.resolved;
    },
    get received() {
      return state.received;
    },
    get sendError() {
      return state.sendError;
    },
    get readEnd() {
      return state.readEnd;
    },
    get readEndedAt() {
      return state.readEndedAt;
    },
    stopSending: async () => {
      stop = true;
      await writing;
    },
  };
}

/** Whether `end` is a rejection with ClosedError (a broken tunnel), not a normal end. */
export function brokeWithClosedError(end: Traffic["readEnd"]): boolean {
  return typeof end === "object" && end.error instanceof ClosedError;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** Every message whose send resolved at one end arrived at the other, once and in order. */
async function expectAllDelivered(from: Traffic, to: Traffic, what: string): Promise<void> {
  await from.stopSending();
  await waitFor(`${what}: everything resolved delivered`, () => to.received.length >= from.resolved.length, 30_000);
  expect(from.sendError, what).toBeUndefined();
  expect(from.resolved, what).toEqual(range(from.resolved.length));
  expect(to.received, what).toEqual(from.resolved);
}

/**
 * After a fault: everything resolved both ways arrived once and in order,
 * neither end's reading broke, and the opener's close then ends the
 * member's iteration normally.
 */
export async function expectWholeThenClosed(tun: Tunnel, opener: Traffic, memberSide: Traffic): Promise<void> {
  await expectAllDelivered(opener, memberSide, "opener to member");
  await expectAllDelivered(memberSide, opener, "member to opener");
  expect(opener.readEnd).toBeUndefined();
  expect(memberSide.readEnd).toBeUndefined();
  await tun.close();
  await waitFor("the member's iteration ended", () => memberSide.readEnd !== undefined);
  expect(memberSide.readEnd).toBe("normal");
  expect(await tun.closed).toBeUndefined();
}
