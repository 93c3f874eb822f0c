import fs from 'node:fs';
import { adminKeyFile } from '../../../core/auth/keyService.js';
import readline from 'node:readline';
import type { Command } from 'commander';
import OpenAI from 'openai';
import { loadConfig } from '../../../core/config/index.js';

interface ChatFlags {
  url?: string;
  dataDir?: string;
  system?: string;
  maxTokens: string;
  temperature?: string;
  seed?: string;
}

type Message = OpenAI.ChatCompletionMessageParam;

const help = `Type a message and press Enter. /clear forgets the conversation, /bye (or Ctrl+D) exits; Ctrl+C stops an answer.\n`;

/** The server's URL and a key: --url, else the config's host and port; LLMSVC_API_KEY, else the
 *  admin key file a first `serve` wrote into the data dir. */
function connection(flags: ChatFlags): { baseURL: string; apiKey: string } {
  const config = loadConfig({ flags: { data_dir: flags.dataDir } });
  const host = ['0.0.0.0', '::'].includes(config.host) ? '127.0.0.1' : config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = (flags.url ?? `http://${host}:${config.port}`).replace(/\/+$/, '').replace(/\/v1$/, '');
  // The key is a client's credential, not a server setting, so it is read here and not in core/config.
  let apiKey = process.env.LLMSVC_API_KEY;
  const keyFile = adminKeyFile(config.data_dir);
  if (!apiKey && fs.existsSync(keyFile)) apiKey = fs.readFileSync(keyFile, 'utf8').trim();
  if (!apiKey) throw new Error(`No API key: set LLMSVC_API_KEY to a key ('llmsvc keys create --name NAME' makes one), or run chat where the server's data dir (${config.data_dir}) holds admin.key.`);
  return { baseURL: `${url}/v1`, apiKey };
}

function describe(error: unknown, baseURL: string): string {
  if (error instanceof OpenAI.APIConnectionError) return `Cannot reach llmsvc at ${baseURL.slice(0, -3)}: start it with 'llmsvc serve', or give its address with --url.`;
  if (error instanceof OpenAI.APIError) return error.message; // the SDK's: the status, then the server's sentence
  return (error as Error).message;
}

/** One answer, streamed to stdout as it comes; `signal` (Ctrl+C on a terminal) stops it. Returns
 *  the text so far. */
async function answer(client: OpenAI, model: string, messages: Message[], flags: ChatFlags, signal: AbortSignal): Promise<string> {
  let text = '';
  try {
    const stream = await client.chat.completions.create(
      {
        model,
        messages,
        stream: true,
        ...(Number(flags.maxTokens) > 0 ? { max_tokens: Number(flags.maxTokens) } : {}),
        ...(flags.temperature !== undefined ? { temperature: Number(flags.temperature) } : {}),
        ...(flags.seed !== undefined ? { seed: Number(flags.seed) } : {}),
      },
      { signal },
    );
    for await (const chunk of stream) {
      const delta = chunk.choices[0]?.delta?.content ?? '';
      text += delta;
      process.stdout.write(delta);
    }
  } catch (error) {
    if (!signal.aborted) throw error;
  }
  process.stdout.write('\n');
  return text;
}

async function chat(modelArgument: string | undefined, flags: ChatFlags): Promise<void> {
  for (const [name, value] of [['--max-tokens', flags.maxTokens], ['--temperature', flags.temperature], ['--seed', flags.seed]] as const) {
    if (value !== undefined && !Number.isFinite(Number(value))) throw new Error(`${name} takes a number, not '${value}'.`);
  }
  const { baseURL, apiKey } = connection(flags);
  const client = new OpenAI({ baseURL, apiKey, maxRetries: 0 });
  let model = modelArgument;
  if (!model) {
    // Like the server's own default: the first model it lists.
    const listed = await client.models.list().catch((error: unknown) => {
      throw new Error(describe(error, baseURL));
    });
    model = listed.data[0]?.id;
    if (!model) throw new Error(`The server at ${baseURL} lists no model: copy a .gguf file into its models dir.`);
  }
  const interactive = process.stdin.isTTY === true;
  const history: Message[] = flags.system ? [{ role: 'system', content: flags.system }] : [];
  const lines = readline.createInterface({ input: process.stdin, output: interactive ? process.stdout : undefined, terminal: interactive });
  if (interactive) {
    process.stdout.write(`Chatting with ${model} at ${baseURL.slice(0, -3)}. ${help}`);
    lines.setPrompt('>>> ');
    lines.prompt();
  }
  // On a terminal readline turns Ctrl+C into this event: it stops the answer being written, or at
  // the prompt exits, as in a shell.
  let answering: AbortController | undefined;
  lines.on('SIGINT', () => (answering ? answering.abort() : lines.close()));
  for await (const line of lines) {
    const prompt = line.trim();
    if (prompt === '/bye') break;
    if (prompt === '/clear') {
      history.splice(flags.system ? 1 : 0);
      if (interactive) process.stdout.write('Forgot the conversation.\n');
    } else if (prompt === '/help' || prompt === '/?') {
      process.stdout.write(help);
    } else if (prompt) {
      history.push({ role: 'user', content: prompt });
      try {
        answering = new AbortController();
        history.push({ role: 'assistant', content: await answer(client, model, history, flags, answering.signal) });
      } catch (error) {
        history.pop();
        process.stderr.write(`llmsvc chat: ${describe(error, baseURL)}\n`);
        // A script learns of the failure from the exit status; a person can try again.
        if (!interactive) {
          process.exitCode = 1;
          break;
        }
      } finally {
        answering = undefined;
      }
    }
    if (interactive) lines.prompt();
  }
  lines.close();
  if (interactive) process.stdout.write('\n');
}

export function registerChat(program: Command): void {
  program
    .command('chat')
    .description('Chat with a model of a running server in the terminal, streamed (like ollama run); reads one prompt per line when stdin is not a terminal')
    .argument('[model]', 'model id (default: the first model the server lists)')
    .option('--url <url>', 'the server (default: http://<host>:<port> of the config, e.g. http://127.0.0.1:8080)')
    .option('--data-dir <dir>', "data dir whose admin.key is used when LLMSVC_API_KEY is not set (env LLMSVC_DATA_DIR)")
    .option('--system <text>', 'a system message for the whole conversation')
    .option('--max-tokens <n>', 'longest answer in tokens (0: no limit but the context)', '512')
    .option('--temperature <t>', "sampling temperature (default: the server's, 1)")
    .option('--seed <n>', 'sampling seed, for repeatable answers')
    .action((model: string | undefined, flags: ChatFlags) => chat(model, flags));
}
