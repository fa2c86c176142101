/**
 * Where the examples get a NATS server: `NATS_URL` if set; else a local one
 * from `jetmesh/testing` (Docker or the nats-server binary); else, as root on
 * a Debian-like machine, the `nats-server` package is installed first;
 * otherwise it says exactly what to run.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { findNatsServer, type NatsServer, startNats } from "jetmesh/testing";

export async function exampleServer(): Promise<{ url: string; stop: () => Promise<void> }> {
  const given = process.env.NATS_URL;
  if (given) return { url: given, stop: async () => {} };
  if (!(await findNatsServer()) && canInstall()) {
    console.log("no nats-server found: installing the Debian package (apt-get install -y nats-server)...");
    execFileSync("apt-get", ["update", "-qq"], { stdio: "inherit" });
    execFileSync("apt-get", ["install", "-y", "-qq", "nats-server"], { stdio: "inherit" });
  }
  let server: NatsServer;
  try {
    server = await startNats();
  } catch (err) {
    console.error(
      `${(err as Error).message}\n\nTo run this example, either:\n` +
        "  - install the server:   sudo apt-get install nats-server   (or brew install nats-server)\n" +
        "  - or point at one:      NATS_URL=nats://host:4222 npm run demo\n" +
        "  - or start Docker, and jetmesh starts nats in a container itself.",
    );
    process.exit(1);
  }
  console.log(`started a local NATS server (${server.kind}) at ${server.url}`);
  return { url: server.url, stop: () => server.stop() };
}

function canInstall(): boolean {
  return process.platform === "linux" && process.getuid?.() === 0 && existsSync("/usr/bin/apt-get");
}
