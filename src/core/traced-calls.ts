/**
 * The caller's side of requests and broadcasts when a tracer or meter
 * provider is registered: a span, trace context in the headers, and the
 * request duration. The plain paths in connection.ts run otherwise.
 */
import { headers, type MsgHdrs } from "@nats-io/nats-core";
import { ATTR, endSpan, errorType, SpanKind } from "../telemetry/index.js";
import { maxPayload } from "../wire/index.js";
import type { ReplyDecoder } from "./requester.js";
import type { Runtime } from "./runtime.js";

/** One request as its caller sends it. */
export interface OutgoingRequest {
  subject: string;
  cluster: string;
  payload: Uint8Array;
  timeout: number;
  signal: AbortSignal | undefined;
  decode: ReplyDecoder;
  /** Headers to send (an interceptor's); undefined: the request's deadline alone. */
  headers: MsgHdrs | undefined;
}

export function observedRequest(rt: Runtime, call: OutgoingRequest): Promise<Uint8Array> {
  const { telemetry: t, nc, requester } = rt;
  const { subject, cluster, payload, timeout, signal, decode } = call;
  const span = t.tracing
    ? t.start("request", cluster, SpanKind.CLIENT, {
        [ATTR.destination]: subject,
        [ATTR.operationType]: "send",
        [ATTR.bodySize]: payload.byteLength,
        [ATTR.cluster]: cluster,
      })
    : undefined;
  let hdrs = call.headers;
  if (span && t.carries(span)) {
    // trace context that does not fit is left out (the deadline and an interceptor's headers are not)
    const traced = hdrs ?? requester.headersWith(timeout);
    if (t.injectFitting(span, traced, payload, maxPayload(nc))) hdrs = traced;
  }
  const histogram = t.clientDuration;
  const started = performance.now();
  const done = (err?: unknown): void => {
    if (span) endSpan(span, err);
    histogram?.record(
      (performance.now() - started) / 1000,
      err === undefined ? { [ATTR.cluster]: cluster } : { [ATTR.cluster]: cluster, [ATTR.errorType]: errorType(err) },
    );
  };
  return requester.request(subject, cluster, payload, timeout, signal, hdrs, decode).then(
    (reply) => {
      done();
      return reply;
    },
    (err: unknown) => {
      done(err);
      throw err;
    },
  );
}

export function tracedBroadcast(
  rt: Runtime,
  subject: string,
  cluster: string,
  payload: Uint8Array,
  given?: MsgHdrs,
): void {
  const { telemetry: t, nc } = rt;
  const span = t.start("broadcast", cluster, SpanKind.PRODUCER, {
    [ATTR.destination]: subject,
    [ATTR.operationType]: "send",
    [ATTR.bodySize]: payload.byteLength,
    [ATTR.cluster]: cluster,
  });
  try {
    const h = given ?? headers();
    const traced = t.injectFitting(span, h, payload, maxPayload(nc));
    if (given !== undefined || traced) {
      nc.publish(subject, payload, { headers: h });
    } else {
      nc.publish(subject, payload);
    }
    span.end();
  } catch (err) {
    endSpan(span, err);
    throw err;
  }
}
