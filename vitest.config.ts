import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/global-setup.ts"],
    pool: "forks",
    testTimeout: 30_000,
    hookTimeout: 180_000,
    reporters: ["default"],
    // connections log warnings to stderr by default; tests provoke failures on purpose, so they are
    // quiet unless JETMESH_LOG is set (processes the tests start inherit it, the command included)
    env: { JETMESH_LOG: process.env.JETMESH_LOG ?? "silent" },
  },
});
