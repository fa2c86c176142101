import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import type { NatsServer, StartNatsOptions } from "./nats-server.js";

/** Image used when Docker is available; override with JETMESH_NATS_IMAGE. */
const IMAGE = process.env.JETMESH_NATS_IMAGE ?? "nats:2.10-alpine";

/** Cheap check before loading testcontainers: is a Docker endpoint configured at all? */
function dockerConfigured(): boolean {
  if (process.env.DOCKER_HOST) return true;
  return ["/var/run/docker.sock", join(homedir(), ".docker/run/docker.sock")].some((p) => existsSync(p));
}

/**
 * Starts NATS in Docker through testcontainers, or returns undefined when no
 * engine answers quickly (or testcontainers is not installed).
 */
export async function startDocker(options: StartNatsOptions): Promise<NatsServer | undefined> {
  if (!dockerConfigured() || options.args !== undefined) return undefined;
  let tc: typeof import("testcontainers");
  try {
    tc = await import("testcontainers");
  } catch {
    return undefined;
  }
  try {
    const client = tc.getContainerRuntimeClient();
    const answered = await Promise.race([
      client.then(() => true),
      new Promise<false>((resolve) => setTimeout(resolve, 3_000, false).unref()),
    ]);
    if (!answered) return undefined;
  } catch {
    return undefined;
  }
  const command = [
    ...(options.jetstream === false ? [] : ["-js", "-sd", "/data"]),
    ...(options.user !== undefined ? ["--user", options.user, "--pass", options.pass ?? ""] : []),
    ...(options.token !== undefined ? ["--auth", options.token] : []),
  ];
  const container = await new tc.GenericContainer(IMAGE)
    .withCommand(command)
    .withExposedPorts(4222)
    .withWaitStrategy(tc.Wait.forLogMessage(/Server is ready/))
    .withStartupTimeout(options.startTimeout ?? 60_000)
    .start();
  let stopped: Promise<void> | undefined;
  const server: NatsServer = {
    kind: "docker",
    url: `nats://${container.getHost()}:${container.getMappedPort(4222)}`,
    exited: new Promise(() => {}),
    stop() {
      stopped ??= container.stop().then(() => undefined);
      return stopped;
    },
    async restart() {
      throw new Error("restart() needs the nats-server binary; unset DOCKER_HOST or pass { docker: false }");
    },
    async reload() {
      throw new Error("reload() needs the nats-server binary; unset DOCKER_HOST or pass { docker: false }");
    },
    [Symbol.asyncDispose]() {
      return server.stop();
    },
  };
  return server;
}
