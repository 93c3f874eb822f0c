import type { Generation, GenerationEvent } from '../providers/types.js';
import { nowMs, type SpanAttributes, type TraceSpan, type Tracing } from './index.js';

/** Attribute names: OpenTelemetry's GenAI conventions where they have one, llmsvc.* otherwise. */
export const attributeNames = {
  model: 'gen_ai.request.model',
  inputTokens: 'gen_ai.usage.input_tokens',
  outputTokens: 'gen_ai.usage.output_tokens',
  ttftMs: 'llmsvc.ttft_ms',
  upstream: 'llmsvc.upstream',
  retry: 'llmsvc.retry',
  cacheHit: 'llmsvc.cache.hit',
  cacheBypass: 'llmsvc.cache.bypass',
  queuedMs: 'llmsvc.queue.wait_ms',
} as const;

/** Span names, one per step of a request. */
export const spanNames = {
  auth: 'llmsvc.auth',
  cacheLookup: 'llmsvc.cache.lookup',
  upstreamAttempt: 'llmsvc.upstream.attempt',
  generation: 'llmsvc.generation',
  queue: 'llmsvc.queue',
} as const;

/** Runs `start` (one upstream attempt, or a local generation) under a span that lasts until the
 *  generation's stream ends, fails or is abandoned. The span gets the time to the first token, the
 *  token counts and, for a local generation, a child span for its wait in the fair queue (the
 *  runtime thread reports it with the end). Text passes through untouched and is never recorded. */
export async function tracedGeneration(
  tracing: Tracing,
  name: string,
  attributes: SpanAttributes,
  start: (span: TraceSpan) => Promise<Generation>,
  client = false,
): Promise<Generation> {
  const startedAt = nowMs();
  const span = tracing.startSpan(name, { attributes, client, startTimeMs: startedAt });
  let generation: Generation;
  try {
    generation = await start(span);
  } catch (error) {
    span.fail(error);
    throw error;
  }
  span.setAttributes({ [attributeNames.inputTokens]: generation.promptTokens });
  return { ...generation, events: observed(tracing, span, generation.events, startedAt) };
}

async function* observed(tracing: Tracing, span: TraceSpan, events: AsyncIterable<GenerationEvent>, startedAt: number): AsyncGenerator<GenerationEvent> {
  // The generation starts running when its events are first read (see Generation).
  const runningAt = nowMs();
  let firstToken = true;
  try {
    for await (const event of events) {
      if (event.type === 'end') {
        span.setAttributes({
          [attributeNames.outputTokens]: event.completionTokens,
          ...(event.promptTokens !== undefined && { [attributeNames.inputTokens]: event.promptTokens }),
        });
        if (event.queuedMs !== undefined) queueSpan(tracing, span, runningAt, event.queuedMs);
      } else if (firstToken) {
        firstToken = false;
        span.setAttributes({ [attributeNames.ttftMs]: Math.round((nowMs() - startedAt) * 100) / 100 });
      }
      yield event;
    }
  } catch (error) {
    span.fail(error);
    throw error;
  } finally {
    span.end();
  }
}

/** The wait for a sequence, placed from when the generation started running. */
function queueSpan(tracing: Tracing, parent: TraceSpan, from: number, queuedMs: number): void {
  const queue = tracing.startSpan(spanNames.queue, { parent, startTimeMs: from, attributes: { [attributeNames.queuedMs]: Math.round(queuedMs * 100) / 100 } });
  queue.end(from + queuedMs);
}
