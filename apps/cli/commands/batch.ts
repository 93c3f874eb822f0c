import fs from 'node:fs';
import path from 'node:path';
import { adminKeyFile } from '../../../core/auth/keyService.js';
import { Option, type Command } from 'commander';
import OpenAI, { toFile } from 'openai';
import type { Batch } from 'openai/resources/batches';
import { loadConfig } from '../../../core/config/index.js';
import { progressBar } from '../progress.js';
import { formatTable } from '../table.js';

interface ServerFlags {
  url: string;
  apiKey?: string;
  dataDir?: string;
  json?: boolean;
}

const endpoints = ['/v1/chat/completions', '/v1/completions', '/v1/embeddings'];
const ended = new Set(['completed', 'failed', 'expired', 'cancelled']);

/** The batch verbs talk to a running server (the server runs the batches): its URL, and a key
 *  from --api-key / LLMSVC_API_KEY, or else the admin key file the server wrote in the data dir. */
function client(flags: ServerFlags): OpenAI {
  let apiKey = flags.apiKey;
  if (!apiKey) {
    const keyFile = adminKeyFile(loadConfig({ flags: { data_dir: flags.dataDir } }).data_dir);
    if (!fs.existsSync(keyFile)) throw new Error(`No API key: pass --api-key (or set LLMSVC_API_KEY), or run this where the server's ${keyFile} is readable.`);
    apiKey = fs.readFileSync(keyFile, 'utf8').trim();
  }
  return new OpenAI({ baseURL: `${flags.url.replace(/\/$/, '')}/v1`, apiKey, maxRetries: 2 });
}

function withServerOptions(command: Command): Command {
  return command
    .option('--url <url>', 'the llmsvc server', 'http://127.0.0.1:8080')
    // Option.env: the key is read from the environment without ever showing in --help.
    .addOption(new Option('--api-key <key>', 'API key (default: the admin key in the data dir)').env('LLMSVC_API_KEY'))
    .option('--data-dir <dir>', 'data dir whose admin.key to use when no key is given')
    .option('--json', 'print JSON');
}

function summary(batch: Batch) {
  const counts = batch.request_counts ?? { total: 0, completed: 0, failed: 0 };
  return {
    id: batch.id,
    status: batch.status,
    endpoint: batch.endpoint,
    done: `${counts.completed + counts.failed}/${counts.total}`,
    failed: counts.failed,
    created: new Date(batch.created_at * 1000).toISOString(),
    output_file: batch.output_file_id,
    error_file: batch.error_file_id,
  };
}

function print(flags: ServerFlags, json: unknown, text: string): void {
  process.stdout.write(flags.json ? `${JSON.stringify(json, null, 2)}\n` : text);
}

function describe(batch: Batch): string {
  const rows = Object.entries(summary(batch)).map(([key, value]) => `${key.padEnd(12)} ${value ?? '-'}`);
  for (const error of batch.errors?.data ?? []) rows.push(`error        line ${error.line ?? '-'}: ${error.code}: ${error.message}`);
  return rows.join('\n') + '\n';
}

/** Sets the model of every line (--model): the file is rewritten line by line in memory. */
function withModel(text: string, model: string): string {
  return text
    .split('\n')
    .map((line) => {
      if (line.trim() === '') return line;
      try {
        const parsed = JSON.parse(line) as { body?: Record<string, unknown> };
        if (parsed.body && typeof parsed.body === 'object') parsed.body.model = model;
        return JSON.stringify(parsed);
      } catch {
        return line; // the server reports the bad line with its number
      }
    })
    .join('\n');
}

async function waitWithProgress(openai: OpenAI, id: string, quiet: boolean): Promise<Batch> {
  const bar = quiet ? undefined : progressBar(`batch ${id}`);
  for (;;) {
    const batch = await openai.batches.retrieve(id);
    const counts = batch.request_counts;
    if (counts && counts.total > 0) bar?.update(counts.completed + counts.failed, counts.total);
    if (ended.has(batch.status)) {
      bar?.done();
      return batch;
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

export function registerBatch(program: Command): void {
  const batch = program.command('batch').description('Batch jobs on a running server (the OpenAI Batch API): submit a JSONL file, follow it, fetch its results');

  withServerOptions(
    batch
      .command('submit <file>')
      .description('Upload a JSONL file of requests ({custom_id, method, url, body} per line) and start a batch')
      .requiredOption('--endpoint <endpoint>', `the endpoint of every line: ${endpoints.join(', ')}`)
      .option('--model <model>', "set every line's body.model")
      .option('--wait', 'wait for the batch to end, with a progress bar'),
  ).action(async (file: string, flags: ServerFlags & { endpoint: string; model?: string; wait?: boolean }) => {
    if (!endpoints.includes(flags.endpoint)) throw new Error(`--endpoint must be one of ${endpoints.join(', ')}.`);
    const openai = client(flags);
    const content = flags.model ? Buffer.from(withModel(fs.readFileSync(file, 'utf8'), flags.model)) : fs.createReadStream(file);
    const input = await openai.files.create({ file: await toFile(content, path.basename(file)), purpose: 'batch' });
    let created = await openai.batches.create({ input_file_id: input.id, endpoint: flags.endpoint as '/v1/chat/completions', completion_window: '24h' });
    if (flags.wait) created = await waitWithProgress(openai, created.id, Boolean(flags.json));
    print(flags, created, describe(created));
    if (flags.wait && created.status !== 'completed') process.exitCode = 1;
  });

  withServerOptions(batch.command('list').description('List batches, newest first').option('--limit <n>', 'how many', '20')).action(
    async (flags: ServerFlags & { limit: string }) => {
      const page = await client(flags).batches.list({ limit: Number(flags.limit) });
      print(flags, page.data, formatTable(page.data.map(summary), ['id', 'status', 'endpoint', 'done', 'failed', 'created']));
    },
  );

  withServerOptions(batch.command('show <id>').description('Show a batch: status, counts, files, validation errors')).action(async (id: string, flags: ServerFlags) => {
    const found = await client(flags).batches.retrieve(id);
    print(flags, found, describe(found));
  });

  withServerOptions(batch.command('cancel <id>').description('Cancel a batch: no new line starts; running lines finish')).action(async (id: string, flags: ServerFlags) => {
    const cancelled = await client(flags).batches.cancel(id);
    print(flags, cancelled, describe(cancelled));
  });

  withServerOptions(
    batch
      .command('results <id>')
      .description('Write the output file, then the error file, of an ended batch as JSONL')
      .option('--out <file>', 'write to this file instead of stdout'),
  ).action(async (id: string, flags: ServerFlags & { out?: string }) => {
    const openai = client(flags);
    const found = await openai.batches.retrieve(id);
    if (!ended.has(found.status)) throw new Error(`Batch ${id} is ${found.status}; its results are ready when it has ended (llmsvc batch submit --wait, or batch show).`);
    const out = flags.out ? fs.createWriteStream(flags.out) : process.stdout;
    for (const fileId of [found.output_file_id, found.error_file_id]) {
      if (!fileId) continue;
      const response = await openai.files.content(fileId);
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) out.write(chunk);
    }
    if (flags.out) await new Promise((resolve) => (out as fs.WriteStream).end(resolve));
  });
}
