import { afterEach, describe, expect, it, vi } from "vitest";
import { consoleLogger, defaultLogger, silentLogger } from "../../src/logging/index.js";

/** What `fn` writes through console.error, one string per call. */
function captured(fn: () => void): string[] {
  const spy = vi.spyOn(console, "error").mockImplementation(() => {});
  try {
    fn();
    return spy.mock.calls.map((args) => args.join(" "));
  } finally {
    spy.mockRestore();
  }
}

describe("the console logger", () => {
  it("writes warnings and errors with the stack of each Error, and its causes, below the line", () => {
    const cause = new Error("socket closed");
    const err = Object.assign(new Error("no such sku", { cause }), { code: "E_SKU" });
    const [line] = captured(() => consoleLogger("warn").warn({ cluster: "orders", err }, "handleRequest threw"));
    const [first, ...rest] = (line ?? "").split("\n");
    expect(first).toBe('[jetmesh] WARN handleRequest threw cluster="orders" err="no such sku"');
    expect(rest[0]).toBe("    Error: no such sku");
    expect(rest.some((l) => /^\s+at /.test(l))).toBe(true);
    expect(rest.join("\n")).toContain("Caused by: Error: socket closed");
    const [error] = captured(() => consoleLogger().error({ err }, "failed"));
    expect(error).toContain("    Error: no such sku");
  });

  it("keeps debug and info to one line, and writes nothing below its level", () => {
    const log = consoleLogger("debug");
    const [line] = captured(() => log.info({ err: new Error("boom"), n: 1 }, "note"));
    expect(line).toBe('[jetmesh] INFO note err="boom" n=1');
    expect(captured(() => consoleLogger("error").warn({}, "quiet"))).toEqual([]);
    expect(captured(() => consoleLogger("warn").debug({}, "quiet"))).toEqual([]);
  });

  it("writes values JSON cannot hold, and thrown values that are not Errors, without throwing", () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const [line] = captured(() => consoleLogger().warn({ big: 10n, cyclic, err: "a string" }, "odd"));
    expect(line).toBe('[jetmesh] WARN odd big=10 cyclic=an object err="a string"');
  });
});

describe("the default logger", () => {
  const saved = process.env.JETMESH_LOG;
  afterEach(() => {
    if (saved === undefined) delete process.env.JETMESH_LOG;
    else process.env.JETMESH_LOG = saved;
  });

  it("writes warnings and errors to stderr when JETMESH_LOG is not set", () => {
    delete process.env.JETMESH_LOG;
    const log = defaultLogger();
    const lines = captured(() => {
      log.info({}, "not shown");
      log.warn({ err: new Error("boom") }, "shown");
    });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\[jetmesh\] WARN shown err="boom"\n {4}Error: boom\n/);
  });

  it("is silent with JETMESH_LOG=silent or off, and follows a level given", () => {
    for (const value of ["silent", "off", " OFF "]) {
      process.env.JETMESH_LOG = value;
      expect(defaultLogger()).toBe(silentLogger);
    }
    process.env.JETMESH_LOG = "debug";
    expect(captured(() => defaultLogger().debug({}, "detail"))).toEqual(["[jetmesh] DEBUG detail"]);
    process.env.JETMESH_LOG = "error";
    expect(captured(() => defaultLogger().warn({}, "hidden"))).toEqual([]);
    process.env.JETMESH_LOG = "nonsense";
    expect(captured(() => defaultLogger().warn({}, "shown"))).toEqual(["[jetmesh] WARN shown"]);
  });
});
