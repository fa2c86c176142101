import { afterEach, describe, expect, it, vi } from "vitest";
import { Deadlines } from "../../src/flow/index.js";

afterEach(() => {
  vi.useRealTimers();
});

describe("Deadlines", () => {
  // expiring in order with one timer: deadline-queue.test.ts runs the same case on both timers
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
