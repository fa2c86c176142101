import type { MeterProvider, TracerProvider } from "@opentelemetry/api";
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
