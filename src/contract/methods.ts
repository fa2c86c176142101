/**
 * The methods of a service contract: their names, checked once when the
 * contract is made, and the parts (request and reply) of each.
 */
import type { ContractSpec } from "../api/index.js";
import { SERVICE_ENDPOINTS, validateName, validateOptions } from "../config/index.js";
import { InvalidArgumentError } from "../errors/index.js";
import type { Codec } from "./codec.js";
import { type MethodParts, Part } from "./parts.js";

type MethodSpec = NonNullable<ContractSpec["methods"]>[string];

/**
 * Names a method may not have: the typed client's own members (a method
 * becomes a function of the client), `then` (the client would be a thenable,
 * and `await` would call it), `tunnel` (a member's micro endpoints are
 * `request`, `broadcast` and `tunnel`, and a method is one more), and what
 * every object has (`constructor`, `toString`, ...).
 */
/** Taken by the typed client (its own members, and `then`, which `await` would call) or by the member's endpoints. */
const RESERVED = ["cluster", ...SERVICE_ENDPOINTS, "then"];

/** The parts of each method of contract `contract`, in the order given; empty when it has none. */
export function methodParts(contract: string, methods: unknown, codec: Codec): ReadonlyMap<string, MethodParts> {
  const out = new Map<string, MethodParts>();
  if (methods === undefined) return out;
  if (typeof methods !== "object" || methods === null || Array.isArray(methods)) {
    throw new InvalidArgumentError(
      `contract "${contract}": methods must be an object of { request, reply } schemas, one per method`,
    );
  }
  for (const [method, spec] of Object.entries(methods)) {
    validateName(`contract "${contract}": a method name`, method);
    if (RESERVED.includes(method) || method in Object.prototype) {
      throw new InvalidArgumentError(
        `contract "${contract}": a method may not be named "${method}" (taken by the typed client or the member: ${RESERVED.join(", ")} and the members of every object)`,
      );
    }
    if (spec === undefined) {
      throw new InvalidArgumentError(
        `contract "${contract}": method "${method}" must be an object such as { request, reply }`,
      );
    }
    const o = validateOptions<MethodSpec>(`contract "${contract}": method "${method}"`, spec, ["request", "reply"]);
    out.set(method, {
      request: new Part(`request to "${contract}.${method}"`, o.request, codec),
      reply: new Part(`reply from "${contract}.${method}"`, o.reply, codec),
    });
  }
  return out;
}

/** The method names of a contract, for messages: `create, get`, or `none`. */
export function methodList(methods: ReadonlyMap<string, MethodParts>): string {
  return methods.size === 0 ? "none" : [...methods.keys()].join(", ");
}
