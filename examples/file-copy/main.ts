/**
 * The file-copy example: a "files" service takes files over tunnels. The
 * client streams a file (a 24 MiB one it makes, or the path given) as 256 KiB
 * messages and ends its side (`tun.end()`: the service's iteration ends after
 * the last byte); the service answers with the SHA-256 of what it wrote, which
 * the client checks against its own, and ends too: the tunnel closes by itself.
 *
 *   npm run demo:file-copy               # starts its own server
 *   NATS_URL=nats://host:4222 npm run demo:file-copy -- path/to/file
 */
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, register, type Tunnel } from "jetmesh";
import { exampleServer } from "../shared/server.js";

const server = await exampleServer();
const dir = await mkdtemp(join(tmpdir(), "jetmesh-file-copy-"));

/** The service: each tunnel brings a header ({ name }), then the file's bytes until the client's end. */
async function receive(tun: Tunnel): Promise<void> {
  const header = JSON.parse(new TextDecoder().decode(await tun.recv({ timeout: 5000 }))) as { name: string };
  const target = join(dir, `received-${header.name}`);
  const out = createWriteStream(target);
  const hash = createHash("sha256");
  let received = 0;
  // ends after the last byte the client sent before its end()
  for await (const chunk of tun) {
    hash.update(chunk);
    received += chunk.byteLength;
    if (!out.write(chunk)) await new Promise<void>((resolve) => out.once("drain", () => resolve()));
  }
  await new Promise<void>((resolve) => out.end(() => resolve()));
  await tun.send(new TextEncoder().encode(JSON.stringify({ received, sha256: hash.digest("hex") })));
  // the client ended already: ending here too closes the tunnel at both ends
  await tun.end();
}

const files = await register(server.url, "files", { handleTunnel: receive });

// the file to copy: the one given, or 24 MiB of random bytes
let source = process.argv[2];
if (source === undefined) {
  source = join(dir, "random.bin");
  await writeFile(source, randomBytes(24 * 1024 * 1024));
}
const size = (await stat(source)).size;

const conn = await connect(server.url);
const started = performance.now();
const tun = await conn.tunnel("files", { timeout: 5000 });
await tun.send(new TextEncoder().encode(JSON.stringify({ name: "copy.bin" })));
const hash = createHash("sha256");
for await (const chunk of createReadStream(source, { highWaterMark: 256 * 1024 })) {
  const bytes = chunk as Buffer;
  hash.update(bytes);
  await tun.send(bytes);
}
// nothing more to send: the service reads to the last byte, then its iteration ends
await tun.end();
const answer = JSON.parse(new TextDecoder().decode(await tun.recv({ timeout: 30_000 }))) as {
  received: number;
  sha256: string;
};
const seconds = (performance.now() - started) / 1000;
const local = hash.digest("hex");
console.log(
  `copied ${answer.received} of ${size} bytes in ${seconds.toFixed(2)} s (${(size / 1e6 / seconds).toFixed(1)} MB/s)`,
);
console.log(`sha256 here  ${local}`);
console.log(`sha256 there ${answer.sha256}`);
console.log(answer.sha256 === local && answer.received === size ? "hashes match" : "HASHES DIFFER");

// the service ended too: the tunnel closed by itself (undefined: normally)
const ended = await tun.closed;
if (ended) throw ended;
await conn.close();
await files.unregister();
await rm(dir, { recursive: true, force: true });
await server.stop();
console.log("done.");
if (answer.sha256 !== local) process.exit(1);
