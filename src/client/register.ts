import type {
  ConnectOptions,
  ContractHandler,
  Service,
  ServiceContract,
  ServiceHandler,
  ServiceOptions,
} from "../api/index.js";
import { checkServiceArgs } from "../service/index.js";
import { connect } from "./connect.js";
import { type JetmeshConnection, serviceTarget } from "./connection.js";

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
  options?: ServiceOptions,
): Promise<Service>;
/**
 * Connects and registers a member of the contract's cluster with a typed
 * handler (see `contract()`): requests and broadcasts arrive decoded and
 * checked; replies are checked before they are sent.
 *
 * @example
 * ```ts
 * const svc = await register(url, Echo, { handleRequest: (req) => ({ text: req.text }) });
 * ```
 */
export async function register<Req, Rep, Msg, ReqIn, RepIn, MsgIn>(
  url: string | ConnectOptions,
  contract: ServiceContract<Req, Rep, Msg, ReqIn, RepIn, MsgIn>,
  handler: ContractHandler<NoInfer<Req>, NoInfer<RepIn>, NoInfer<Msg>>,
  options?: ServiceOptions,
): Promise<Service>;
export async function register(
  url: string | ConnectOptions,
  target: string | ServiceContract,
  handler: ServiceHandler | ContractHandler<never, never, never>,
  options?: ServiceOptions,
): Promise<Service> {
  const [cluster, bytes] = serviceTarget(target, handler);
  checkServiceArgs(cluster, bytes, options);
  const conn = (await connect(url)) as JetmeshConnection;
  try {
    return await conn.registerOwned(cluster, bytes, options, true);
  } catch (err) {
    await conn.close();
    throw err;
  }
}
