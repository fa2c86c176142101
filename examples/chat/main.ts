/**
 * The chat example: a chat room over topics. Shows publish/subscribe stored in
 * JetStream, a late joiner replaying the history, a durable subscriber that
 * catches up after being away, and a load-shared group.
 *
 *   npm run demo:chat                    # starts its own server
 *   NATS_URL=nats://host:4222 npm run demo:chat
 */
import { connect, type EventContext } from "jetmesh";
import { exampleServer } from "../shared/server.js";

interface Line {
  from: string;
  text: string;
}
const encode = (line: Line) => new TextEncoder().encode(JSON.stringify(line));
const decode = (event: Uint8Array) => JSON.parse(new TextDecoder().decode(event)) as Line;
const settle = () => new Promise((r) => setTimeout(r, 300));

const server = await exampleServer();
// each chat user is a process of its own in real life: here, a connection each
const namespace = `chat${Date.now()}`;
const [alice, bob, carol, archive, bots] = await Promise.all(
  [1, 2, 3, 4, 5].map(() => connect({ servers: server.url, namespace })),
);
if (!alice || !bob || !carol || !archive || !bots) throw new Error("unreachable");

const show = (who: string) => (event: Uint8Array, ctx: EventContext) => {
  const line = decode(event);
  console.log(`  [${who}] #${ctx.seq} ${line.from}: ${line.text}`);
};

console.log("alice and bob are in the room; each sees every line, in order:");
await alice.subscribe("room", show("alice"), { eventThreads: 1 });
await bob.subscribe("room", show("bob"), { eventThreads: 1 });
// the archive keeps its place in the room even while it is away
const archived: string[] = [];
const archiveSub = await archive.subscribe(
  "room",
  (event) => {
    archived.push(decode(event).text);
  },
  { durable: "archive", eventThreads: 1 },
);
await alice.publish("room", encode({ from: "alice", text: "hi bob" }));
await bob.publish("room", encode({ from: "bob", text: "hi alice!" }));
await settle();

console.log("the archive steps away; the chat goes on:");
await archiveSub.unsubscribe();
const ack = await alice.publish("room", encode({ from: "alice", text: "is carol coming?" }));
console.log(`  (stored as #${ack.seq})`);
await settle();

console.log("carol joins late and replays the room from the start:");
await carol.subscribe("room", show("carol"), { eventThreads: 1, from: { seq: 1 } });
await settle();
await carol.publish("room", encode({ from: "carol", text: "here now" }));
await settle();

// the people leave the room (their subscriptions end; the room's history stays)
await Promise.all([alice, bob, carol].map((c) => c.unsubscribe("room")));

console.log("two moderation bots share the work: each line goes to one of them:");
const moderated: Record<string, number> = { "bot-1": 0, "bot-2": 0 };
const botConn = await connect({ servers: server.url, namespace });
for (const [bot, conn] of [
  ["bot-1", bots],
  ["bot-2", botConn],
] as const) {
  await conn.subscribe(
    "room",
    () => {
      moderated[bot] = (moderated[bot] ?? 0) + 1;
    },
    { group: "moderators" },
  );
}
await Promise.all(
  Array.from({ length: 20 }, (_, i) => bob.publish("room", encode({ from: "bob", text: `spam ${i}` }))),
);
await settle();
console.log(`  lines moderated: bot-1 ${moderated["bot-1"]}, bot-2 ${moderated["bot-2"]}`);

console.log("the archive comes back and catches up on what it missed:");
await archive.subscribe(
  "room",
  (event) => {
    archived.push(decode(event).text);
  },
  { durable: "archive", eventThreads: 1 },
);
await settle();
console.log(`  archived ${archived.length} lines: ${archived.slice(0, 4).join(" | ")} | ...`);

await Promise.all([alice, bob, carol, archive, bots, botConn].map((c) => c.close()));
await server.stop();
console.log("done.");
