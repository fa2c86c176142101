/**
 * The traced example: a typed contract (msgpack, checked with JSON Schema on
 * both sides) and OpenTelemetry. The SDK (@opentelemetry/sdk-node) prints every
 * span to the console; the caller's trace continues in the service's handler
 * and in every subscriber of the event it publishes.
 *
 *   npm run demo:traced                  # starts its own server
 *   NATS_URL=nats://host:4222 npm run demo:traced
 */
import { trace } from "@opentelemetry/api";
import { NodeSDK } from "@opentelemetry/sdk-node";
import { ConsoleSpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { connect, contract, InvalidArgumentError, RemoteError, register, topicContract } from "jetmesh";
import { exampleServer } from "../shared/server.js";

// The SDK is the application's choice; jetmesh only uses @opentelemetry/api.
const sdk = new NodeSDK({
  serviceName: "traced-example",
  spanProcessors: [new SimpleSpanProcessor(new ConsoleSpanExporter())],
});
sdk.start();

// Described once, used by both sides: the types come from the schemas.
const Greeter = contract({
  name: "greeter",
  request: {
    type: "object",
    properties: { name: { type: "string", minLength: 1, maxLength: 40 } },
    required: ["name"],
    additionalProperties: false,
  },
  reply: {
    type: "object",
    properties: { greeting: { type: "string" }, traceId: { type: "string" } },
    required: ["greeting", "traceId"],
  },
} as const);

const Greeted = topicContract({
  name: "greeted",
  event: { type: "object", properties: { name: { type: "string" } }, required: ["name"] },
} as const);

const server = await exampleServer();
const tracer = trace.getTracer("traced-example");

const service = await register(server.url, Greeter, {
  async init(conn) {
    await conn.use(Greeted).subscribe((event) => {
      const link = trace.getActiveSpan();
      console.log(`subscriber: ${event.name} was greeted (handler span ${link?.spanContext().spanId})`);
    });
  },
  async handleRequest(req) {
    // the handler runs in the span jetmesh made for it, a child of the caller's
    const traceId = trace.getActiveSpan()?.spanContext().traceId ?? "none";
    await tracer.startActiveSpan("compose greeting", async (span) => {
      await new Promise((r) => setTimeout(r, 5));
      span.end();
    });
    return { greeting: `hello, ${req.name}`, traceId };
  },
});

const conn = await connect(server.url);
const greeter = conn.use(Greeter);

await tracer.startActiveSpan("greet ada", async (root) => {
  const reply = await greeter.request({ name: "Ada" });
  console.log(`\nreply: ${reply.greeting}`);
  console.log(`same trace: ${reply.traceId === root.spanContext().traceId ? "yes" : "no"} (${reply.traceId})`);
  await conn.use(Greeted).publish({ name: "Ada" });
  root.end();
});

try {
  await greeter.request({ name: "" });
} catch (err) {
  if (err instanceof InvalidArgumentError) console.log(`\nrefused before sending: ${err.message}`);
}
try {
  // a byte-level caller is checked by the service: the handler never sees this
  await conn.request("greeter", new TextEncoder().encode("not msgpack of a request"));
} catch (err) {
  if (err instanceof RemoteError) console.log(`refused by the service: ${err.remoteCode}: ${err.message}`);
}

await new Promise((r) => setTimeout(r, 300));
const s = service.stats();
console.log(
  `\nservice stats: ${s.requests} requests, ${s.malformed} malformed, average ${s.averageProcessingTime.toFixed(2)} ms`,
);
await conn.close();
await service.unregister();
await sdk.shutdown();
await server.stop();
console.log("done.");
