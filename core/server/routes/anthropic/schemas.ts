import { z } from 'zod';

/** Request bodies of Anthropic's Messages API as llmsvc serves it. Objects are strict: an
 *  unknown field is a 400 that names it. Hints that make no difference here (cache_control,
 *  service_tier) are accepted and ignored; features local models lack yet (server tools, images,
 *  documents, extended thinking) are refused with a 400 that says so. */

const serverToolsNotSupported = 'server tools are not supported by local models; define client tools instead';

/** Content block types Anthropic defines that llmsvc cannot take yet, and why. */
const unsupportedBlocks: Record<string, string> = {
  image: 'images are not supported by local models yet; send text only',
  document: 'documents are not supported by local models yet; send their text instead',
  search_result: 'search results are not supported by local models yet; send their text instead',
  server_tool_use: serverToolsNotSupported,
  web_search_tool_result: serverToolsNotSupported,
  thinking: 'extended thinking is not supported by local models yet; remove thinking blocks',
  redacted_thinking: 'extended thinking is not supported by local models yet; remove thinking blocks',
};

/** Blocks that exist but belong to the other role. */
const wrongRoleBlocks: Record<string, string> = {
  tool_use: 'tool_use blocks belong in assistant messages',
  tool_result: 'tool_result blocks belong in user messages, answering the tool_use blocks of the assistant message before',
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

/** Any block: a type not among `allowed` gets its reason (one issue, so the message says it
 *  plainly); the caller then pipes an allowed block into its strict schema. */
function blockGate(allowed: string[]) {
  return z
    .looseObject({ type: z.string() })
    .superRefine((block, context) => {
      if (allowed.includes(block.type)) return;
      const reason =
        unsupportedBlocks[block.type] ?? wrongRoleBlocks[block.type] ?? `unknown content block type '${block.type}'; send ${allowed.join(' or ')} blocks`;
      context.addIssue({ code: 'custom', message: reason, path: ['type'] });
    });
}

/** A string, or an array of blocks. The string is read as one text block, which keeps the
 *  error messages about bad blocks precise (a union would only say "Invalid input"). */
function textOrBlocks<Block extends z.ZodType>(block: Block) {
  return z.preprocess(
    (value) => (typeof value === 'string' ? [{ type: 'text', text: value }] : value),
    z.array(block, { error: 'give a string or an array of content blocks' }),
  );
}

const toolUseBlock = z
  .object({
    type: z.literal('tool_use'),
    id: z.string().min(1, 'give the id of the tool use'),
    name: z.string().min(1),
    input: z.record(z.string(), z.unknown(), { error: 'the input of a tool use is an object' }),
    cache_control: cacheControl.nullish(),
  })
  .strict();

const toolResultBlock = z
  .object({
    type: z.literal('tool_result'),
    tool_use_id: z.string().min(1, 'give the id of the tool use this answers'),
    content: textOrBlocks(blockGate(['text']).pipe(textBlock)).optional(),
    is_error: z.boolean().optional(),
    cache_control: cacheControl.nullish(),
  })
  .strict();

const nonEmpty = (blocks: unknown[]) => blocks.length > 0;

const message = z.discriminatedUnion('role', [
  z
    .object({
      role: z.literal('user'),
      content: textOrBlocks(blockGate(['text', 'tool_result']).pipe(z.discriminatedUnion('type', [textBlock, toolResultBlock]))).refine(nonEmpty, 'give at least one content block'),
    })
    .strict(),
  z
    .object({
      role: z.literal('assistant'),
      content: textOrBlocks(blockGate(['text', 'tool_use']).pipe(z.discriminatedUnion('type', [textBlock, toolUseBlock]))).refine(nonEmpty, 'give at least one content block'),
    })
    .strict(),
]);

const customTool = z
  .object({
    type: z.literal('custom').nullish(),
    name: z.string().regex(/^[a-zA-Z0-9_-]{1,128}$/, 'a tool name has 1 to 128 letters, digits, underscores or dashes'),
    description: z.string().optional(),
    input_schema: z.looseObject({ type: z.literal('object', { message: "input_schema must be a JSON Schema of type 'object'" }) }),
    cache_control: cacheControl.nullish(),
    // Inputs always follow the schema here (a grammar constrains them), strict or not.
    strict: z.boolean().optional(),
  })
  .strict();

/** A tool: server tools (web search, bash, …) are refused with their reason, then a client
 *  ("custom") tool is checked strictly. */
const tool = z
  .looseObject({ type: z.string().nullish() })
  .superRefine((value, context) => {
    if (value.type === undefined || value.type === null || value.type === 'custom') return;
    context.addIssue({
      code: 'custom',
      message: `server tools (type '${value.type}') are not supported by local models; define client tools with name, description and input_schema`,
      path: ['type'],
    });
  })
  .pipe(customTool);

export const toolsSchema = z.array(tool).superRefine((tools, context) => {
  const seen = new Set<string>();
  tools.forEach((t, index) => {
    if (seen.has(t.name)) context.addIssue({ code: 'custom', message: `the tool name '${t.name}' is given twice; names must be unique`, path: [index, 'name'] });
    seen.add(t.name);
  });
});

// disable_parallel_tool_use is accepted: a local model makes as many calls per turn as its chat template allows.
const parallel = { disable_parallel_tool_use: z.boolean().optional() };
export const toolChoiceSchema = z.discriminatedUnion(
  'type',
  [
    z.object({ type: z.literal('auto'), ...parallel }).strict(),
    z.object({ type: z.literal('any'), ...parallel }).strict(),
    z.object({ type: z.literal('tool'), name: z.string().min(1), ...parallel }).strict(),
    z.object({ type: z.literal('none') }).strict(),
  ],
  { error: "give a tool_choice of type 'auto', 'any', 'tool' (with a name) or 'none'" },
);

/** The cross-field rule tool_choice follows: it can only ask for a call of tools given. */
function checkToolChoice(body: { tools?: { name: string }[]; tool_choice?: { type: string; name?: string } }, context: z.RefinementCtx) {
  const choice = body.tool_choice;
  if (choice === undefined || choice.type === 'auto' || choice.type === 'none') return;
  const names = (body.tools ?? []).map((t) => t.name);
  const problem =
    names.length === 0
      ? `tool_choice of type '${choice.type}' needs tools; give tools or remove tool_choice`
      : choice.type === 'tool' && !names.includes(choice.name!)
        ? `no tool is named '${choice.name}'; name one of the tools given (${names.join(', ')})`
        : undefined;
  if (problem) context.addIssue({ code: 'custom', message: problem, path: ['tool_choice'] });
}

/** The fields that make up the prompt: shared by messages and count_tokens. */
const promptFields = {
  model: z.string().min(1, 'name a model (GET /v1/models lists them)'),
  messages: z.array(message).min(1, 'give at least one message'),
  system: textOrBlocks(textBlock).optional(),
  tools: toolsSchema.optional(),
  tool_choice: toolChoiceSchema.optional(),
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
  .strict()
  .superRefine(checkToolChoice);

export const countTokensRequestSchema = z.object(promptFields).strict().superRefine(checkToolChoice);

export type MessagesRequestBody = z.output<typeof messagesRequestSchema>;
export type CountTokensRequestBody = z.output<typeof countTokensRequestSchema>;
