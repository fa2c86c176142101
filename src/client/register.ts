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
 * Connects and registers a member of the contract's cluster with a typed
 * handler (see `contract()`): requests, method calls and broadcasts arrive
 * decoded and checked; replies are checked before they are sent. The
 * handler's type is read off the contract alone, so a reply's literals (an
 * `enum` field's `"ok"`) need no `as const`.
 *
 * @example
 * ```ts
 * const svc = await register(url, Echo, { handleRequest: (req) => ({ text: req.text }) });
 * await register(url, Orders, { methods: { create: (req) => ({ id: newId(), sku: req.sku }) } });
 * ```
 */
export async function register<C extends ServiceContract>(
  url: string | ConnectOptions,
  contract: C,
  handler: HandlerOf<C>,
  options?: ServiceOptions,
): Promise<Service>;
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
export async function register(
  url: string | ConnectOptions,
  target: string | ServiceContract,
  handler: ServiceHandler | ContractHandler<unknown, unknown, unknown>,
  options?: ServiceOptions,
): Promise<Service> {
  // serviceTarget tells a typed handler from a byte-level one by the target
  const [cluster, bytes] = serviceTarget(target, handler as ServiceHandler);
  checkServiceArgs(cluster, bytes, options);
  const conn = (await connect(url)) as JetmeshConnection;
  try {
    return await conn.registerOwned(cluster, bytes, options, true);
  } catch (err) {
    await conn.close();
    throw err;
  }
}

/**
 * The typed handler of the contract `C`, read off the contract alone (as
 * `ContractHandlerOf` in api/contract.ts, which the api door does not export
 * yet): inferring nothing from the handler keeps a reply's literals (an
 * `enum` field's `"ok"`) from widening.
 */
type HandlerOf<C> =
  C extends ServiceContract<infer Req, unknown, infer Msg, unknown, infer RepIn, unknown, infer Methods>
    ? ContractHandler<Req, RepIn, Msg, Methods>
    : never;
