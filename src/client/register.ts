import { checkServiceArgs, type Service, type ServiceHandler, type ServiceLimits } from "../service/index.js";
import { connect } from "./connect.js";
import type { JetmeshConnection } from "./connection.js";
import type { ConnectOptions } from "./options.js";

/**
 * Connects to NATS and registers this process as a member of `cluster`, as
 * Iris's `Register`. The service owns its connection: `unregister()` closes
 * it. Resolves once the member is live on the server.
 *
 * @example
 * ```ts
 * import { register } from "jetmesh";
 * const svc = await register("nats://127.0.0.1:4222", "echo", {
 *   handleRequest: (req) => req,
 * }, { requestThreads: 8 });
 * // ...
 * await svc.unregister();
 * ```
 */
export async function register(
  url: string | ConnectOptions,
  cluster: string,
  handler: ServiceHandler,
  limits?: Partial<ServiceLimits>,
): Promise<Service> {
  checkServiceArgs(cluster, handler, limits);
  const conn = (await connect(url)) as JetmeshConnection;
  try {
    return await conn.registerOwned(cluster, handler, limits, true);
  } catch (err) {
    await conn.close();
    throw err;
  }
}
