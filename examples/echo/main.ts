/**
 * The echo example: a service cluster of two members and a client, in one go.
 * Shows request/reply (load-balanced), broadcast, remote errors, and limits.
 *
 *   npm run demo                         # starts its own server
 *   NATS_URL=nats://host:4222 npm run demo
 */
import { connect, NoRespondersError, RemoteError, register } from "jetmesh";
import { exampleServer } from "../shared/server.js";

const text = (b: Uint8Array) => new TextDecoder().decode(b);
const bytes = (s: string) => new TextEncoder().encode(s);

const server = await exampleServer();

// Two members of the cluster "echo". Each owns its connection.
const members = await Promise.all(
  ["alpha", "beta"].map((name) =>
    register(server.url, "echo", {
      handleRequest(req) {
        if (text(req) === "fail") throw Object.assign(new Error("you asked me to fail"), { code: "E_ASKED" });
        return bytes(`${name} says: ${text(req)}`);
      },
      handleBroadcast(msg) {
        console.log(`  ${name} got broadcast "${text(msg)}"`);
      },
    }),
  ),
);

const conn = await connect(server.url);

console.log("request/reply, load-balanced over the cluster:");
for (let i = 1; i <= 4; i++) {
  const started = performance.now();
  const reply = await conn.request("echo", bytes(`hello #${i}`), { timeout: 1000 });
  console.log(`  ${text(reply)}   (${(performance.now() - started).toFixed(2)} ms)`);
}

console.log("broadcast to every member:");
await conn.broadcast("echo", bytes("hi all"));
await new Promise((r) => setTimeout(r, 200));

console.log("errors are typed:");
try {
  await conn.request("echo", bytes("fail"));
} catch (err) {
  if (err instanceof RemoteError) console.log(`  RemoteError: ${err.message} (code ${err.remoteCode})`);
}
try {
  await conn.request("nobody-home", bytes("?"));
} catch (err) {
  if (err instanceof NoRespondersError) console.log(`  NoRespondersError: ${err.message}`);
}

const served = members.map((m) => m.stats().requests);
console.log(`requests served per member: ${served.join(", ")}`);

await conn.close();
await Promise.all(members.map((m) => m.unregister()));
await server.stop();
console.log("done.");
