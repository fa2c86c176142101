import { defineConfig } from "vitest/config";

/** The unit tests alone: pure logic, no server and no build (`npm run test:unit`, fast enough for every save). */
export default defineConfig({
  test: {
    include: ["test/unit/**/*.test.ts"],
    env: { JETMESH_LOG: process.env.JETMESH_LOG ?? "silent" },
  },
});
