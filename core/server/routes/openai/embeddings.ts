import type { FastifyInstance } from 'fastify';
import { ApiError } from '../../../errors/index.js';
import type { Provider } from '../../../providers/index.js';
import { parseBody } from '../../validation.js';
import { embeddingRequestSchema, type EmbeddingRequestBody } from './schemas.js';

function inputsOf(input: EmbeddingRequestBody['input']): (string | number[])[] {
  if (typeof input === 'string') return [input];
  if (input.every((item) => typeof item === 'number')) return [input as number[]];
  return input as (string | number[])[];
}

/** OpenAI's base64 encoding: the little-endian float32 bytes of the vector. */
function toBase64(vector: number[]): string {
  const floats = new Float32Array(vector);
  return Buffer.from(floats.buffer, floats.byteOffset, floats.byteLength).toString('base64');
}

/** POST /v1/embeddings. The official SDKs ask for base64 by default and decode it themselves. */
export function registerEmbeddings(app: FastifyInstance, provider: Provider): void {
  app.post('/v1/embeddings', async (request, reply) => {
    const body = parseBody(embeddingRequestSchema, request.body);
    request.accounting.model = body.model;
    const result = await provider.embed({ model: body.model, inputs: inputsOf(body.input), signal: request.abortSignal });
    const dimension = result.vectors[0]?.length ?? 0;
    if (body.dimensions !== undefined && body.dimensions !== dimension) {
      throw new ApiError(
        'LLMSVC_ERR_UNSUPPORTED_PARAM',
        `Model '${body.model}' makes ${dimension}-dimension embeddings and cannot shorten them to ${body.dimensions}. Remove 'dimensions' or set it to ${dimension}.`,
        'dimensions',
      );
    }
    request.accounting.promptTokens = result.promptTokens;
    const base64 = body.encoding_format === 'base64';
    return reply.send({
      object: 'list',
      data: result.vectors.map((vector, index) => ({ object: 'embedding', index, embedding: base64 ? toBase64(vector) : vector })),
      model: body.model,
      usage: { prompt_tokens: result.promptTokens, total_tokens: result.promptTokens },
    });
  });
}
