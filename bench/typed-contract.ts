/** The contract of the typed benchmark, shared by the caller and the responder process. */
import { BasicTracerProvider, BatchSpanProcessor, type SpanExporter } from "@opentelemetry/sdk-trace-base";
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

/** An SDK tracer provider that samples every span and exports them to nowhere. */
export function noopExportingProvider(): BasicTracerProvider {
  const exporter: SpanExporter = {
    export: (_spans, done) => done({ code: 0 }),
    shutdown: async () => {},
  };
  return new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(exporter)] });
}
