import { execFile } from "node:child_process";
import { cp, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { uniqueNamespace, useNats } from "./helpers.js";

const run = promisify(execFile);
const nats = useNats();
const root = fileURLToPath(new URL("..", import.meta.url));

/** A program of the user's: a member and a request, through the installed package. */
const program = (load: string) => `
${load}
const url = process.env.NATS_URL;
const namespace = process.env.NS;
const svc = await register({ servers: url, namespace, topics: { maxBytes: 1048576 } }, "greeter", {
  handleRequest: (req) => new TextEncoder().encode("hello " + new TextDecoder().decode(req)),
}, { version: "1.0.0" });
const conn = await connect({ servers: url, namespace });
const reply = await conn.request("greeter", new TextEncoder().encode("${load.includes("require") ? "cjs" : "esm"}"));
console.log(new TextDecoder().decode(reply));
const members = await conn.discover("greeter");
console.log("members", members.length, members[0]?.version);
await conn.close();
await svc.unregister();
`;

describe("the packed package", () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "jetmesh-pack-"));
    // packed from a copy, so its build never races another test's build of dist/
    const copy = join(dir, "jetmesh");
    await mkdir(copy);
    const sources = ["package.json", "README.md", "LICENSE", "src", "bench"];
    for (const f of [...sources, "tsconfig.json", "tsconfig.build.json", "tsconfig.bench.json"]) {
      await cp(join(root, f), join(copy, f), { recursive: true });
    }
    await symlink(join(root, "node_modules"), join(copy, "node_modules"), "dir");
    await run("npm", ["pack", "--silent", "--pack-destination", dir], { cwd: copy, timeout: 120_000 });
    const tarball = (await readdir(dir)).find((f) => f.endsWith(".tgz"));
    if (!tarball) throw new Error("npm pack made no tarball");
    await writeFile(join(dir, "package.json"), JSON.stringify({ name: "user-app", version: "1.0.0", private: true }));
    await run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", join(dir, tarball)], {
      cwd: dir,
      timeout: 240_000,
    });
    await writeFile(join(dir, "esm.mjs"), program(`import { connect, register } from "jetmesh";`));
    // require() of an ES module, as Node >= 20.19 allows; the program itself runs in an async function
    await writeFile(
      join(dir, "cjs.cjs"),
      `(async () => {${program(`const { connect, register } = require("jetmesh");`)}})().catch((e) => { console.error(e); process.exit(1); });`,
    );
  }, 300_000);

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const env = () => ({ ...process.env, NATS_URL: nats.server().url, NS: uniqueNamespace() });

  it("installs from its tarball and works from ESM", async () => {
    const { stdout } = await run(process.execPath, ["esm.mjs"], { cwd: dir, env: env(), timeout: 30_000 });
    expect(stdout).toBe("hello esm\nmembers 1 1.0.0\n");
  });

  it("works from require() on Node >= 20.19", async () => {
    const { stdout } = await run(process.execPath, ["cjs.cjs"], { cwd: dir, env: env(), timeout: 30_000 });
    expect(stdout).toBe("hello cjs\nmembers 1 1.0.0\n");
  });

  it("installs the jetmesh command", async () => {
    const bin = join(dir, "node_modules", ".bin", "jetmesh");
    const { stdout } = await run(bin, ["--version"], { cwd: dir, timeout: 30_000 });
    // the version jetmesh reports (command, tracer scope) is the package's
    const { version } = JSON.parse(await readFile(join(root, "package.json"), "utf8")) as { version: string };
    expect(stdout.trim()).toBe(version);
    const { stdout: ls } = await run(bin, ["ls", "-n", uniqueNamespace()], { cwd: dir, env: env(), timeout: 30_000 });
    expect(ls).toBe("no members\n");
    // the benchmark suite ships with it (its traced variant needs the OpenTelemetry SDK, not installed here)
    const { stdout: ratios } = await run(
      bin,
      ["bench", "request", "typed", "--rounds", "1", "--window", "50", "--warmup", "10", "--json"],
      { cwd: dir, env: env(), timeout: 60_000 },
    );
    const headline = JSON.parse(ratios) as Record<string, number>;
    expect(Object.keys(headline)).toContain("request 128B x1");
    expect(Object.keys(headline)).toContain("typed x1");
    expect(Object.keys(headline).some((k) => k.startsWith("traced"))).toBe(false);
  });

  it("ships only what it needs: dist and the README, no tests or sources", async () => {
    const files = await readdir(join(dir, "node_modules", "jetmesh"));
    expect(files.sort()).toEqual(["LICENSE", "README.md", "dist", "package.json"]);
  });
});
