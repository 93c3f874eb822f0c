import type { ToolCall, ToolChoice, ToolDefinition } from '../../../providers/index.js';
import type { MessagesRequestBody } from './schemas.js';

/** Anthropic's client tools in the Messages API → the neutral tools, and calls → tool_use
 *  blocks. Field renames to the neutral shape are data, as in translate.ts. */

type ToolsField = NonNullable<MessagesRequestBody['tools']>;
type ToolChoiceField = NonNullable<MessagesRequestBody['tool_choice']>;

/** Anthropic's tool fields → the neutral ones. */
export const toolFields = {
  name: 'name',
  description: 'description',
  input_schema: 'parameters',
} as const satisfies { [Field in keyof ToolsField[number]]?: keyof ToolDefinition };

/** tool_choice types → the neutral choice ('tool' names its tool). */
export const toolChoices = {
  auto: 'auto',
  any: 'required',
  none: 'none',
} as const satisfies Record<Exclude<ToolChoiceField['type'], 'tool'>, ToolChoice>;

export function toToolDefinitions(tools: ToolsField | undefined): ToolDefinition[] | undefined {
  return tools?.map((t) => {
    const definition: Record<string, unknown> = {};
    for (const [field, neutral] of Object.entries(toolFields)) definition[neutral] = t[field as keyof typeof toolFields];
    return definition as unknown as ToolDefinition;
  });
}

export function toToolChoice(choice: ToolChoiceField | undefined): ToolChoice | undefined {
  if (choice === undefined) return undefined;
  return choice.type === 'tool' ? { name: choice.name } : toolChoices[choice.type];
}

/** A call id as Anthropic writes it; another provider's id keeps its random part. */
export function anthropicToolUseId(id: string): string {
  return id.startsWith('toolu_') ? id : `toolu_${id.replace(/^call_/, '')}`;
}

/** A call as a tool_use content block: its input is the parsed arguments. */
export function toolUseBlock(call: ToolCall) {
  return { type: 'tool_use' as const, id: anthropicToolUseId(call.id), name: call.name, input: JSON.parse(call.arguments) as Record<string, unknown> };
}
