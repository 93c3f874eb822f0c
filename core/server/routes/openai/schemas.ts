import { z } from 'zod';
import { retrievalSchema } from '../../../rag/chatGrounding.js';
import { messageToolCallSchema, toolChoiceProblem, toolChoiceSchema, toolsSchema } from './tools.js';

/** Request bodies of the OpenAI endpoints llmsvc serves. Objects are strict, as OpenAI is:
 *  an unknown argument is a 400 that names it. Arguments OpenAI accepts that make no difference
 *  here (user, store, metadata, service_tier) are accepted and ignored. */

const textPart = z.object({ type: z.literal('text'), text: z.string() }).strict();
const messageContent = z.union([z.string(), z.array(textPart).min(1, 'give at least one content part')]);

const message = z.discriminatedUnion('role', [
  z.object({ role: z.literal('system'), content: messageContent, name: z.string().optional() }).strict(),
  z.object({ role: z.literal('developer'), content: messageContent, name: z.string().optional() }).strict(),
  z.object({ role: z.literal('user'), content: messageContent, name: z.string().optional() }).strict(),
  z
    .object({
      role: z.literal('assistant'),
      // null (or absent) when the turn only called tools.
      content: messageContent.nullish(),
      name: z.string().optional(),
      refusal: z.string().nullish(),
      tool_calls: z.array(messageToolCallSchema).nullish(),
    })
    .strict()
    .refine((m) => m.content != null || (m.tool_calls?.length ?? 0) > 0, { message: 'give content or tool_calls', path: ['content'] }),
  z.object({ role: z.literal('tool'), content: messageContent, tool_call_id: z.string().min(1, 'give the id of the tool call this answers') }).strict(),
]);

const stop = z.union([z.string(), z.array(z.string()).max(4, 'give at most 4 stop sequences')]).nullish();
const streamOptions = z.object({ include_usage: z.boolean().optional(), include_obfuscation: z.boolean().optional() }).strict().nullish();

const samplingFields = {
  model: z.string().min(1, 'name a model (GET /v1/models lists them)'),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  n: z.number().int().min(1).max(8, 'llmsvc generates at most 8 choices per request').nullish(),
  stream: z.boolean().nullish(),
  stream_options: streamOptions,
  stop,
  seed: z.number().int().nullish(),
  presence_penalty: z.number().min(-2).max(2).nullish(),
  frequency_penalty: z.number().min(-2).max(2).nullish(),
  max_tokens: z.number().int().min(1).nullish(),
  user: z.string().optional(),
  // Token ids are the target model's own (a local model's vocabulary; an upstream's tokenizer).
  logit_bias: z
    .record(z.string(), z.number().min(-100).max(100))
    .superRefine((bias, context) => {
      // Checked here rather than by the record's key schema, whose error would not say what a key must be.
      for (const key of Object.keys(bias).filter((key) => !/^\d+$/.test(key))) {
        context.addIssue({ code: 'custom', message: `logit_bias keys are token ids, integers written as strings such as "1234"; '${key}' is not one`, path: [key] });
      }
    })
    .nullish(),
  // Unsupported features: accepted only in their "off" form, so a client that sends the default still works.
  logprobs: z.literal(false, { message: 'logprobs are not supported yet; remove it' }).nullish(),
};

const jsonSchemaFormat = z
  .object({
    name: z.string().min(1).max(64),
    description: z.string().optional(),
    schema: z.record(z.string(), z.unknown()).optional(),
    strict: z.boolean().nullish(),
  })
  .strict();

export const responseFormatSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('text') }).strict(),
  z.object({ type: z.literal('json_object') }).strict(),
  z.object({ type: z.literal('json_schema'), json_schema: jsonSchemaFormat }).strict(),
]);

export const chatCompletionRequestSchema = z
  .object({
    ...samplingFields,
    messages: z.array(message).min(1, 'give at least one message'),
    max_completion_tokens: z.number().int().min(1).nullish(),
    response_format: responseFormatSchema.optional(),
    top_logprobs: z.null().optional(),
    store: z.boolean().nullish(),
    metadata: z.record(z.string(), z.string()).nullish(),
    service_tier: z.string().nullish(),
    // Accepted; a local model makes as many calls per turn as its chat template allows.
    parallel_tool_calls: z.boolean().optional(),
    tools: toolsSchema.optional(),
    tool_choice: toolChoiceSchema.optional(),
    /** llmsvc extension: retrieval-augmented chat over vector stores (see core/rag/chatGrounding.ts). */
    retrieval: retrievalSchema.optional(),
    modalities: z.array(z.literal('text', { message: 'only the text modality is supported' })).nullish(),
  })
  .strict()
  .superRefine((body, context) => {
    const problem = toolChoiceProblem(body.tools, body.tool_choice);
    if (problem) context.addIssue({ code: 'custom', message: problem, path: ['tool_choice'] });
  });

export const completionRequestSchema = z
  .object({
    ...samplingFields,
    prompt: z.union([
      z.string(),
      z.array(z.string()).min(1),
      z.array(z.number().int().min(0)).min(1),
      z.array(z.array(z.number().int().min(0)).min(1)).min(1),
    ]),
    echo: z.boolean().nullish(),
    best_of: z.literal(1, { message: 'best_of other than 1 is not supported; remove it' }).nullish(),
    suffix: z.null({ message: 'suffix (insertion) is not supported; remove it' }).optional(),
    logprobs: z.null({ message: 'logprobs are not supported yet; remove it' }).optional(),
  })
  .strict();

export const embeddingRequestSchema = z
  .object({
    model: samplingFields.model,
    input: z.union([
      z.string().min(1, 'the input must not be empty'),
      z.array(z.string().min(1, 'the input must not be empty')).min(1).max(2048),
      z.array(z.number().int().min(0)).min(1),
      z.array(z.array(z.number().int().min(0)).min(1)).min(1).max(2048),
    ]),
    encoding_format: z.enum(['float', 'base64']).optional(),
    dimensions: z.number().int().min(1).optional(),
    user: z.string().optional(),
  })
  .strict();

export type ChatCompletionRequest = z.output<typeof chatCompletionRequestSchema>;
export type CompletionRequestBody = z.output<typeof completionRequestSchema>;
export type EmbeddingRequestBody = z.output<typeof embeddingRequestSchema>;
