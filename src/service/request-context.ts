import type { MsgHdrs } from "@nats-io/nats-core";
import type { RequestContext } from "../api/index.js";

/**
 * A request's context. Its AbortSignal is made only when a handler asks for
 * it (most never do): one controller of the request's own, aborted by the
 * dispatcher at the caller's deadline or when the service stops, and let go
 * when the handler ends. Nothing is added to a long-lived signal per request.
 */
export class RequestContextImpl implements RequestContext {
  #controller: AbortController | undefined;
  #deadline: number | undefined;

  constructor(
    readonly cluster: string,
    readonly subject: string,
    readonly method: string | undefined,
    readonly headers: MsgHdrs | undefined,
    /** When the caller gives up, on the monotonic clock (performance.now()); Infinity when it sent no time-out. */
    readonly due: number,
    /** Called once, when the handler first asks for the signal. */
    private readonly watch: (ctx: RequestContextImpl) => void,
  ) {}

  /** The wall-clock time of `due`, fixed when first read. */
  get deadline(): number {
    this.#deadline ??= this.due === Number.POSITIVE_INFINITY ? this.due : Date.now() + (this.due - performance.now());
    return this.#deadline;
  }

  remaining(): number {
    return Math.max(0, this.due - performance.now());
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      this.watch(this);
    }
    return this.#controller.signal;
  }

  /** Whether a handler asked for the signal. */
  get watched(): boolean {
    return this.#controller !== undefined;
  }

  abort(reason: Error): void {
    this.#controller?.abort(reason);
  }
}
