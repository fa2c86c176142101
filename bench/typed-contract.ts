/** The contract of the typed benchmark, shared by the caller and the responder process. */
import type { TracerProvider } from "@opentelemetry/api";
import { contract } from "jetmesh";

export const BenchOrder = contract({
  name: "bench-typed",
  request: {
    type: "object",
    properties: {
      id: { type: "integer" },
      customer: { type: "string" },
      items: { type: "array", items: { type: "string" } },
      total: { type: "number" },
      express: { type: "boolean" },
    },
    required: ["id", "customer", "items", "total"],
  },
  reply: {
    type: "object",
    properties: { id: { type: "integer" }, accepted: { type: "boolean" } },
    required: ["id", "accepted"],
  },
  codec: "msgpack",
} as const);

export const ORDER = {
  id: 4217,
  customer: "ada@example.com",
  items: ["tea", "scones", "jam"],
  total: 12.5,
  express: true,
};

/**
 * An SDK tracer provider that samples every span and exports them to nowhere;
 * undefined where `@opentelemetry/sdk-trace-base` is not installed (jetmesh
 * itself needs only the API).
 */
export async function noopExportingProvider(): Promise<(TracerProvider & { shutdown(): Promise<void> }) | undefined> {
  let sdk: typeof import("@opentelemetry/sdk-trace-base");
  try {
    sdk = await import("@opentelemetry/sdk-trace-base");
  } catch {
    return undefined;
  }
  const exporter: import("@opentelemetry/sdk-trace-base").SpanExporter = {
    export: (_spans, done) => done({ code: 0 }),
    shutdown: async () => {},
  };
  return new sdk.BasicTracerProvider({ spanProcessors: [new sdk.BatchSpanProcessor(exporter)] });
}
