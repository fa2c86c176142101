import { startBinary } from "./binary.js";
import { startDocker } from "./docker.js";
import type { NatsServer, StartNatsOptions } from "./nats-server.js";

/**
 * A real JetStream-enabled NATS server for integration tests. Picks, in
 * order: `NATS_URL` if set; Docker through testcontainers if an engine
 * answers; the `nats-server` binary (`NATS_SERVER_BIN` or PATH) on a free
 * loopback port with a temp store dir. Fails with a message naming the fix
 * when none is available; a server that does not start fails with why, in a
 * few words (`nats-server could not start: port 4222 is already in use`),
 * and everything it printed in the error's `log`.
 *
 * @example
 * ```ts
 * import { startNats } from "jetmesh/testing";
 * await using nats = await startNats();
 * const conn = await connect(nats.url);
 * ```
 */
export async function startNats(options: StartNatsOptions = {}): Promise<NatsServer> {
  const fresh =
    options.user !== undefined ||
    options.token !== undefined ||
    options.args !== undefined ||
    options.jetstream === false;
  const envUrl = process.env.NATS_URL;
  if (envUrl && options.useEnv !== false && !fresh) {
    const server: NatsServer = {
      kind: "env",
      url: envUrl,
      exited: new Promise(() => {}),
      stop: async () => {},
      restart: async () => {
        throw new Error("restart() is not possible on the server given by NATS_URL");
      },
      reload: async () => {
        throw new Error("reload() is not possible on the server given by NATS_URL");
      },
      [Symbol.asyncDispose]: async () => {},
    };
    return server;
  }
  if (options.docker !== false) {
    const docker = await startDocker(options);
    if (docker) return docker;
  }
  return startBinary(options);
}
