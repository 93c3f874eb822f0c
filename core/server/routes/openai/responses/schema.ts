import { z } from 'zod';
import { ApiError } from '../../../../errors/index.js';

/** The request body of POST /v1/responses. The body is strict, as OpenAI is: an unknown argument
 *  is a 400 that names it. Input items are not strict: clients hand back the output items they
 *  got (with ids, statuses, annotations, logprobs), and those extra fields are dropped. */

const functionName = z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, 'a function name has 1 to 64 letters, digits, underscores or dashes');

const isJsonText = (text: string) => {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
};

/** Parses `value` with `schema`, reporting its issues where the value sits (zod prefixes the path). */
function parseWith<S extends z.ZodType>(schema: S, value: unknown, context: z.RefinementCtx): z.output<S> {
  const parsed = schema.safeParse(value, { reportInput: true });
  if (parsed.success) return parsed.data;
  for (const issue of parsed.error.issues) context.addIssue(issue as never);
  return z.NEVER;
}

/** A string, or a list parsed by `list`: an error inside the list names the element at fault. */
function stringOr<S extends z.ZodType>(list: S, what: string) {
  return z.unknown().transform((value, context): string | z.output<S> => {
    if (typeof value === 'string') return value;
    if (!Array.isArray(value)) {
      context.addIssue({ code: 'custom', message: `give ${what} as a string or an array`, input: value });
      return z.NEVER;
    }
    return parseWith(list, value, context);
  });
}

/** Text parts of a message. Images, files and audio are refused with a sentence. */
const textPart = z.discriminatedUnion(
  'type',
  [
    z.object({ type: z.literal('input_text'), text: z.string() }),
    z.object({ type: z.literal('output_text'), text: z.string() }),
    z.object({ type: z.literal('refusal'), refusal: z.string() }),
  ],
  { error: "only text content is supported: give parts of type 'input_text' (or 'output_text' for assistant turns)" },
);

export type TextPart = z.output<typeof textPart>;

const messageItem = z.object({
  type: z.literal('message').optional(),
  role: z.enum(['user', 'assistant', 'system', 'developer'], { error: "role must be 'user', 'assistant', 'system' or 'developer'" }),
  content: stringOr(z.array(textPart), 'the content'),
});

const functionCallItem = z.object({
  type: z.literal('function_call'),
  call_id: z.string().min(1, 'give the call_id of the function call'),
  name: z.string().min(1),
  arguments: z.string().refine(isJsonText, 'the arguments must be JSON text, as the model returned them'),
});

const functionCallOutputItem = z.object({
  type: z.literal('function_call_output'),
  call_id: z.string().min(1, 'give the call_id of the function call this answers'),
  output: stringOr(z.array(textPart), 'the output'),
});

const itemSchemas = { message: messageItem, function_call: functionCallItem, function_call_output: functionCallOutputItem };

/** One input item: a message (the `type` may be left out), a function call the model made, or
 *  its output. Chosen by `type` (rather than a union) so that an error names the field at fault. */
const inputItem = z.unknown().transform((value, context) => {
  const type = typeof value === 'object' && value !== null ? ((value as { type?: unknown }).type ?? 'message') : undefined;
  // Own keys only: a type such as 'constructor' must not reach Object's prototype.
  const schema = typeof type === 'string' && Object.hasOwn(itemSchemas, type) ? itemSchemas[type as keyof typeof itemSchemas] : undefined;
  if (!schema) {
    context.addIssue({
      code: 'custom',
      message: `${typeof type === 'string' ? `items of type '${type}' are not supported; give` : 'give'} items of type 'message' (role and content), 'function_call' or 'function_call_output'`,
      input: value,
    });
    return z.NEVER;
  }
  return parseWith(schema as z.ZodType<z.output<typeof messageItem> | z.output<typeof functionCallItem> | z.output<typeof functionCallOutputItem>>, value, context);
});

/** A string (one user message) or a list of items. */
const input = stringOr(z.array(inputItem), 'the input');

export type InputItem = z.output<typeof inputItem>;

const functionTool = z
  .object({
    type: z.literal('function'),
    name: functionName,
    description: z.string().nullish(),
    parameters: z
      .record(z.string(), z.unknown())
      .refine((schema) => schema.type === undefined || schema.type === 'object', "a function's parameters must be a JSON Schema of type 'object'")
      .nullish(),
    // Arguments always follow the schema here (a grammar constrains them), strict or not.
    strict: z.boolean().nullish(),
  })
  .strict();

/** What to use instead of each hosted tool OpenAI runs on its own side. */
export const builtInToolAdvice: Record<string, string> = {
  web_search: 'llmsvc has no web access; fetch pages in your code and pass them in the input, or define a function tool that does',
  web_search_preview: 'llmsvc has no web access; fetch pages in your code and pass them in the input, or define a function tool that does',
  file_search: "search your files with llmsvc's vector stores: POST /v1/vector_stores/{id}/search, or `retrieval` on /v1/chat/completions",
  code_interpreter: 'define a function tool and run the code in your own sandbox',
  computer_use_preview: 'define function tools for the actions and perform them in your code',
  computer: 'define function tools for the actions and perform them in your code',
  image_generation: 'llmsvc serves text models only',
  mcp: 'call the MCP server from your code and offer its tools to the model as function tools',
  local_shell: 'define a function tool that runs the command in your code',
  shell: 'define a function tool that runs the command in your code',
  apply_patch: 'define a function tool that applies the patch in your code',
  custom: "define it as a function tool (type 'function') with a JSON Schema of its arguments",
};

/** A tool of any type: function tools pass; a hosted tool is a 400 that names it and says what to use instead. */
const tool = z.looseObject({ type: z.string() }).transform((value, context) => {
  if (value.type !== 'function') {
    const advice = Object.hasOwn(builtInToolAdvice, value.type) ? builtInToolAdvice[value.type] : "define it as a function tool (type 'function') that your code runs";
    throw new ApiError(
      'LLMSVC_ERR_BUILTIN_TOOL_UNSUPPORTED',
      `The built-in tool '${value.type}' is not available on llmsvc: it runs only function tools (type 'function'), which your code carries out. Instead, ${advice}.`,
      'tools',
    );
  }
  return parseWith(functionTool, value, context);
});

const toolChoice = z.union(
  [
    z.enum(['none', 'auto', 'required']),
    z.object({ type: z.literal('function'), name: z.string() }).strict(),
    z.looseObject({ type: z.string() }).transform((value) => {
      throw new ApiError(
        'LLMSVC_ERR_BUILTIN_TOOL_UNSUPPORTED',
        `tool_choice of type '${value.type}' is not supported: give 'none', 'auto', 'required' or {"type": "function", "name": "<a function tool's name>"}.`,
        'tool_choice',
      );
    }),
  ],
  { error: `give 'none', 'auto', 'required' or {"type": "function", "name": "<a function tool's name>"}` },
);

const textFormat = z.discriminatedUnion(
  'type',
  [
    z.object({ type: z.literal('text') }).strict(),
    z.object({ type: z.literal('json_object') }).strict(),
    z
      .object({
        type: z.literal('json_schema'),
        name: z.string().min(1).max(64),
        description: z.string().nullish(),
        schema: z.record(z.string(), z.unknown()),
        strict: z.boolean().nullish(),
      })
      .strict(),
  ],
  { error: "text.format.type must be 'text', 'json_object' or 'json_schema'" },
);

export type TextFormat = z.output<typeof textFormat>;

/** Accepted only in their "off" form, so a client that sends the default still works. */
const off = (what: string) => z.null({ message: `${what} is not supported; remove it` }).optional();

export const createResponseSchema = z
  .object({
    model: z.string().min(1, 'name a model (GET /v1/models lists them)'),
    input,
    instructions: z.string().nullish(),
    previous_response_id: z.string().min(1).nullish(),
    max_output_tokens: z.number().int().min(1).nullish(),
    temperature: z.number().min(0).max(2).nullish(),
    top_p: z.number().min(0).max(1).nullish(),
    /** llmsvc extension (chat completions has it; the Responses API does not): reproducible sampling. */
    seed: z.number().int().nullish(),
    text: z.object({ format: textFormat.optional(), verbosity: z.enum(['low', 'medium', 'high']).nullish() }).strict().nullish(),
    tools: z
      .array(tool)
      .max(128, 'give at most 128 tools')
      .superRefine((tools, context) => {
        const seen = new Set<string>();
        tools.forEach((t, index) => {
          if (seen.has(t.name)) context.addIssue({ code: 'custom', message: `the function name '${t.name}' is given twice; names must be unique`, path: [index, 'name'] });
          seen.add(t.name);
        });
      })
      .optional(),
    tool_choice: toolChoice.optional(),
    // Accepted; a local model makes as many calls per turn as its chat template allows.
    parallel_tool_calls: z.boolean().nullish(),
    // Accepted and echoed; one generation makes the calls of one turn, which is all a client loop sees.
    max_tool_calls: z.number().int().min(1).nullish(),
    stream: z.boolean().nullish(),
    stream_options: z.object({ include_obfuscation: z.boolean().optional() }).strict().nullish(),
    store: z.boolean().nullish(),
    metadata: z.record(z.string(), z.string()).nullish(),
    user: z.string().nullish(),
    safety_identifier: z.string().nullish(),
    prompt_cache_key: z.string().nullish(),
    service_tier: z.string().nullish(),
    truncation: z.literal('disabled', { message: "only truncation 'disabled' is supported: a prompt too long for the context is a 400" }).nullish(),
    // Items llmsvc never produces (reasoning, logprobs, search results): asking for them is harmless.
    include: z.array(z.string()).nullish(),
    top_logprobs: z.literal(0, { message: 'logprobs are not supported yet; remove top_logprobs' }).nullish(),
    reasoning: z
      .object({ effort: z.null({ message: 'local models do not reason; remove reasoning' }).optional(), summary: z.null().optional() })
      .strict()
      .nullish(),
    background: z.literal(false, { message: 'background responses are not supported; remove background' }).nullish(),
    conversation: off('conversation (the Conversations API)'),
    prompt: off('prompt (stored prompt templates)'),
  })
  .strict()
  .superRefine((body, context) => {
    const choice = body.tool_choice;
    if (choice === undefined || choice === 'none' || choice === 'auto') return;
    const names = (body.tools ?? []).map((t) => t.name);
    const problem =
      names.length === 0
        ? `tool_choice '${typeof choice === 'string' ? choice : choice.name}' needs tools; give tools or remove tool_choice`
        : typeof choice === 'object' && !names.includes(choice.name)
          ? `no tool is named '${choice.name}'; name one of the tools given (${names.join(', ')})`
          : undefined;
    if (problem) context.addIssue({ code: 'custom', message: problem, path: ['tool_choice'] });
  });

export type CreateResponseBody = z.output<typeof createResponseSchema>;

export const inputItemsQuerySchema = z
  .object({
    limit: z.coerce.number().int().min(1).max(100).default(20),
    order: z.enum(['asc', 'desc']).default('desc'),
    after: z.string().optional(),
    before: z.string().optional(),
    include: z.union([z.string(), z.array(z.string())]).optional(),
  })
  .strict();
