/**
 * The layers of src/, lowest first: a folder imports only folders before it in
 * LAYERS (type-only imports included), and only through their index.ts.
 * ARCHITECTURE.md says what each layer owns. `npm run lint:layers` checks it.
 */
const LAYERS = [
  "errors",
  "api",
  "config",
  "logging",
  "flow",
  "wire",
  "telemetry",
  "core",
  "jetstream",
  "topics",
  "tunnel",
  "service",
  "contract",
  "client",
  "devserver",
  "testing",
  "cli",
];

const layerRules = LAYERS.slice(0, -1).map((layer, i) => ({
  name: `layer-${layer}`,
  comment: `${layer}/ may import only ${LAYERS.slice(0, i).join(", ") || "nothing of src/"}`,
  severity: "error",
  from: { path: `^src/${layer}/` },
  to: { path: `^src/(${LAYERS.slice(i + 1).join("|")})/` },
}));

module.exports = {
  forbidden: [
    {
      name: "no-circular",
      comment: "no import cycles, type-only imports included (api/ is types only: its interfaces name each other)",
      severity: "error",
      from: { path: "^src/", pathNot: "^src/api/" },
      to: { circular: true },
    },
    ...layerRules,
    {
      name: "door-only",
      comment: "another folder is imported through its index.ts only",
      severity: "error",
      from: { path: "^src/([^/]+)/" },
      to: { path: "^src/[^/]+/", pathNot: ["^src/$1/", "^src/[^/]+/index\\.ts$"] },
    },
    {
      name: "entry-points-only-re-export",
      comment: "src/index.ts imports folders through their index.ts",
      severity: "error",
      from: { path: "^src/index\\.ts$" },
      to: { path: "^src/[^/]+/", pathNot: "^src/[^/]+/index\\.ts$" },
    },
    {
      name: "unknown-folder",
      comment: "every folder of src/ has its place in LAYERS",
      severity: "error",
      from: { path: `^src/(?!(${LAYERS.join("|")})/|index\\.ts$)` },
      to: {},
    },
    {
      name: "no-dev-dependencies",
      comment: "the package runs with its dependencies only (testcontainers is an optional peer, loaded on demand)",
      severity: "error",
      from: { path: "^src/" },
      to: { dependencyTypes: ["npm-dev"], pathNot: "node_modules/testcontainers/" },
    },
  ],
  options: {
    includeOnly: "^src/",
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    doNotFollow: { path: "node_modules" },
    exclude: { path: "\\.d\\.ts$" },
  },
};
