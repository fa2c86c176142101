import { afterEach, describe, expect, it, vi } from "vitest";
import { DeadlineQueue, Deadlines } from "../../src/flow/index.js";

afterEach(() => {
  vi.useRealTimers();
});

/** A queue over a set of live keys, as a correlator keeps its pending calls. */
function queue() {
  const live = new Set<string>();
  const expired: string[] = [];
  const d = new DeadlineQueue<string>(
    (k) => {
      live.delete(k);
      expired.push(k);
    },
    (k) => live.has(k),
    () => live.size,
  );
  const add = (k: string, timeout: number) => {
    live.add(k);
    d.add(k, timeout);
  };
  return { d, live, expired, add };
}

/** Both timers of many calls' time-outs, each with the keys it expired and how to add one. */
const TIMERS = {
  Deadlines: () => {
    const expired: string[] = [];
    const d = new Deadlines<string>((k) => expired.push(k));
    return { expired, add: (k: string, ms: number) => d.add(k, ms) };
  },
  DeadlineQueue: queue,
};

describe.each(Object.entries(TIMERS))("%s", (_name, make) => {
  it("expires each key after its own time-out, in order, with one timer", () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] });
    const { expired, add } = make();
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

describe("DeadlineQueue", () => {
  it("never expires a key whose call settled, and arms for the live one behind it", () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] });
    const { live, expired, add } = queue();
    add("a", 50);
    vi.advanceTimersByTime(10);
    add("b", 50);
    live.delete("a");
    vi.advanceTimersByTime(45);
    expect(expired).toEqual([]);
    vi.advanceTimersByTime(5);
    expect(expired).toEqual(["b"]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("lets the process exit once nothing waits, and holds it again when a call comes", () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] });
    const { d, live, expired, add } = queue();
    add("a", 1_000);
    const timer = vi.getTimerCount();
    expect(timer).toBe(1);
    live.delete("a");
    d.idle();
    // left armed (no timer made per call when calls come one at a time), but not holding the process
    add("b", 1_000);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(1_000);
    expect(expired).toEqual(["b"]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("unrefs its timer when idle and refs it again for the next call", () => {
    const timers = () =>
      (process as unknown as { getActiveResourcesInfo(): string[] })
        .getActiveResourcesInfo()
        .filter((h) => h === "Timeout").length;
    const before = timers();
    const { d, live, add } = queue();
    add("a", 60_000);
    expect(timers()).toBe(before + 1);
    live.delete("a");
    d.idle();
    expect(timers()).toBe(before);
    add("b", 60_000);
    expect(timers()).toBe(before + 1);
    live.delete("b");
    d.stop();
    expect(timers()).toBe(before);
  });

  it("keeps about twice the live keys, dropping settled ones as they pile up", () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] });
    const { d, live, expired, add } = queue();
    add("keep", 10_000);
    for (let i = 0; i < 50_000; i++) {
      add(`k${i}`, 10_000);
      live.delete(`k${i}`);
    }
    expect(d.size).toBeLessThan(2 * live.size + 1024 + 2);
    vi.advanceTimersByTime(10_000);
    expect(expired).toEqual(["keep"]);
  });

  it("follows the monotonic clock, not the wall clock", () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] });
    const { expired, add } = queue();
    add("a", 200);
    vi.setSystemTime(Date.now() - 10_000);
    vi.advanceTimersByTime(200);
    expect(expired).toEqual(["a"]);
  });

  it("stop() drops everything and its timer", () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] });
    const { d, expired, add } = queue();
    add("a", 100);
    d.stop();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(200);
    expect(expired).toEqual([]);
  });
});
