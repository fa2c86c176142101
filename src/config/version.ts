/** jetmesh's version (kept equal to package.json's by a test): the tracer and meter scope, and `jetmesh --version`. */
export const VERSION = "0.1.0";
