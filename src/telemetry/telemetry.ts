/**
 * Traces and metrics through `@opentelemetry/api` only: the SDK is the
 * application's choice. With no tracer provider registered, no span is made
 * and no header added; with no meter provider, no measurement is taken.
 *
 * Spans follow the OpenTelemetry messaging conventions (`messaging.system =
 * nats`, destination, operation, body size, `error.type`). W3C trace context
 * travels in NATS headers through the registered propagator: one-to-one calls
 * (requests, tunnel set-up) make the remote span a child, one-to-many messages
 * (broadcasts, events) link each handler's span to the sender's.
 */
import { type MsgHdrs, MsgHdrsImpl } from "@nats-io/nats-core";
import {
  type Attributes,
  type BatchObservableResult,
  type Context,
  context,
  createNoopMeter,
  type Histogram,
  type Link,
  type Meter,
  metrics,
  type ObservableCounter,
  type ObservableUpDownCounter,
  ProxyTracerProvider,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  type TextMapSetter,
  type Tracer,
  type TracerProvider,
  trace,
} from "@opentelemetry/api";
import type { TelemetryOptions } from "../api/index.js";
import { VERSION } from "../config/index.js";

const NAME = "jetmesh";

/** The provider the global proxy hands to until an SDK registers one. */
const NOOP_TRACER_PROVIDER = new ProxyTracerProvider().getDelegate();

/** Attribute names, as the OpenTelemetry messaging conventions spell them (plus jetmesh's own). */
export const ATTR = {
  system: "messaging.system",
  destination: "messaging.destination.name",
  operationType: "messaging.operation.type",
  operationName: "messaging.operation.name",
  bodySize: "messaging.message.body.size",
  messageId: "messaging.message.id",
  seq: "jetmesh.seq",
  consumerGroup: "messaging.consumer.group.name",
  deliveries: "messaging.nats.delivery_count",
  errorType: "error.type",
  cluster: "jetmesh.cluster",
  topic: "jetmesh.topic",
  member: "jetmesh.member.id",
  kind: "jetmesh.kind",
  direction: "jetmesh.direction",
  tunnel: "jetmesh.tunnel.id",
} as const;

const setter: TextMapSetter<MsgHdrs> = {
  set(carrier, key, value) {
    carrier.set(key, value);
  },
};

const getter: TextMapGetter<MsgHdrs> = {
  get(carrier, key) {
    const v = carrier.get(key);
    return v === "" ? undefined : v;
  },
  keys(carrier) {
    return carrier.keys();
  },
};

/** Observes `value` of one in-process counter for `instrument`, with `attributes`. */
export type Observation = (instrument: keyof Instruments, value: number, attributes: Attributes) => void;

/** Something that reports its counters when metrics are collected. */
export type Observer = (observe: Observation) => void;

interface Instruments {
  handlersActive: ObservableUpDownCounter;
  queuedBytes: ObservableUpDownCounter;
  requests: ObservableCounter;
  requestErrors: ObservableCounter;
  overloaded: ObservableCounter;
  broadcasts: ObservableCounter;
  dropped: ObservableCounter;
  events: ObservableCounter;
  tunnelBytes: ObservableCounter;
}

/**
 * The instruments of one meter, shared by every connection that reports to
 * it: one collection sums what all of them observe under the same attributes
 * (two connections subscribed to one topic report one total).
 */
class MeterState {
  readonly clientDuration: Histogram;
  readonly serverDuration: Histogram;
  readonly observers = new Set<Observer>();
  readonly #instruments: Instruments;

  constructor(m: Meter) {
    const seconds = { unit: "s", advice: { explicitBucketBoundaries: DURATION_BUCKETS } };
    this.clientDuration = m.createHistogram("jetmesh.client.request.duration", {
      ...seconds,
      description: "Time from sending a request to its reply or failure, at the caller.",
    });
    this.serverDuration = m.createHistogram("jetmesh.server.request.duration", {
      ...seconds,
      description: "Time a request handler took, at the member.",
    });
    const instruments: Instruments = {
      handlersActive: m.createObservableUpDownCounter("jetmesh.handlers.active", {
        description: "Handler calls running now.",
      }),
      queuedBytes: m.createObservableUpDownCounter("jetmesh.queue.bytes", {
        unit: "By",
        description: "Bytes of messages waiting for a handler, per limit.",
      }),
      requests: m.createObservableCounter("jetmesh.server.requests", {
        description: "Requests handed to a handler.",
      }),
      requestErrors: m.createObservableCounter("jetmesh.server.request.errors", {
        description: "Requests whose handler failed or that could not be understood.",
      }),
      overloaded: m.createObservableCounter("jetmesh.server.requests.overloaded", {
        description: "Requests answered OverloadedError because the queue was full.",
      }),
      broadcasts: m.createObservableCounter("jetmesh.broadcasts.handled", {
        description: "Broadcasts handed to a handler.",
      }),
      dropped: m.createObservableCounter("jetmesh.broadcasts.dropped", {
        description: "Broadcasts dropped because the queue was full.",
      }),
      events: m.createObservableCounter("jetmesh.events.delivered", {
        description: "Topic events handed to a handler.",
      }),
      tunnelBytes: m.createObservableCounter("jetmesh.tunnel.bytes", {
        unit: "By",
        description: "Tunnel message bytes sent and received.",
      }),
    };
    this.#instruments = instruments;
    m.addBatchObservableCallback((result) => this.#collect(result), Object.values(instruments));
  }

  #collect(result: BatchObservableResult): void {
    const sums = new Map<string, { name: keyof Instruments; value: number; attributes: Attributes }>();
    const observe: Observation = (name, value, attributes) => {
      const key = `${name}\u0000${JSON.stringify(attributes)}`;
      const known = sums.get(key);
      if (known) known.value += value;
      else sums.set(key, { name, value, attributes });
    };
    for (const o of this.observers) o(observe);
    for (const { name, value, attributes } of sums.values()) result.observe(this.#instruments[name], value, attributes);
  }
}

const meterStates = new WeakMap<Meter, MeterState>();

export class Telemetry {
  readonly #provider: TracerProvider;
  readonly tracer: Tracer;
  /** Undefined when no meter provider is registered. */
  readonly clientDuration: Histogram | undefined;
  readonly serverDuration: Histogram | undefined;
  readonly #meter: MeterState | undefined;
  /** This connection's observers (removed from the meter when it closes). */
  readonly #observers = new Set<Observer>();

  constructor(options: TelemetryOptions = {}) {
    this.#provider = options.tracerProvider ?? trace.getTracerProvider();
    this.tracer = this.#provider.getTracer(NAME, VERSION);
    const meter = (options.meterProvider ?? metrics.getMeterProvider()).getMeter(NAME, VERSION);
    if (meter === createNoopMeter()) return;
    let state = meterStates.get(meter);
    if (state === undefined) {
      state = new MeterState(meter);
      meterStates.set(meter, state);
    }
    this.#meter = state;
    this.clientDuration = state.clientDuration;
    this.serverDuration = state.serverDuration;
  }

  /** Whether spans can be recorded: a tracer provider is registered. Checked per call, so a later SDK counts. */
  get tracing(): boolean {
    const p = this.#provider;
    return !(p instanceof ProxyTracerProvider) || p.getDelegate() !== NOOP_TRACER_PROVIDER;
  }

  /** Reports `observer`'s counters whenever metrics are collected, until the connection closes. */
  observe(observer: Observer): void {
    if (this.#meter === undefined) return;
    this.#observers.add(observer);
    this.#meter.observers.add(observer);
  }

  /** Stops reporting (the connection closed). */
  close(): void {
    for (const o of this.#observers) this.#meter?.observers.delete(o);
    this.#observers.clear();
  }

  /**
   * Starts a messaging span named `<operation> <target>`, a child of `parent`
   * (default: the active context), with `links`.
   */
  start(
    operation: string,
    target: string,
    kind: SpanKind,
    attributes: Attributes,
    parent: Context = context.active(),
    links?: Link[],
  ): Span {
    return this.tracer.startSpan(
      `${operation} ${target}`,
      links
        ? { kind, attributes: { [ATTR.system]: "nats", [ATTR.operationName]: operation, ...attributes }, links }
        : { kind, attributes: { [ATTR.system]: "nats", [ATTR.operationName]: operation, ...attributes } },
      parent,
    );
  }

  /** Whether `span` has a context worth sending (a recorded or sampled-out span, not the no-op one). */
  carries(span: Span): boolean {
    return trace.isSpanContextValid(span.spanContext());
  }

  /**
   * Writes `span`'s context into `headers` when the message still fits the
   * server's max payload (`max`, undefined when unknown) with it; otherwise
   * leaves `headers` as they were: tracing never makes a send fail. Returns
   * whether the context went in.
   */
  injectFitting(span: Span, headers: MsgHdrs, payload: Uint8Array, max: number | undefined): boolean {
    if (!this.carries(span)) return false;
    const before = new Set(headers.keys());
    this.inject(span, headers);
    if (fitsWith(headers, payload, max)) return true;
    for (const key of headers.keys()) if (!before.has(key)) headers.delete(key);
    return false;
  }

  /** Writes `span`'s context (and the active baggage) into `headers`. */
  inject(span: Span, headers: MsgHdrs, parent: Context = context.active()): void {
    propagation.inject(trace.setSpan(parent, span), headers, setter);
  }

  /**
   * The trace context a message carries (the root context when it carries
   * none, or headers that cannot be read: those are the dispatcher's to report).
   */
  extract(msg: { readonly headers?: MsgHdrs | undefined }): Context {
    let headers: MsgHdrs | undefined;
    try {
      headers = msg.headers;
    } catch {
      return ROOT_CONTEXT;
    }
    if (headers === undefined) return ROOT_CONTEXT;
    return propagation.extract(ROOT_CONTEXT, headers, getter);
  }

  /** A link to the span a message was sent in, if it carries one. */
  #linkFrom(msg: { readonly headers?: MsgHdrs | undefined }): Link[] | undefined {
    const sc = trace.getSpanContext(this.extract(msg));
    return sc && trace.isSpanContextValid(sc) ? [{ context: sc }] : undefined;
  }

  /**
   * Starts the span of a handler of a one-to-many message (a broadcast or an
   * event): a root of its own, linked to the sender's span.
   */
  startConsumer(target: string, msg: { readonly headers?: MsgHdrs | undefined }, attributes: Attributes): Span {
    return this.start(
      "process",
      target,
      SpanKind.CONSUMER,
      { [ATTR.operationType]: "process", ...attributes },
      ROOT_CONTEXT,
      this.#linkFrom(msg),
    );
  }
}

/** Bucket bounds of the duration histograms, in seconds: 100 µs to 10 s. */
const DURATION_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/**
 * Whether a message of `payload` bytes with `headers` (or their encoded bytes) fits the server's max
 * payload (`max`, undefined when unknown). Trace context is left out of a
 * message it would push over the limit: tracing never makes a send fail.
 */
export function fitsWith(headers: MsgHdrs | Uint8Array, payload: Uint8Array, max: number | undefined): boolean {
  if (max === undefined) return true;
  const size =
    headers instanceof Uint8Array
      ? headers.byteLength
      : headers instanceof MsgHdrsImpl
        ? headers.encode().byteLength
        : 0;
  return payload.byteLength + size <= max;
}

/** Ends `span`, with an error status (and `error.type`, default {@link errorType}) when `err` is given. */
export function endSpan(span: Span, err?: unknown, type?: string): void {
  if (err !== undefined) failSpan(span, err, type);
  span.end();
}

/** Marks `span` failed by `err`. */
function failSpan(span: Span, err: unknown, type = errorType(err)): void {
  const e = err instanceof Error ? err : new Error(String(err));
  span.recordException(e);
  span.setAttribute(ATTR.errorType, type);
  span.setStatus({ code: SpanStatusCode.ERROR, message: e.message });
}

/** The `error.type` of a failure: jetmesh's code (the remote code of a RemoteError), else the error's name. */
export function errorType(err: unknown): string {
  if (typeof err === "object" && err !== null) {
    const { remoteCode, code, name } = err as { remoteCode?: unknown; code?: unknown; name?: unknown };
    if (code === "REMOTE" && typeof remoteCode === "string") return remoteCode;
    if (typeof code === "string") return code;
    if (typeof name === "string") return name;
  }
  return "_OTHER";
}

/** Runs `fn` with `span` as the active span (so spans the handler makes are its children). */
export function withSpan<T>(span: Span, fn: () => T, parent: Context = context.active()): T {
  return context.with(trace.setSpan(parent, span), fn);
}

/**
 * Runs `fn` with `span` (a root span) active and ends it once `fn` is done: failed
 * with what it threw or rejected with, which is passed on. Always returns a
 * promise (of `fn`'s result).
 */
export function runInSpan(span: Span, fn: () => unknown): Promise<unknown> {
  let out: unknown;
  try {
    out = withSpan(span, fn, ROOT_CONTEXT);
  } catch (err) {
    endSpan(span, err);
    return Promise.reject(err);
  }
  return Promise.resolve(out).then(
    (value) => {
      endSpan(span);
      return value;
    },
    (err: unknown) => {
      endSpan(span, err);
      throw err;
    },
  );
}

export { SpanKind };
