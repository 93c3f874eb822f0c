import { useRef, useState } from 'preact/hooks';
import { writeHeaders, type List } from '../api';
import { formatNumber } from '../format';
import { ErrorNote, useApi, type PageProps } from '../hooks';

interface Message {
  role: 'user' | 'assistant';
  content: string;
}

interface Figures {
  ttftMs: number | null;
  tokensPerS: number | null;
  completionTokens: number | null;
}

/** Reads an OpenAI chat completion stream (server-sent events) chunk by chunk. EventSource cannot
 *  POST, so this splits the event stream by hand: "data: <json>" lines, blank-line separated. */
async function* chatDeltas(response: Response): AsyncGenerator<{ content?: string; usage?: { completion_tokens: number } }> {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let boundary: number;
    while ((boundary = buffer.indexOf('\n\n')) >= 0) {
      const event = buffer.slice(0, boundary);
      buffer = buffer.slice(boundary + 2);
      for (const line of event.split('\n')) {
        if (!line.startsWith('data:')) continue;
        const data = line.slice(5).trim();
        if (data === '[DONE]') return;
        const chunk = JSON.parse(data) as { choices?: { delta?: { content?: string } }[]; usage?: { completion_tokens: number } | null; error?: { message: string } };
        if (chunk.error) throw new Error(chunk.error.message);
        yield { content: chunk.choices?.[0]?.delta?.content, usage: chunk.usage ?? undefined };
      }
    }
  }
}

export function Playground(_props: PageProps) {
  const models = useApi<List<{ id: string }>>('/v1/models');
  const [model, setModel] = useState('');
  const [temperature, setTemperature] = useState(0.7);
  const [maxTokens, setMaxTokens] = useState(256);
  const [seed, setSeed] = useState('');
  const [prompt, setPrompt] = useState('');
  const [messages, setMessages] = useState<Message[]>([]);
  const [answer, setAnswer] = useState<string | null>(null);
  const [figures, setFigures] = useState<Figures | null>(null);
  const [error, setError] = useState<string | null>(null);
  const abort = useRef<AbortController | null>(null);
  const [streaming, setStreaming] = useState(false);
  const chosen = model || models.data?.data[0]?.id || '';

  async function send(event: Event) {
    event.preventDefault();
    if (!prompt.trim() || !chosen) return;
    const history: Message[] = [...messages, { role: 'user', content: prompt }];
    setMessages(history);
    setPrompt('');
    setAnswer('');
    setError(null);
    setFigures(null);
    const controller = new AbortController();
    abort.current = controller;
    setStreaming(true);
    const started = performance.now();
    let firstToken: number | null = null;
    let text = '';
    let pieces = 0;
    let completionTokens: number | null = null;
    try {
      const response = await fetch('/v1/chat/completions', {
        method: 'POST',
        credentials: 'same-origin',
        headers: writeHeaders(),
        body: JSON.stringify({ model: chosen, messages: history, temperature, max_tokens: maxTokens, ...(seed.trim() ? { seed: Number(seed) } : {}), stream: true, stream_options: { include_usage: true } }),
        signal: controller.signal,
      });
      if (!response.ok) {
        const body = (await response.json().catch(() => null)) as { error?: { message?: string } } | null;
        throw new Error(body?.error?.message ?? `HTTP ${response.status}`);
      }
      for await (const delta of chatDeltas(response)) {
        if (delta.usage) completionTokens = delta.usage.completion_tokens;
        if (!delta.content) continue;
        firstToken ??= performance.now();
        pieces++;
        text += delta.content;
        setAnswer(text);
      }
    } catch (failure) {
      if (!controller.signal.aborted) setError((failure as Error).message);
    } finally {
      const ended = performance.now();
      const tokens = completionTokens ?? pieces;
      setFigures({
        ttftMs: firstToken === null ? null : firstToken - started,
        tokensPerS: firstToken !== null && ended > firstToken && tokens > 1 ? ((tokens - 1) * 1000) / (ended - firstToken) : null,
        completionTokens: tokens,
      });
      setMessages([...history, { role: 'assistant', content: text }]);
      setAnswer(null);
      abort.current = null;
      setStreaming(false);
    }
  }

  return (
    <div class="playground">
      <form class="card form-grid" onSubmit={send} aria-label="Chat settings and prompt">
        <label for="pg-model">Model</label>
        <select id="pg-model" value={chosen} onChange={(event) => setModel((event.target as HTMLSelectElement).value)}>
          {(models.data?.data ?? []).map((entry) => <option key={entry.id} value={entry.id}>{entry.id}</option>)}
        </select>
        <label for="pg-temperature">Temperature</label>
        <input id="pg-temperature" type="number" min={0} max={2} step={0.1} value={temperature} onInput={(event) => setTemperature(Number((event.target as HTMLInputElement).value))} />
        <label for="pg-max-tokens">Max tokens</label>
        <input id="pg-max-tokens" type="number" min={1} max={32768} step={1} value={maxTokens} onInput={(event) => setMaxTokens(Number((event.target as HTMLInputElement).value))} />
        <label for="pg-seed">Seed</label>
        <input id="pg-seed" type="number" step={1} placeholder="random" value={seed} onInput={(event) => setSeed((event.target as HTMLInputElement).value)} />
        <label for="pg-prompt">Message</label>
        <textarea id="pg-prompt" rows={3} value={prompt} onInput={(event) => setPrompt((event.target as HTMLTextAreaElement).value)} onKeyDown={(event) => {
          if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) send(event);
        }} />
        <div class="row end span">
          {messages.length > 0 && <button type="button" class="secondary" onClick={() => setMessages([])}>New chat</button>}
          {streaming ? (
            <button type="button" class="danger" onClick={() => abort.current?.abort()}>Stop</button>
          ) : (
            <button type="submit" disabled={!chosen}>Send</button>
          )}
        </div>
      </form>
      <ErrorNote error={models.error ?? error} />
      <section aria-label="Conversation" aria-live="polite" class="conversation">
        {messages.map((message, index) => (
          <div key={index} class={`message ${message.role}`}>
            <div class="muted">{message.role}</div>
            <p>{message.content || <em>(no text)</em>}</p>
          </div>
        ))}
        {answer !== null && (
          <div class="message assistant streaming" data-testid="streaming-answer">
            <div class="muted">assistant (streaming)</div>
            <p>{answer}</p>
          </div>
        )}
      </section>
      {figures && (
        <p class="figures" data-testid="figures">
          TTFT {figures.ttftMs === null ? '—' : `${formatNumber(figures.ttftMs, 0)} ms`} · {figures.tokensPerS === null ? '—' : `${formatNumber(figures.tokensPerS)} tokens/s`} · {figures.completionTokens ?? '—'} tokens
        </p>
      )}
    </div>
  );
}
