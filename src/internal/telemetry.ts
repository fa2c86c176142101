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
import type { MsgHdrs } from "@nats-io/nats-core";
import {
  type Attributes,
  type BatchObservableResult,
  type Context,
  context,
  createNoopMeter,
  type Histogram,
  type Link,
  type Meter,
  type MeterProvider,
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

const NAME = "jetmesh";
const VERSION = "0.1.0";

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

/** Options of {@link connect} that pick where traces and metrics go. */
export interface TelemetryOptions {
  /** Where spans go. Default: the global tracer provider (`trace.setGlobalTracerProvider`, or an SDK's `start()`). */
  tracerProvider?: TracerProvider;
  /**
   * Where metrics go. Default: the global meter provider, as it is when the
   * connection is made (register the SDK before connecting).
   */
  meterProvider?: MeterProvider;
}

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

export class Telemetry {
  readonly #provider: TracerProvider;
  readonly tracer: Tracer;
  /** Undefined when no meter provider is registered. */
  readonly meter: Meter | undefined;
  readonly clientDuration: Histogram | undefined;
  readonly serverDuration: Histogram | undefined;
  readonly #observers = new Set<Observer>();
  readonly #instruments: Instruments | undefined;
  readonly #collect = (result: BatchObservableResult): void => {
    const instruments = this.#instruments;
    if (instruments === undefined) return;
    const observe: Observation = (name, value, attributes) => result.observe(instruments[name], value, attributes);
    for (const o of this.#observers) o(observe);
  };

  constructor(options: TelemetryOptions = {}) {
    this.#provider = options.tracerProvider ?? trace.getTracerProvider();
    this.tracer = this.#provider.getTracer(NAME, VERSION);
    const meter = (options.meterProvider ?? metrics.getMeterProvider()).getMeter(NAME, VERSION);
    this.meter = meter === createNoopMeter() ? undefined : meter;
    if (this.meter === undefined) return;
    const m = this.meter;
    const seconds = { unit: "s", advice: { explicitBucketBoundaries: DURATION_BUCKETS } };
    this.clientDuration = m.createHistogram("jetmesh.client.request.duration", {
      ...seconds,
      description: "Time from sending a request to its reply or failure, at the caller.",
    });
    this.serverDuration = m.createHistogram("jetmesh.server.request.duration", {
      ...seconds,
      description: "Time a request handler took, at the member.",
    });
    this.#instruments = {
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
    m.addBatchObservableCallback(this.#collect, Object.values(this.#instruments));
  }

  /** Whether spans can be recorded: a tracer provider is registered. Checked per call, so a later SDK counts. */
  get tracing(): boolean {
    const p = this.#provider;
    return !(p instanceof ProxyTracerProvider) || p.getDelegate() !== NOOP_TRACER_PROVIDER;
  }

  /** Reports `observer`'s counters whenever metrics are collected, until the returned function is called. */
  observe(observer: Observer): () => void {
    if (this.#instruments === undefined) return () => {};
    this.#observers.add(observer);
    return () => this.#observers.delete(observer);
  }

  /** Stops reporting (the connection closed). */
  close(): void {
    this.#observers.clear();
    if (this.meter && this.#instruments) {
      this.meter.removeBatchObservableCallback(this.#collect, Object.values(this.#instruments));
    }
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

  /** Writes `span`'s context (and the active baggage) into `headers`. */
  inject(span: Span, headers: MsgHdrs, parent: Context = context.active()): void {
    propagation.inject(trace.setSpan(parent, span), headers, setter);
  }

  /** The trace context a message carries (the root context when it carries none). */
  extract(headers: MsgHdrs | undefined): Context {
    if (headers === undefined) return ROOT_CONTEXT;
    return propagation.extract(ROOT_CONTEXT, headers, getter);
  }

  /** A link to the span a message was sent in, if it carries one. */
  linkFrom(headers: MsgHdrs | undefined): Link[] | undefined {
    const sc = trace.getSpanContext(this.extract(headers));
    return sc && trace.isSpanContextValid(sc) ? [{ context: sc }] : undefined;
  }
}

/** Bucket bounds of the duration histograms, in seconds: 100 µs to 10 s. */
const DURATION_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/** Ends `span`, with an error status (and `error.type`, default {@link errorType}) when `err` is given. */
export function endSpan(span: Span, err?: unknown, type?: string): void {
  if (err !== undefined) failSpan(span, err, type);
  span.end();
}

/** Marks `span` failed by `err`. */
export function failSpan(span: Span, err: unknown, type = errorType(err)): void {
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
 * Runs `fn` with `span` active and ends the span once `fn` is done: failed
 * with what it threw or rejected with, which is passed on. Always returns a
 * promise (of `fn`'s result).
 */
export function runInSpan(span: Span, fn: () => unknown): Promise<unknown> {
  let out: unknown;
  try {
    out = withSpan(span, fn);
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
