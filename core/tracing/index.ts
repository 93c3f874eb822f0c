import type { Logger } from 'pino';
import type { Config } from '../config/index.js';

// The tracing facade the rest of llmsvc talks to. It imports nothing from OpenTelemetry: with
// tracing off (the default) no OTel module is loaded and every hook is skipped where it checks
// for a Tracing (`tracing?.…`), so an untraced request pays a few property checks. With tracing
// on, otel.ts (the SDK, the OTLP exporter) is loaded once at start.

/** Span attributes: numbers, strings and flags only; never prompt or completion text. */
export type SpanAttributes = Record<string, string | number | boolean | undefined>;

export interface TraceSpan {
  /** The trace's id (32 hex digits), for the log lines of the request. */
  readonly traceId: string;
  /** The W3C traceparent header naming this span as the parent, for an outgoing request. */
  readonly traceparent: string;
  setAttributes(attributes: SpanAttributes): void;
  /** Marks the span failed with the error's kind (its code or class name; not its message, which
   *  may quote an upstream's answer). */
  fail(error: unknown): void;
  /** Ends the span now, or at `endTimeMs` (epoch ms). Ending twice is harmless. */
  end(endTimeMs?: number): void;
}

export interface SpanOptions {
  attributes?: SpanAttributes;
  /** The parent (default: the span active in this async context; none: a new trace). */
  parent?: TraceSpan;
  /** Epoch ms (default: now). */
  startTimeMs?: number;
}

export interface Tracing {
  /** The span of one incoming request: a child of the caller's span when `traceparent` is a valid
   *  W3C header, else the root of a new trace. */
  startServerSpan(name: string, traceparent: string | undefined, attributes?: SpanAttributes): TraceSpan;
  /** An internal span (auth, cache, queue, generation) or, with `client`, an outgoing call. */
  startSpan(name: string, options?: SpanOptions & { client?: boolean }): TraceSpan;
  /** Runs `work` with `span` active: spans started inside it (after awaits too) are its children. */
  withActive<T>(span: TraceSpan, work: () => T): T;
  /** Exports what is still buffered and stops the exporter. */
  shutdown(): Promise<void>;
}

export type TracingSettings = Config['tracing'];

/** The tracer of a service, or undefined when tracing is off (then the SDK is never loaded). */
export async function startTracing(settings: TracingSettings, logger: Logger): Promise<Tracing | undefined> {
  if (!settings.enabled) return undefined;
  const { createOtelTracing } = await import('./otel.js');
  return createOtelTracing(settings, logger);
}

/** Epoch milliseconds with sub-millisecond precision (what span start and end times take). */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}
