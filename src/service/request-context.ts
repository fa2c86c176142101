import type { MsgHdrs } from "@nats-io/nats-core";
import type { RequestContext } from "../api/index.js";

/**
 * What a context shows of its request. Its headers are read only when a
 * handler asks for them: the dispatcher may not have decoded them yet.
 */
export interface RequestSource {
  readonly subject: string;
  readonly headers: MsgHdrs | undefined;
  /** When the caller gives up, on the monotonic clock (performance.now()); Infinity when it sent no time-out. */
  readonly due: number;
}

/**
 * A request's context. Its AbortSignal is made only when a handler asks for
 * it (most never do): one controller of the request's own, aborted by the
 * dispatcher at the caller's deadline or when the service stops, and let go
 * when the handler ends. Nothing is added to a long-lived signal per request,
 * and nothing is made per request but the context itself: `watch` is the
 * dispatcher's one function for all of them.
 */
export class RequestContextImpl<S extends RequestSource = RequestSource> implements RequestContext {
  #controller: AbortController | undefined;
  #deadline: number | undefined;
  readonly #source: S;
  /** Called once, when the handler first asks for the signal. */
  readonly #watch: (source: S) => void;
  readonly subject: string;
  readonly due: number;

  constructor(
    readonly cluster: string,
    readonly method: string | undefined,
    source: S,
    watch: (source: S) => void,
  ) {
    this.#source = source;
    this.#watch = watch;
    this.subject = source.subject;
    this.due = source.due;
  }

  /** The request's NATS headers, if any (decoded on first read). */
  get headers(): MsgHdrs | undefined {
    return this.#source.headers;
  }

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
      this.#watch(this.#source);
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
