import { AsyncLocalStorage } from 'node:async_hooks';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, defaultTextMapGetter, trace, type Context, type Span } from '@opentelemetry/api';
import { ExportResultCode, W3CTraceContextPropagator, type ExportResult } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler, TracerProvider, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import type { Logger } from 'pino';
import type { SpanAttributes, SpanOptions, TraceSpan, Tracing, TracingSettings } from './index.js';

// Loaded only when tracing is on (see startTracing). Nothing here is registered globally
// (no global tracer provider, context manager or propagator): each service owns its tracer, and
// the active span travels in this module's own AsyncLocalStorage, so two services in one
// process (the tests) keep their traces apart.

const defaultEndpoint = 'http://localhost:4318';

/** The exporter, telling the log when a batch of spans could not be delivered (once until one is). */
class LoggedExporter implements SpanExporter {
  private failing = false;

  constructor(
    private readonly inner: SpanExporter,
    private readonly logger: Logger,
    private readonly url: string,
  ) {}

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.inner.export(spans, (result) => {
      if (result.code !== ExportResultCode.SUCCESS && !this.failing) {
        this.logger.warn({ err: result.error, url: this.url, spans: spans.length }, 'could not export traces to the OTLP endpoint; spans are dropped until it answers');
      }
      this.failing = result.code !== ExportResultCode.SUCCESS;
      done(result);
    });
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}

class OtelSpan implements TraceSpan {
  readonly context: Context;
  private ended = false;

  constructor(
    readonly span: Span,
    parentContext: Context,
  ) {
    this.context = trace.setSpan(parentContext, span);
  }

  get traceId(): string {
    return this.span.spanContext().traceId;
  }

  get traceparent(): string {
    const { traceId, spanId, traceFlags } = this.span.spanContext();
    return `00-${traceId}-${spanId}-${(traceFlags & 0xff).toString(16).padStart(2, '0')}`;
  }

  setAttributes(attributes: SpanAttributes): void {
    for (const name in attributes) {
      const value = attributes[name];
      if (value !== undefined) this.span.setAttribute(name, value);
    }
  }

  fail(error: unknown): void {
    const kind = errorKind(error);
    this.span.setAttribute('error.type', kind);
    this.span.setStatus({ code: SpanStatusCode.ERROR, message: kind });
    this.end();
  }

  end(endTimeMs?: number): void {
    if (this.ended) return;
    this.ended = true;
    this.span.end(endTimeMs);
  }
}

/** An error's code (ApiError, Node's errno errors) or class name: never its message. */
function errorKind(error: unknown): string {
  const { code, name } = (error ?? {}) as { code?: unknown; name?: unknown };
  if (typeof code === 'string' && code) return code;
  return typeof name === 'string' && name ? name : 'Error';
}

export function createOtelTracing(settings: TracingSettings, logger: Logger): Tracing {
  const url = `${(settings.otlp_endpoint ?? defaultEndpoint).replace(/\/+$/, '')}/v1/traces`;
  const exporter = new LoggedExporter(new OTLPTraceExporter({ url }), logger, url);
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: settings.service_name }),
    // A caller's decision (the traceparent's sampled flag) is followed; new traces are sampled at the ratio.
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(settings.sample_ratio) }),
    spanProcessors: [new BatchSpanProcessor({ exporter })],
  });
  const tracer = provider.getTracer('llmsvc');
  const propagator = new W3CTraceContextPropagator();
  const active = new AsyncLocalStorage<OtelSpan>();
  logger.info({ url, serviceName: settings.service_name, sampleRatio: settings.sample_ratio }, 'tracing on: spans go to the OTLP endpoint');

  function start(name: string, kind: SpanKind, parentContext: Context, options: SpanOptions = {}): OtelSpan {
    const span = tracer.startSpan(name, { kind, ...(options.startTimeMs !== undefined && { startTime: options.startTimeMs }) }, parentContext);
    const wrapped = new OtelSpan(span, parentContext);
    if (options.attributes) wrapped.setAttributes(options.attributes);
    return wrapped;
  }

  return {
    startServerSpan(name, traceparent, attributes) {
      const parentContext = traceparent ? propagator.extract(ROOT_CONTEXT, { traceparent }, defaultTextMapGetter) : ROOT_CONTEXT;
      return start(name, SpanKind.SERVER, parentContext, { attributes });
    },
    startSpan(name, options = {}) {
      const parent = (options.parent as OtelSpan | undefined) ?? active.getStore();
      return start(name, options.client ? SpanKind.CLIENT : SpanKind.INTERNAL, parent?.context ?? ROOT_CONTEXT, options);
    },
    withActive(span, work) {
      return active.run(span as OtelSpan, work);
    },
    async shutdown() {
      await provider.shutdown();
    },
  };
}
