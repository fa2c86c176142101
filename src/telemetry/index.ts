/** OpenTelemetry: spans, propagation and metrics. */
export {
  ATTR,
  endSpan,
  errorType,
  fitsWith,
  type Observer,
  runInSpan,
  SpanKind,
  Telemetry,
  withSpan,
} from "./telemetry.js";
