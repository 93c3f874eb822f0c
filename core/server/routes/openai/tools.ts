import { z } from 'zod';
import type { ToolCall, ToolChoice, ToolDefinition } from '../../../providers/index.js';

/** OpenAI's function tools in chat completions: the request fields (tools, tool_choice, the
 *  tool calls of assistant messages) and the calls in responses and stream deltas. */

/** OpenAI's rule for function names. */
const functionName = z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, 'a function name has 1 to 64 letters, digits, underscores or dashes');

function isJsonText(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** A JSON Schema whose instances are objects, as function arguments always are. */
const parametersSchema = z
  .record(z.string(), z.unknown())
  .refine((schema) => schema.type === undefined || schema.type === 'object', "a function's parameters must be a JSON Schema of type 'object'");

const functionTool = z
  .object({
    type: z.literal('function', { message: "only tools of type 'function' are supported" }),
    function: z
      .object({
        name: functionName,
        description: z.string().optional(),
        parameters: parametersSchema.optional(),
        // Arguments always follow the schema here (a grammar constrains them), strict or not.
        strict: z.boolean().nullish(),
      })
      .strict(),
  })
  .strict();

export const toolsSchema = z
  .array(functionTool)
  .max(128, 'give at most 128 tools')
  .superRefine((tools, context) => {
    const seen = new Set<string>();
    tools.forEach((tool, index) => {
      if (seen.has(tool.function.name)) {
        context.addIssue({ code: 'custom', message: `the function name '${tool.function.name}' is given twice; names must be unique`, path: [index, 'function', 'name'] });
      }
      seen.add(tool.function.name);
    });
  });

const namedToolChoice = z.object({ type: z.literal('function'), function: z.object({ name: z.string() }).strict() }).strict();

export const toolChoiceSchema = z.union([z.enum(['none', 'auto', 'required']), namedToolChoice], {
  error: `give 'none', 'auto', 'required' or {"type": "function", "function": {"name": "<a tool's name>"}}`,
});

/** A call in an assistant message of the conversation, as OpenAI returned it. */
export const messageToolCallSchema = z
  .object({
    id: z.string().min(1, 'give the id of the tool call'),
    type: z.literal('function', { message: "only tool calls of type 'function' are supported" }),
    function: z
      .object({
        name: z.string().min(1),
        arguments: z.string().refine(isJsonText, 'the arguments must be JSON text, as the model returned them'),
      })
      .strict(),
  })
  .strict();

type ToolsField = z.output<typeof toolsSchema>;
type ToolChoiceField = z.output<typeof toolChoiceSchema>;

/** The cross-field rule tool_choice must follow: it can only ask for a call of tools given. */
export function toolChoiceProblem(tools: ToolsField | undefined, choice: ToolChoiceField | undefined): string | undefined {
  if (choice === undefined || choice === 'none' || choice === 'auto') return undefined;
  const names = (tools ?? []).map((tool) => tool.function.name);
  if (names.length === 0) return `tool_choice '${typeof choice === 'string' ? choice : choice.function.name}' needs tools; give tools or remove tool_choice`;
  if (typeof choice === 'object' && !names.includes(choice.function.name)) {
    return `no tool is named '${choice.function.name}'; name one of the tools given (${names.join(', ')})`;
  }
  return undefined;
}

export function toToolDefinitions(tools: ToolsField | undefined): ToolDefinition[] | undefined {
  return tools?.map(({ function: fn }) => ({
    name: fn.name,
    description: fn.description,
    // OpenAI: omitted parameters describe a function that takes none.
    parameters: fn.parameters ?? { type: 'object', properties: {} },
  }));
}

export function toToolChoice(choice: ToolChoiceField | undefined): ToolChoice | undefined {
  return typeof choice === 'object' ? { name: choice.function.name } : choice;
}

/** A call id as OpenAI writes it; another provider's id keeps its random part. */
export function openaiCallId(id: string): string {
  return id.startsWith('call_') ? id : `call_${id.replace(/^toolu_/, '')}`;
}

/** A call in a response message. */
export function openaiToolCall(call: ToolCall) {
  return { id: openaiCallId(call.id), type: 'function' as const, function: { name: call.name, arguments: call.arguments } };
}

/** The two deltas in which a stream carries a complete call, as OpenAI streams one: the call's
 *  id, type and name with empty arguments, then the arguments. `callIndex` counts the choice's calls. */
export function toolCallDeltas(callIndex: number, call: ToolCall) {
  const { id, type, function: fn } = openaiToolCall(call);
  return [
    { tool_calls: [{ index: callIndex, id, type, function: { name: fn.name, arguments: '' } }] },
    { tool_calls: [{ index: callIndex, function: { arguments: fn.arguments } }] },
  ];
}
