/**
 * The limits example: a slow service that says it is overloaded instead of
 * falling over. The member runs 2 handlers at once and queues at most 4
 * requests' worth of bytes; a burst of 20 requests gets a few answers and
 * fast OverloadedErrors for the rest, which a client may retry later.
 *
 *   npm run demo:limits                  # starts its own server
 *   NATS_URL=nats://host:4222 npm run demo:limits
 */
import { connect, OverloadedError, register } from "jetmesh";
import { exampleServer } from "../shared/server.js";

const server = await exampleServer();
const request = new TextEncoder().encode("resize photo.jpg"); // 16 bytes

// A slow member: each request takes 200 ms. At most 2 run at once, and at
// most 64 bytes (four requests) wait for a handler; the rest are refused at once.
const slow = await register(
  server.url,
  "thumbnails",
  {
    async handleRequest(req) {
      await new Promise((r) => setTimeout(r, 200));
      return req;
    },
  },
  { requestThreads: 2, requestMemory: 4 * request.byteLength, version: "1.0.0" },
);

const conn = await connect(server.url);
const started = performance.now();
const outcomes = await Promise.all(
  Array.from({ length: 20 }, async (_, i) => {
    try {
      await conn.request("thumbnails", request, { timeout: 5_000 });
      return { i, ok: true, ms: performance.now() - started };
    } catch (err) {
      if (err instanceof OverloadedError) return { i, ok: false, ms: performance.now() - started };
      throw err;
    }
  }),
);
const served = outcomes.filter((o) => o.ok);
const refused = outcomes.filter((o) => !o.ok);
console.log(`burst of 20 requests to a member with 2 handlers and room for 4 waiting:`);
console.log(`  served: ${served.length}, the last after ${Math.max(...served.map((o) => o.ms)).toFixed(0)} ms`);
console.log(
  `  OverloadedError: ${refused.length}, each within ${Math.max(...refused.map((o) => o.ms)).toFixed(0)} ms (retryable: ${new OverloadedError("x").retryable})`,
);

// a client that backs off and retries gets everything through
let retries = 0;
async function withRetry(): Promise<Uint8Array> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await conn.request("thumbnails", request, { timeout: 5_000 });
    } catch (err) {
      if (!(err instanceof OverloadedError) || attempt >= 20) throw err;
      retries++;
      await new Promise((r) => setTimeout(r, 50 * 2 ** Math.min(attempt, 4)));
    }
  }
}
const all = await Promise.all(Array.from({ length: 20 }, () => withRetry()));
console.log(`with back-off and retry: ${all.length} of 20 served after ${retries} retries`);

const s = slow.stats();
console.log(
  `member stats: ${s.requests} handled, ${s.overloaded} refused as overloaded, peak ${s.requestsPeakQueuedBytes} bytes queued`,
);
await conn.close();
await slow.unregister();
await server.stop();
console.log("done.");
