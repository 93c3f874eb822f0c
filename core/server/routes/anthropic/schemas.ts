import { z } from 'zod';

/** Request bodies of Anthropic's Messages API as llmsvc serves it. Objects are strict: an
 *  unknown field is a 400 that names it. Hints that make no difference here (cache_control,
 *  service_tier) are accepted and ignored; features local models lack yet (tools, images,
 *  documents, extended thinking) are refused with a 400 that says so. */

const toolsNotSupported = 'tool use is not supported by local models yet; remove it';

/** Content block types Anthropic defines that llmsvc cannot take yet, and why. */
const unsupportedBlocks: Record<string, string> = {
  image: 'images are not supported by local models yet; send text only',
  document: 'documents are not supported by local models yet; send their text instead',
  search_result: 'search results are not supported by local models yet; send their text instead',
  tool_use: toolsNotSupported,
  tool_result: toolsNotSupported,
  server_tool_use: toolsNotSupported,
  thinking: 'extended thinking is not supported by local models yet; remove thinking blocks',
  redacted_thinking: 'extended thinking is not supported by local models yet; remove thinking blocks',
};

const cacheControl = z.object({ type: z.literal('ephemeral'), ttl: z.enum(['5m', '1h']).optional() }).strict();

const textBlock = z
  .object({
    type: z.literal('text'),
    text: z.string(),
    // A caching hint: accepted (clients send it) and ignored.
    cache_control: cacheControl.nullish(),
    // Anthropic's own responses carry `citations: null`, so replayed turns may too.
    citations: z.null().optional(),
  })
  .strict();

/** Any block: a type other than text gets its reason (one issue, so the message says it plainly);
 *  a text block is then checked strictly. */
const contentBlock = z
  .looseObject({ type: z.string() })
  .superRefine((block, context) => {
    if (block.type === 'text') return;
    const reason = unsupportedBlocks[block.type] ?? `unknown content block type '${block.type}'; send text blocks`;
    context.addIssue({ code: 'custom', message: reason, path: ['type'] });
  })
  .pipe(textBlock);

/** A string, or an array of blocks. The string is read as one text block, which keeps the
 *  error messages about bad blocks precise (a union would only say "Invalid input"). */
function textOrBlocks<Block extends z.ZodType>(block: Block) {
  return z.preprocess(
    (value) => (typeof value === 'string' ? [{ type: 'text', text: value }] : value),
    z.array(block, { error: 'give a string or an array of content blocks' }),
  );
}

const message = z
  .object({
    role: z.enum(['user', 'assistant']),
    content: textOrBlocks(contentBlock).refine((blocks) => blocks.length > 0, 'give at least one content block'),
  })
  .strict();

/** The fields that make up the prompt: shared by messages and count_tokens. */
const promptFields = {
  model: z.string().min(1, 'name a model (GET /v1/models lists them)'),
  messages: z.array(message).min(1, 'give at least one message'),
  system: textOrBlocks(textBlock).optional(),
  tools: z.array(z.unknown()).max(0, toolsNotSupported).optional(),
  tool_choice: z.looseObject({ type: z.literal('none', { message: toolsNotSupported }) }).optional(),
  thinking: z.looseObject({ type: z.literal('disabled', { message: 'extended thinking is not supported by local models yet; remove thinking' }) }).optional(),
  cache_control: cacheControl.nullish(),
};

export const messagesRequestSchema = z
  .object({
    ...promptFields,
    max_tokens: z.number().int().min(1),
    stop_sequences: z.array(z.string().min(1, 'a stop sequence must not be empty')).optional(),
    temperature: z.number().min(0).max(1).optional(),
    top_p: z.number().min(0).max(1).optional(),
    // llama.cpp honours top_k; 0 turns the limit off, as in llama.cpp.
    top_k: z.number().int().min(0).optional(),
    stream: z.boolean().optional(),
    // user_id also names the end user to the scheduler, for fair sharing behind one key.
    metadata: z.object({ user_id: z.string().max(256).nullish() }).strict().optional(),
    service_tier: z.enum(['auto', 'standard_only']).optional(),
  })
  .strict();

export const countTokensRequestSchema = z.object(promptFields).strict();

export type MessagesRequestBody = z.output<typeof messagesRequestSchema>;
export type CountTokensRequestBody = z.output<typeof countTokensRequestSchema>;
