/**
 * The typed handler of a service contract, served as a byte-level handler:
 * requests, method calls and broadcasts are decoded and checked before the
 * typed handler sees them, and its replies checked and encoded after.
 */
import type { ContractHandler, RequestContext, RequestHandler, ServiceContract, ServiceHandler } from "../api/index.js";
import { InvalidArgumentError } from "../errors/index.js";
import { isContract } from "./contract.js";
import { badReply, incoming } from "./failures.js";
import { mapMaybePromise } from "./maybe-promise.js";
import { methodList } from "./methods.js";
import { type MethodParts, type ServiceParts, serviceParts } from "./parts.js";

/** A typed request handler: a decoded, checked request in, a reply value out. */
type TypedRequestHandler = (request: unknown, ctx: RequestContext) => unknown;

/** The byte-level handler that serves `c` with the typed `handler`. */
export function byteHandler(
  c: ServiceContract,
  handler: ContractHandler<unknown, unknown, unknown, unknown>,
): ServiceHandler {
  if (!isContract(c) || c.kind !== "service") {
    throw new InvalidArgumentError("register() takes a cluster name or a service contract made by contract()");
  }
  if (typeof handler !== "object" || handler === null) {
    throw new InvalidArgumentError(`handler of contract "${c.name}" must be an object with handler methods`);
  }
  const p = serviceParts(c);
  const out: ServiceHandler = {};
  const { init, handleRequest, methods, handleBroadcast, handleTunnel, handleDrop } = handler;
  if (init !== undefined) out.init = bound(handler, init);
  if (handleTunnel !== undefined) out.handleTunnel = bound(handler, handleTunnel);
  if (handleDrop !== undefined) out.handleDrop = bound(handler, handleDrop);
  if (methods !== undefined) out.methods = methodHandlers(c.name, p, methods);
  if (handleRequest !== undefined) {
    if (typeof handleRequest !== "function") return { ...out, handleRequest: handleRequest as never };
    if (!p.request.declared) {
      throw new InvalidArgumentError(`contract "${c.name}" has no request schema, but the handler has handleRequest`);
    }
    out.handleRequest = served(p, handleRequest.bind(handler));
  }
  if (handleBroadcast !== undefined) {
    if (typeof handleBroadcast !== "function") return { ...out, handleBroadcast: handleBroadcast as never };
    if (!p.broadcast.declared) {
      throw new InvalidArgumentError(
        `contract "${c.name}" has no broadcast schema, but the handler has handleBroadcast`,
      );
    }
    out.handleBroadcast = (bytes, ctx) =>
      mapMaybePromise(p.broadcast.decode(bytes, incoming), (msg) => handleBroadcast.call(handler, msg, ctx));
  }
  return out;
}

// --- internals ---

/** The byte-level handlers of the typed `methods`, each a method the contract declares. */
function methodHandlers(contract: string, p: ServiceParts, methods: unknown): Record<string, RequestHandler> {
  if (typeof methods !== "object" || methods === null || Array.isArray(methods)) {
    throw new InvalidArgumentError(`handler.methods of contract "${contract}" must be an object of functions`);
  }
  const out: Record<string, RequestHandler> = {};
  for (const [method, fn] of Object.entries(methods)) {
    const m = p.methods.get(method);
    if (m === undefined) {
      throw new InvalidArgumentError(
        `contract "${contract}" has no method "${method}" (its methods: ${methodList(p.methods)})`,
      );
    }
    if (typeof fn !== "function") {
      throw new InvalidArgumentError(`handler.methods.${method} of contract "${contract}" must be a function`);
    }
    out[method] = served(m, (fn as TypedRequestHandler).bind(methods));
  }
  return out;
}

/** Serves the typed `handle` as a byte-level request handler of the request and reply of `parts`. */
function served(parts: MethodParts, handle: TypedRequestHandler): RequestHandler {
  const encodeReply = (rep: unknown) => parts.reply.encode(rep, badReply);
  const answer = (req: unknown, ctx: RequestContext) => mapMaybePromise(handle(req, ctx), encodeReply);
  return (bytes, ctx) => {
    const req = parts.request.decode(bytes, incoming);
    return req instanceof Promise ? req.then((r) => answer(r, ctx)) : answer(req, ctx);
  };
}

function bound<F extends (...args: never[]) => unknown>(self: object, fn: F): F {
  if (typeof fn !== "function") return fn;
  return fn.bind(self) as F;
}
