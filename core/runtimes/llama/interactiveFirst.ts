// Interactive first: while a live request waits for its first token (its prompt is being
// evaluated), decode steps that would hold only background (batch) sequences are held back, and
// background sequences are left out of the steps that decode live work. A live prompt then takes
// whole decode steps to itself instead of sharing each with up to seven batch lines, which is what
// doubled its TTFT while a batch ran (bench/RESULTS.md, #13). The hold is bounded (1 s per live
// request by default), and batch work resumes the moment the live request has its first token.
//
// A step cannot be interrupted once it runs, so a live prompt that arrives meanwhile waits for it to
// end. Batch lines' prompts are therefore decoded in chunks (backgroundStepTokens): measured on the
// 135M model on 2 cores, a step holding four batch prompts at once (~95 tokens) ran 300–430 ms and
// a live request arriving then waited all of it, while from ~22 tokens up a step costs the same per
// token (~3.8 ms), so chunks of 32 cost the batch nothing. Only where the model computes on the
// CPU: a GPU evaluates a long prompt far more cheaply per token in one step than in chunks (not
// measured here: no GPU).

/** The most tokens background sequences put into one decode step together (see above). */
export const defaultBackgroundStepTokens = 32;

export interface InteractiveFirstOptions {
  /** The longest a live request holds background work back, from when it got its sequence. */
  maxHoldMs?: number;
  /** The most tokens background sequences put into one step together (each still gets one). */
  backgroundStepTokens?: number;
  now?: () => number;
  setTimer?: (callback: () => void, ms: number) => { unref?(): unknown };
  clearTimer?: (timer: unknown) => void;
}

export class InteractiveFirstGate {
  private readonly background = new Set<number>();
  /** Live sequences that have no first token yet, with when they started. */
  private readonly awaiting = new Map<number, number>();
  private resumers: (() => void)[] = [];
  private timer: unknown;
  private readonly maxHoldMs: number;
  private readonly backgroundStepTokens: number;
  private readonly now: () => number;
  private readonly setTimer: NonNullable<InteractiveFirstOptions['setTimer']>;
  private readonly clearTimer: NonNullable<InteractiveFirstOptions['clearTimer']>;

  constructor(options: InteractiveFirstOptions = {}) {
    this.maxHoldMs = options.maxHoldMs ?? 1000;
    this.backgroundStepTokens = options.backgroundStepTokens ?? defaultBackgroundStepTokens;
    this.now = options.now ?? (() => performance.now());
    this.setTimer = options.setTimer ?? ((callback, ms) => setTimeout(callback, ms));
    this.clearTimer = options.clearTimer ?? ((timer) => clearTimeout(timer as NodeJS.Timeout));
  }

  /** A sequence was handed to a request: background (a batch line) or live, then awaiting its first token. */
  started(sequenceId: number, background: boolean): void {
    if (background) this.background.add(sequenceId);
    else this.awaiting.set(sequenceId, this.now());
  }

  /** The live request on this sequence has its first token: background work may share steps again. */
  firstToken(sequenceId: number): void {
    if (this.awaiting.delete(sequenceId)) this.maybeResume();
  }

  /** The request on this sequence is done (with or without tokens). */
  ended(sequenceId: number): void {
    this.background.delete(sequenceId);
    this.firstToken(sequenceId);
  }

  /** How long background work is still held back: 0 when no live request within its bound waits. */
  holdLeftMs(): number {
    const now = this.now();
    let left = 0;
    for (const since of this.awaiting.values()) left = Math.max(left, since + this.maxHoldMs - now);
    return left;
  }

  /** The items of a decode step to decode now. While held: only the non-background ones; when
   *  those are none, undefined, and `resume` is called once the hold ends (first token or bound). */
  select<T>(items: readonly T[], sequenceIdOf: (item: T) => number, resume: () => void): T[] | undefined {
    const holdMs = this.holdLeftMs();
    if (holdMs <= 0) return [...items];
    const live = items.filter((item) => !this.background.has(sequenceIdOf(item)));
    if (live.length > 0) return live;
    this.resumers.push(resume);
    if (this.timer === undefined) {
      const timer = this.setTimer(() => {
        this.timer = undefined;
        this.maybeResume(true);
      }, holdMs + 1);
      timer.unref?.();
      this.timer = timer;
    }
    return undefined;
  }

  /** A step's items with the background ones cut to at most `backgroundStepTokens` tokens together.
   *  Each background item keeps at least one token, so a generating batch line still gains one per
   *  step; what is left of the budget goes to their prompts in step order. */
  limitBackground<T>(items: readonly T[], sequenceIdOf: (item: T) => number, tokensOf: (item: T) => number, withTokens: (item: T, tokens: number) => T): T[] {
    const backgroundItems = items.filter((item) => this.background.has(sequenceIdOf(item))).length;
    let extraLeft = Math.max(0, this.backgroundStepTokens - backgroundItems);
    return items.map((item) => {
      const tokens = tokensOf(item);
      if (tokens <= 1 || !this.background.has(sequenceIdOf(item))) return item;
      const extra = Math.min(tokens - 1, extraLeft);
      extraLeft -= extra;
      return extra === tokens - 1 ? item : withTokens(item, 1 + extra);
    });
  }

  private maybeResume(timedOut = false): void {
    if (this.resumers.length === 0) return;
    const holdMs = this.holdLeftMs();
    if (holdMs > 0) {
      // Another live request still waits within its bound: keep holding until it is done.
      if (timedOut) this.timer = this.setTimer(() => ((this.timer = undefined), this.maybeResume(true)), holdMs + 1);
      return;
    }
    if (this.timer !== undefined) this.clearTimer(this.timer);
    this.timer = undefined;
    const resumers = this.resumers;
    this.resumers = [];
    for (const resume of resumers) resume();
  }
}

/** The id llama.cpp knows a sequence by: internal to node-llama-cpp (3.21.1, the version the
 *  patched decode loop is pinned to), and the only thing the decode loop sees of a sequence. */
export function sequenceIdOf(sequence: object): number {
  return (sequence as { _sequenceId: number })._sequenceId;
}

/** One gate per llama context, shared by the code that hands out sequences and the decode loop. */
const gates = new WeakMap<object, InteractiveFirstGate>();

/** What the gate needs to know of a llama context: whether its model computes on the CPU. */
interface ContextModel {
  model: { gpuLayers: number; llama: { gpu: string | false } };
}

export function interactiveFirstGateOf(context: ContextModel): InteractiveFirstGate {
  let gate = gates.get(context);
  if (!gate) {
    const onCpu = context.model.llama.gpu === false || context.model.gpuLayers === 0;
    gates.set(context, (gate = new InteractiveFirstGate({ backgroundStepTokens: onCpu ? defaultBackgroundStepTokens : Number.POSITIVE_INFINITY })));
  }
  return gate;
}

interface StepItem {
  queuedDecode: { sequenceId: number; tokens: readonly unknown[] };
  /** Tokens of the decode the step takes (node-llama-cpp's prioritization; 0 or less means 1). */
  processAmount: number;
}

/** For the decode loop (yieldingBatchDispatch.ts): a step's queued decodes less the held-back
 *  background ones, and with background prompts cut to their share of the step; undefined when the
 *  whole step is held (the loop then redispatches via `resume`). */
export function holdBackgroundForLiveFirstToken<T extends StepItem>(context: object, ordered: T[] | undefined, resume: () => void): T[] | undefined {
  const gate = gates.get(context);
  if (!gate || !ordered) return ordered;
  const sequenceId = (item: T) => item.queuedDecode.sequenceId;
  const selected = gate.select(ordered, sequenceId, resume);
  if (!selected) return undefined;
  const tokensOf = (item: T) => Math.min(Math.max(1, item.processAmount), item.queuedDecode.tokens.length);
  return gate.limitBackground(selected, sequenceId, tokensOf, (item, tokens) => ({ ...item, processAmount: tokens }));
}
