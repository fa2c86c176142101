/**
 * The typed handler of a service contract, served as a byte-level handler:
 * requests and broadcasts are decoded and checked before the typed handler
 * sees them, and its replies checked and encoded after.
 */
import type { ContractHandler, RequestContext, ServiceContract, ServiceHandler } from "../api/index.js";
import { InvalidArgumentError } from "../errors/index.js";
import { isContract } from "./contract.js";
import { badReply, incoming } from "./failures.js";
import { mapMaybePromise } from "./maybe-promise.js";
import { serviceParts } from "./parts.js";

/** The byte-level handler that serves `c` with the typed `handler`. */
export function byteHandler(c: ServiceContract, handler: ContractHandler<unknown, unknown, unknown>): ServiceHandler {
  if (!isContract(c) || c.kind !== "service") {
    throw new InvalidArgumentError("register() takes a cluster name or a service contract made by contract()");
  }
  if (typeof handler !== "object" || handler === null) {
    throw new InvalidArgumentError(`handler of contract "${c.name}" must be an object with handler methods`);
  }
  const p = serviceParts(c);
  const out: ServiceHandler = {};
  const { init, handleRequest, handleBroadcast, handleTunnel, handleDrop } = handler;
  if (init !== undefined) out.init = bound(handler, init);
  if (handleTunnel !== undefined) out.handleTunnel = bound(handler, handleTunnel);
  if (handleDrop !== undefined) out.handleDrop = bound(handler, handleDrop);
  if (handleRequest !== undefined) {
    if (typeof handleRequest !== "function") return { ...out, handleRequest: handleRequest as never };
    if (!p.request.declared) {
      throw new InvalidArgumentError(`contract "${c.name}" has no request schema, but the handler has handleRequest`);
    }
    const encodeReply = (rep: unknown) => p.reply.encode(rep, badReply);
    const answer = (req: unknown, ctx: RequestContext) =>
      mapMaybePromise(handleRequest.call(handler, req, ctx), encodeReply);
    out.handleRequest = (bytes, ctx) => {
      const req = p.request.decode(bytes, incoming);
      return req instanceof Promise ? req.then((r) => answer(r, ctx)) : answer(req, ctx);
    };
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

function bound<F extends (...args: never[]) => unknown>(self: object, fn: F): F {
  if (typeof fn !== "function") return fn;
  return fn.bind(self) as F;
}
