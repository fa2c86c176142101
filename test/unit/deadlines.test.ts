import { afterEach, describe, expect, it, vi } from "vitest";
import { DeadlineQueue, Deadlines } from "../../src/flow/index.js";

afterEach(() => {
  vi.useRealTimers();
});

/** Both timers of many calls' time-outs, each made to report expiries into `expired`; returns how to add a key. */
const TIMERS = {
  Deadlines: (expired: string[]) => {
    const d = new Deadlines<string>((k) => expired.push(k));
    return (k: string, ms: number) => d.add(k, ms);
  },
  // over a set of live keys, as a correlator keeps its pending calls
  DeadlineQueue: (expired: string[]) => {
    const live = new Set<string>();
    const d = new DeadlineQueue<string>(
      (k) => {
        live.delete(k);
        expired.push(k);
      },
      (k) => live.has(k),
      () => live.size,
    );
    return (k: string, ms: number) => {
      live.add(k);
      d.add(k, ms);
    };
  },
};

describe.each(Object.entries(TIMERS))("%s", (_name, make) => {
  it("expires each key after its own time-out, in order, with one timer", () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] });
    const expired: string[] = [];
    const add = make(expired);
    add("slow", 300);
    add("fast", 100);
    add("mid", 200);
    add("fast2", 100);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(99);
    expect(expired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(expired).toEqual(["fast", "fast2"]);
    vi.advanceTimersByTime(100);
    expect(expired).toEqual(["fast", "fast2", "mid"]);
    vi.advanceTimersByTime(100);
    expect(expired).toEqual(["fast", "fast2", "mid", "slow"]);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe("Deadlines", () => {
  it("never fires a removed key, and disarms when nothing is left", () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] });
    const expired: string[] = [];
    const d = new Deadlines<string>((k) => expired.push(k));
    d.add("a", 50);
    d.add("b", 60);
    d.remove("a");
    d.remove("missing");
    vi.advanceTimersByTime(55);
    expect(expired).toEqual([]);
    d.remove("b");
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(100);
    expect(expired).toEqual([]);
  });

  it("follows the monotonic clock, not the wall clock", () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] });
    const expired: string[] = [];
    const d = new Deadlines<string>((k) => expired.push(k));
    d.add("a", 200);
    // a wall-clock step changes nothing
    vi.setSystemTime(Date.now() - 10_000);
    vi.advanceTimersByTime(200);
    expect(expired).toEqual(["a"]);
  });
});
