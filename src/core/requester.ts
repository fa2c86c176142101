/**
 * Requests over the connection's shared reply subscription (see
 * {@link Correlator}): headers encoded once per time-out value, no per-call
 * stack capture. Replies, no-responder answers and remote errors are matched
 * here.
 */
import { headers, type Msg, type MsgHdrs } from "@nats-io/nats-core";
import { DEFAULTS } from "../config/index.js";
import { fromNatsError, type JetmeshError, TimeoutError } from "../errors/index.js";
import { errorOfReply, FrozenHeaders, HEADER } from "../wire/index.js";
import { Correlator, type Pending } from "./correlator.js";
import type { Wiring } from "./wiring.js";

/** Distinct time-out values whose headers are kept encoded. */
const MAX_CACHED_HEADERS = 256;

interface PendingRequest extends Pending {
  resolve(value: unknown): void;
  cluster: string;
  /** Turns the reply's bytes into what the call resolves with (a typed client's decode); may throw. */
  decode: ((data: Uint8Array) => unknown) | undefined;
}

/** Turns a reply's bytes into what a request resolves with. */
export type ReplyDecoder = ((data: Uint8Array) => unknown) | undefined;

const encoder = new TextEncoder();

/** The settle functions of the promise made last with {@link capture}. */
const captured: { resolve: (value: unknown) => void; reject: (reason: unknown) => void } = {
  resolve: () => {},
  reject: () => {},
};

/**
 * A promise executor that hands its settle functions over in `captured`, read
 * right after `new Promise(capture)`. Done for speed: an executor written
 * inline is a closure made per request, over everything the request holds.
 */
function capture(resolve: (value: Uint8Array) => void, reject: (reason: unknown) => void): void {
  captured.resolve = resolve as (value: unknown) => void;
  captured.reject = reject;
}

export class Requester extends Correlator<PendingRequest> {
  /** The deadline header of each time-out in use, encoded once. */
  readonly #headers = new Map<number, FrozenHeaders>();
  /** The deadline header of the time-out used last. */
  #lastTimeout = 0;
  #lastHeaders: FrozenHeaders | undefined;
  /** The most bytes the headers of a request take (its deadline): its payload may be the server's max less these. */
  readonly headerBytes = FrozenHeaders.of({ [HEADER.timeout]: String(DEFAULTS.maxTimeout) }).encode().byteLength;

  constructor(
    wiring: Wiring,
    /** Where a cancellation of a request to `cluster` goes. */
    private readonly cancelSubject: (cluster: string) => string,
  ) {
    super(wiring);
  }

  /**
   * Tells the members of every cluster with a request in flight that this
   * connection gives them all up (it is closing): one message per cluster,
   * best effort.
   */
  cancelAll(): void {
    const clusters = new Set<string>();
    for (const p of this.pending.values()) clusters.add(p.cluster);
    for (const cluster of clusters) this.cancel(cluster, this.prefix);
  }

  /** The caller's signal aborted the request: its member is told, so its handler can stop. */
  protected override aborted(id: string, p: PendingRequest): void {
    this.cancel(p.cluster, this.prefix + id);
  }

  /**
   * Tells the members of `cluster` that the requests answered on `target`
   * (a reply subject, or a prefix ending in `.`) are given up; best effort.
   */
  cancel(cluster: string, target: string): void {
    try {
      this.nc.publish(this.cancelSubject(cluster), encoder.encode(target));
    } catch (err) {
      this.logger.debug({ cluster, err }, "cancellation could not be sent");
    }
  }

  request(
    subject: string,
    cluster: string,
    payload: Uint8Array,
    timeout: number,
    signal: AbortSignal | undefined,
    hdrs?: MsgHdrs,
    decode?: ReplyDecoder,
  ): Promise<Uint8Array> {
    if (this.broken) return Promise.reject(this.broken);
    const promise = new Promise<Uint8Array>(capture);
    const p: PendingRequest = {
      resolve: captured.resolve,
      reject: captured.reject,
      subject,
      cluster,
      timeout,
      signal,
      onAbort: undefined,
      decode,
    };
    let id: string | undefined;
    try {
      id = this.track(p);
      this.nc.publish(subject, payload, { reply: this.prefix + id, headers: hdrs ?? this.#headersFor(timeout) });
    } catch (err) {
      if (id !== undefined) this.settle(id);
      p.reject(fromNatsError(err, `request to cluster "${cluster}"`));
    }
    return promise;
  }

  /** Headers of a request with `timeout`, to add to (trace context); `request` encodes shared ones otherwise. */
  headersWith(timeout: number): MsgHdrs {
    const h = headers();
    h.set(HEADER.timeout, String(timeout));
    return h;
  }

  protected describe(p: PendingRequest): string {
    return `request to cluster "${p.cluster}"`;
  }

  protected timedOut(p: PendingRequest): JetmeshError {
    return new TimeoutError(`request to cluster "${p.cluster}" timed out after ${p.timeout} ms`);
  }

  protected onReply(id: string, p: PendingRequest, msg: Msg): void {
    this.settle(id);
    let failure: JetmeshError | undefined;
    try {
      failure = errorOfReply(msg.headers, p.cluster);
    } catch (cause) {
      this.logger.warn({ subject: msg.subject, cluster: p.cluster, err: cause }, "malformed reply headers");
      failure = fromNatsError(cause, `reply from cluster "${p.cluster}" had malformed headers`);
    }
    if (failure) p.reject(failure);
    else if (p.decode === undefined) p.resolve(msg.data);
    else {
      let value: unknown;
      try {
        value = p.decode(msg.data);
      } catch (err) {
        p.reject(err);
        return;
      }
      p.resolve(value);
    }
  }

  #headersFor(timeout: number): FrozenHeaders {
    // nearly every request has the connection's default time-out: no map lookup for it
    if (timeout === this.#lastTimeout && this.#lastHeaders !== undefined) return this.#lastHeaders;
    let h = this.#headers.get(timeout);
    if (h === undefined) {
      if (this.#headers.size >= MAX_CACHED_HEADERS) this.#headers.clear();
      h = FrozenHeaders.of({ [HEADER.timeout]: String(timeout) });
      this.#headers.set(timeout, h);
    }
    this.#lastTimeout = timeout;
    this.#lastHeaders = h;
    return h;
  }
}
