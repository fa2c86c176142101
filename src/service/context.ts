import type { MsgHdrs } from "@nats-io/nats-core";
import type { RequestContext } from "./types.js";

/** A request's context; its AbortSignal is only built when a handler asks for it. */
export class RequestContextImpl implements RequestContext {
  #signal: AbortSignal | undefined;

  constructor(
    readonly cluster: string,
    readonly subject: string,
    readonly headers: MsgHdrs | undefined,
    readonly deadline: number,
    private readonly stopped: AbortSignal,
  ) {}

  remaining(): number {
    return Math.max(0, this.deadline - Date.now());
  }

  get signal(): AbortSignal {
    if (this.#signal === undefined) {
      this.#signal =
        this.deadline === Number.POSITIVE_INFINITY
          ? this.stopped
          : AbortSignal.any([this.stopped, AbortSignal.timeout(Math.max(1, this.remaining()))]);
    }
    return this.#signal;
  }
}
