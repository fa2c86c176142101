import type { Msg, MsgHdrs } from "@nats-io/nats-core";
import type { RequestContext } from "./types.js";

/**
 * A request's context. Subject, headers and AbortSignal are only decoded or
 * built when a handler asks for them: most handlers never do.
 */
export class RequestContextImpl implements RequestContext {
  #signal: AbortSignal | undefined;

  constructor(
    readonly cluster: string,
    private readonly msg: Msg,
    readonly deadline: number,
    private readonly stopped: AbortSignal,
  ) {}

  get subject(): string {
    return this.msg.subject;
  }

  get headers(): MsgHdrs | undefined {
    return this.msg.headers;
  }

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
