/**
 * Interceptor chains. A chain is composed once, when a connection, service
 * or subscription is made; with no interceptor there is no chain at all, so
 * the call path is the same as without the feature.
 */
import { type MsgHdrs, headers as newHeaders } from "@nats-io/nats-core";
import type { IncomingCall, IncomingKind, Interceptor, OutgoingCall, OutgoingKind } from "../api/index.js";
import { InvalidArgumentError } from "../errors/index.js";

type Around<C> = (call: C, next: () => Promise<unknown>) => Promise<unknown>;

/** Validates `interceptors` (an option called `what`): an array of objects with `outgoing`/`incoming` functions. */
export function validateInterceptors(what: string, interceptors: unknown): Interceptor[] {
  if (interceptors === undefined) return [];
  if (!Array.isArray(interceptors)) throw new InvalidArgumentError(`${what} must be an array of interceptors`);
  interceptors.forEach((i: unknown, at) => {
    if (typeof i !== "object" || i === null) {
      throw new InvalidArgumentError(`${what}[${at}] must be an object with outgoing() and/or incoming()`);
    }
    const { outgoing, incoming } = i as Interceptor;
    if (outgoing !== undefined && typeof outgoing !== "function") {
      throw new InvalidArgumentError(`${what}[${at}].outgoing must be a function`);
    }
    if (incoming !== undefined && typeof incoming !== "function") {
      throw new InvalidArgumentError(`${what}[${at}].incoming must be a function`);
    }
    if (outgoing === undefined && incoming === undefined) {
      throw new InvalidArgumentError(`${what}[${at}] has neither outgoing() nor incoming()`);
    }
  });
  return interceptors as Interceptor[];
}

/** The `side` hooks of `interceptors`, in order, bound to their objects. */
function hooks<C>(interceptors: readonly Interceptor[], side: "outgoing" | "incoming"): Around<C>[] {
  const out: Around<C>[] = [];
  for (const i of interceptors) {
    const hook = i[side] as Around<C> | undefined;
    if (hook) out.push(hook.bind(i));
  }
  return out;
}

/** Runs `last` inside `chain`, the first hook outermost. */
function run<C>(chain: readonly Around<C>[], call: C, last: () => Promise<unknown>): Promise<unknown> {
  const step = (at: number): Promise<unknown> => {
    if (at === chain.length) return last();
    let called = false;
    return (chain[at] as Around<C>)(call, () => {
      if (called) return Promise.reject(new InvalidArgumentError("an interceptor called next() twice"));
      called = true;
      return step(at + 1);
    });
  };
  try {
    return step(0);
  } catch (err) {
    // an interceptor that throws instead of rejecting refuses the call all the same
    return Promise.reject(err);
  }
}

/**
 * What runs an outgoing call through the connection's interceptors:
 * undefined when none has an `outgoing` hook (the caller then calls directly).
 */
export type OutgoingChain = (call: OutgoingCall, send: (call: OutgoingCall) => Promise<unknown>) => Promise<unknown>;

export function outgoingChain(interceptors: readonly Interceptor[]): OutgoingChain | undefined {
  const chain = hooks<OutgoingCall>(interceptors, "outgoing");
  if (chain.length === 0) return undefined;
  return (call, send) => run(chain, call, () => send(call));
}

/**
 * `handler` wrapped in the `incoming` hooks of `interceptors` (outermost
 * first), or `handler` itself when there is none. `describe` says what the
 * interceptors see of one delivery.
 */
export function intercepted<A extends unknown[], R>(
  interceptors: readonly Interceptor[],
  handler: (...args: A) => R,
  describe: (...args: A) => IncomingCall,
): (...args: A) => R | Promise<unknown> {
  const chain = hooks<IncomingCall>(interceptors, "incoming");
  if (chain.length === 0) return handler;
  return (...args: A) => {
    let call: IncomingCall;
    try {
      call = describe(...args);
    } catch (err) {
      // unreadable input (malformed headers): refused like an interceptor's throw, never thrown at a NATS callback
      return Promise.reject(err);
    }
    return run(chain, call, async () => handler(...args));
  };
}

/** What an `incoming` hook sees of one delivery. */
export function incomingCall(
  kind: IncomingKind,
  target: string,
  method: string | undefined,
  payload: Uint8Array,
  headers: MsgHdrs | undefined,
): IncomingCall {
  return { kind, target, method, payload, headers };
}

/** An outgoing call whose headers are made only when an interceptor reads them. */
class LazyCall implements OutgoingCall {
  made: MsgHdrs | undefined;

  constructor(
    readonly kind: OutgoingKind,
    readonly target: string,
    readonly method: string | undefined,
    public payload: Uint8Array,
    readonly timeout: number | undefined,
  ) {}

  get headers(): MsgHdrs {
    this.made ??= newHeaders();
    return this.made;
  }
}

/** What an `outgoing` hook sees of one call. */
export function outgoingCall(
  kind: OutgoingKind,
  target: string,
  method: string | undefined,
  payload: Uint8Array,
  timeout: number | undefined,
): OutgoingCall {
  return new LazyCall(kind, target, method, payload, timeout);
}

/** The headers interceptors set on `call`; undefined when none read them (the call goes out as without interceptors). */
export function headersOf(call: OutgoingCall): MsgHdrs | undefined {
  return call instanceof LazyCall ? call.made : call.headers;
}
