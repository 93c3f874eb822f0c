// A runtime patch of node-llama-cpp 3.21.1's LlamaContext.dispatchPendingBatch: the decode loop
// gives the context's lock back between batches, so that a request arriving while others generate
// joins at the next decode step instead of after they all end.
//
// Why: node-llama-cpp decodes every queued sequence in a `while (shouldHaveAnotherLoop)` loop that
// holds the ["context"] lock for as long as any sequence keeps queuing tokens. Anything else that
// needs that lock — erasing a reused sequence's old tokens before a new prompt
// (LlamaContextSequence._eraseContextTokenRanges), a context shift, a checkpoint — waits until
// every other generation on the context has finished. The lock is FIFO (lifecycle-utils), so
// ending each hold after one batch and queuing the next dispatch behind the current waiters lets
// them in between two decode steps.
//
// Each step also waits (at most two setImmediate rounds) for the sequences the previous step decoded
// to queue their next token, so that all generating sequences share every step (waitForStragglers).
//
// Why a runtime patch: a postinstall patch does not reliably reach node-llama-cpp inside a
// consumer's node_modules; this runs wherever llmsvc runs. It is applied only to the exact version
// it was written against (the internals it relies on change between releases) and says so loudly
// otherwise. The body below is node-llama-cpp 3.21.1's own (dist/evaluator/LlamaContext/
// LlamaContext.js, dispatchPendingBatch), with the changes marked "llmsvc:".
import { getModuleVersion, LlamaContext, TokenMeter, type Token } from 'node-llama-cpp';
import { holdBackgroundForLiveFirstToken } from './interactiveFirst.js';
import { importNodeLlamaCppInternal } from './nodeLlamaCppInternals.js';

export const patchedNodeLlamaCppVersion = '3.21.1';

export type PatchOutcome = { applied: true } | { applied: false; reason: string };

export interface BatchDispatchOptions {
  /** Add a batch's items in increasing sequence id order. llama.cpp puts only consecutive,
   *  increasing sequence ids into one micro-batch (llama_batch_allocr::split_equal), so items in
   *  queuing order can turn one step into several graph passes. */
  sortBySequenceId: boolean;
  /** Before a step, wait at most this many event-loop rounds (setImmediate) for sequences that the
   *  previous step decoded and that have not queued their next token yet (see waitForStragglers);
   *  0 dispatches at once, as node-llama-cpp does. */
  stragglerWaitRounds: number;
}

export const defaultBatchDispatchOptions: BatchDispatchOptions = { sortBySequenceId: true, stragglerWaitRounds: 2 };

// ---- the internals of LlamaContext 3.21.1 that the loop uses --------------------------------------

interface QueuedDecode {
  sequenceId: number;
  tokens: Token[];
  logits: boolean[];
  firstTokenSequenceIndex: number;
  evaluationPriority: number;
  tokenMeter: Parameters<typeof TokenMeter.useTokens>[0];
  response: [accept: (value: unknown) => void, reject: (error: unknown) => void];
  logitDataMapper(batchLogitIndex: number, tokenIndex: number): unknown;
  afterBatchAction?: (sequenceStateLength: number) => unknown;
}

interface BatchItem {
  tokens: readonly Token[];
  logits: readonly boolean[];
  evaluationPriority: number;
}

type PrioritizationStrategy = (options: { items: readonly BatchItem[]; size: number }) => { item: BatchItem; processAmount: number }[];

interface Disposable {
  dispose(): void;
}

interface ContextInternals {
  _ctx: {
    initBatch(size: number): void;
    addToBatch(sequenceId: number, firstTokenIndex: number, tokens: Uint32Array, logitIndexes: Uint32Array): ArrayLike<number>;
    setThreads(threads: number): void;
    decodeBatch(): Promise<void>;
  };
  _llama: { gpu: string | false };
  _batchSize: number;
  _queuedDecodes: QueuedDecode[];
  _queuedDecodeSequenceIds: Set<number>;
  _currentDispatchBatchHandle: object;
  _dispatchDecodeScheduled: boolean;
  _batchDispatchPending: boolean;
  _batchingOptions: { itemPrioritizationStrategy: unknown };
  _threadSplitterConsumer?: { getAllocationToConsume(): AllocationResult | Promise<AllocationResult> };
  _backendContextDisposeGuard: { createPreventDisposalHandle(): Disposable };
  _ensureNotDisposed(): void;
  _dispatchErrorForQueuedDecodesAndDequeue(decodes: Set<QueuedDecode>, error: unknown): void;
  _reserveThreads(): void;
  _scheduleDecode(): void;
  _scheduleToFreeReservedThreads(): void;
  dispatchPendingBatch(): void;
}

type AllocationResult = [threads: number, handle: Disposable] | undefined | null;

/** The members of node-llama-cpp that must be the very same instances: its lock registry above all. */
interface Internals {
  withLock<T>(scope: unknown[], callback: () => Promise<T>): Promise<T>;
  acquireLock(scope: unknown[]): Promise<Disposable>;
  resolveBatchItemsPrioritizationStrategy(strategy: unknown): PrioritizationStrategy;
}

const internalMembers = ['_ctx', '_queuedDecodes', '_batchingOptions', '_backendContextDisposeGuard'] as const;
const internalMethods = ['_scheduleDecode', '_ensureNotDisposed', '_dispatchErrorForQueuedDecodesAndDequeue', '_reserveThreads', '_scheduleToFreeReservedThreads'] as const;

async function loadInternals(): Promise<Internals> {
  const lifecycleUtils = (await importNodeLlamaCppInternal('lifecycle-utils')) as unknown as Pick<Internals, 'withLock' | 'acquireLock'>;
  const strategies = (await importNodeLlamaCppInternal('./evaluator/LlamaContext/utils/resolveBatchItemsPrioritizationStrategy.js')) as unknown as Pick<
    Internals,
    'resolveBatchItemsPrioritizationStrategy'
  >;
  return { withLock: lifecycleUtils.withLock, acquireLock: lifecycleUtils.acquireLock, resolveBatchItemsPrioritizationStrategy: strategies.resolveBatchItemsPrioritizationStrategy };
}

// ---- the patched dispatch ---------------------------------------------------------------------------

/** node-llama-cpp's workaround that keeps Vulkan from decoding on several contexts at once; every
 *  context runs this dispatch once patched, so one lock object of ours serves them all. */
const vulkanDecodeLock = {};

/** Per context: the sequences whose decode the last step finished (each is now sampling and
 *  running its onToken before it queues its next token), and since when a step waits for them. */
interface StragglerState {
  decodedLastStep: Set<number>;
  /** Event-loop rounds this step has waited so far. */
  rounds: number;
}
const stragglerStates = new WeakMap<object, StragglerState>();

function stragglerStateOf(context: object): StragglerState {
  let state = stragglerStates.get(context);
  if (!state) stragglerStates.set(context, (state = { decodedLastStep: new Set(), rounds: 0 }));
  return state;
}

/** Logits of a decode split over several batches, gathered until its last batch. node-llama-cpp
 *  keeps them in a map local to one lock hold; a hold is now one batch, so they live here. */
const mappedLogitsOf = new WeakMap<QueuedDecode, [number, unknown][]>();

function makeDispatch(internals: Internals, options: BatchDispatchOptions) {
  const { withLock, acquireLock, resolveBatchItemsPrioritizationStrategy } = internals;

  function orderedQueuedDecodes(context: ContextInternals, strategy: PrioritizationStrategy) {
    const queuedDecodeOf = new Map<BatchItem, QueuedDecode>();
    const items: BatchItem[] = [];
    for (const queuedDecode of context._queuedDecodes) {
      const item: BatchItem = { tokens: queuedDecode.tokens, logits: queuedDecode.logits, evaluationPriority: queuedDecode.evaluationPriority };
      queuedDecodeOf.set(item, queuedDecode);
      items.push(item);
    }
    let prioritized;
    try {
      prioritized = strategy({ items, size: context._batchSize });
    } catch (error) {
      context._dispatchErrorForQueuedDecodesAndDequeue(new Set(context._queuedDecodes), error);
      return undefined;
    }
    return prioritized.map(({ item, processAmount }) => {
      const queuedDecode = queuedDecodeOf.get(item);
      if (queuedDecode == null)
        throw new Error(
          'Received invalid batch item. Make sure you keep the original object reference of the batch item on `item` on `PrioritizedBatchItem` in your custom prioritization strategy',
        );
      return { queuedDecode, processAmount };
    });
  }

  function fitToBatch(ordered: { queuedDecode: QueuedDecode; processAmount: number }[], batchSize: number) {
    const items: { queuedDecode: QueuedDecode; processAmount: number }[] = [];
    let size = 0;
    let slotsLeft = batchSize;
    for (const { queuedDecode, processAmount } of ordered) {
      const amount = Math.min(processAmount <= 0 ? 1 : processAmount, queuedDecode.tokens.length, slotsLeft);
      if (amount <= 0) {
        if (slotsLeft === 0) break;
        continue;
      }
      slotsLeft -= amount;
      size += amount;
      items.push({ queuedDecode, processAmount: amount });
    }
    return { items, size };
  }

  interface AfterDecodeAction {
    queuedDecode: QueuedDecode;
    batchLogitIndexes: ArrayLike<number>;
    batchLogitTokenIndexes: number[];
    firstTokenIndex: number;
    sequenceStateLength: number;
    returnResults?: true;
  }

  async function decodeBatchItems(context: ContextInternals, items: { queuedDecode: QueuedDecode; processAmount: number }[], batchSize: number) {
    const afterDecodeActions: AfterDecodeAction[] = [];
    const queuedDecodesToDelete = new Set<QueuedDecode>();
    const currentQueuedDecodeItems = new Set<QueuedDecode>();
    if (batchSize !== 0) context._ctx.initBatch(batchSize);
    // llmsvc: tokens go into the batch in sequence id order, so that llama.cpp decodes the step in as
    // few passes as it can; the results are still handed out in queue order (below), so the
    // sequence that queued last is not always the last to sample and the first to miss a step.
    const actionOf = new Map<QueuedDecode, AfterDecodeAction>();
    const batchOrder = options.sortBySequenceId ? [...items].sort((a, b) => a.queuedDecode.sequenceId - b.queuedDecode.sequenceId) : items;
    for (const { queuedDecode, processAmount } of batchOrder) {
      let batchLogitIndexes;
      const tokensToProcess = queuedDecode.tokens.slice(0, processAmount);
      const tokenIndexesWithLogitsToProcess = queuedDecode.logits
        .slice(0, processAmount)
        .map((logit, index) => (logit ? index : undefined))
        .filter((index): index is number => index != undefined);
      const numberOfOutputTokens = tokenIndexesWithLogitsToProcess.length;
      TokenMeter.useTokens(queuedDecode.tokenMeter, Math.max(0, tokensToProcess.length - numberOfOutputTokens), 'input');
      TokenMeter.useTokens(queuedDecode.tokenMeter, numberOfOutputTokens, 'output');
      try {
        batchLogitIndexes = context._ctx.addToBatch(
          queuedDecode.sequenceId,
          queuedDecode.firstTokenSequenceIndex,
          Uint32Array.from(tokensToProcess),
          Uint32Array.from(tokenIndexesWithLogitsToProcess),
        );
      } catch (error) {
        context._dispatchErrorForQueuedDecodesAndDequeue(new Set([queuedDecode]), error);
        continue;
      }
      currentQueuedDecodeItems.add(queuedDecode);
      const action = {
        queuedDecode,
        batchLogitIndexes,
        batchLogitTokenIndexes: tokenIndexesWithLogitsToProcess,
        firstTokenIndex: queuedDecode.firstTokenSequenceIndex,
        sequenceStateLength: queuedDecode.firstTokenSequenceIndex + processAmount + 1,
      };
      if (queuedDecode.tokens.length === processAmount) {
        queuedDecodesToDelete.add(queuedDecode);
        actionOf.set(queuedDecode, { ...action, returnResults: true });
      } else {
        if (batchLogitIndexes.length > 0 || queuedDecode.afterBatchAction != null) actionOf.set(queuedDecode, action);
        queuedDecode.tokens = queuedDecode.tokens.slice(processAmount);
        queuedDecode.logits = queuedDecode.logits.slice(processAmount);
        queuedDecode.firstTokenSequenceIndex += processAmount;
      }
    }
    const decodedThisStep = stragglerStateOf(context).decodedLastStep;
    decodedThisStep.clear();
    for (const queuedDecode of queuedDecodesToDelete) decodedThisStep.add(queuedDecode.sequenceId);
    for (const { queuedDecode } of items) {
      const action = actionOf.get(queuedDecode);
      if (action) afterDecodeActions.push(action);
    }
    for (let i = 0; i < context._queuedDecodes.length; i++) {
      const queuedDecode = context._queuedDecodes[i]!;
      if (queuedDecodesToDelete.has(queuedDecode)) {
        context._queuedDecodes.splice(i, 1);
        context._queuedDecodeSequenceIds.delete(queuedDecode.sequenceId);
        i--;
      }
    }
    if (batchSize !== 0) {
      const allocation = context._threadSplitterConsumer?.getAllocationToConsume();
      const [threadsToUse, consumerHandle] = (allocation instanceof Promise ? ((await allocation) ?? []) : (allocation ?? [])) as [number?, Disposable?];
      try {
        if (threadsToUse != null) context._ctx.setThreads(threadsToUse);
        await context._ctx.decodeBatch();
        consumerHandle?.dispose();
      } catch (error) {
        consumerHandle?.dispose();
        context._dispatchErrorForQueuedDecodesAndDequeue(currentQueuedDecodeItems, error);
        return;
      }
    }
    function finishAfterDecodeAction(action: AfterDecodeAction, mappedLogitValues?: [number, unknown][]) {
      if (mappedLogitValues != null && mappedLogitValues.length > 0) {
        const gathered = mappedLogitsOf.get(action.queuedDecode);
        if (gathered) gathered.push(...mappedLogitValues);
        else mappedLogitsOf.set(action.queuedDecode, mappedLogitValues);
      }
      if (action.returnResults != null) {
        const [accept] = action.queuedDecode.response;
        const mappedLogits = mappedLogitsOf.get(action.queuedDecode) ?? [];
        mappedLogitsOf.delete(action.queuedDecode);
        accept(mappedLogits);
      }
    }
    const afterDecodeActionResults = afterDecodeActions.map((action) => {
      if (action.batchLogitIndexes.length === 0) {
        finishAfterDecodeAction(action);
        return undefined;
      }
      const mappedLogitValues: ([number, unknown] | Promise<[number, unknown]>)[] = [];
      let promiseChain: Promise<unknown> | undefined = undefined;
      const { batchLogitIndexes, batchLogitTokenIndexes } = action;
      for (let i = 0; i < batchLogitIndexes.length; i++) {
        const tokenIndex = batchLogitTokenIndexes[i]!;
        const mappedValue: unknown =
          promiseChain != null
            ? promiseChain.then(() => action.queuedDecode.logitDataMapper(batchLogitIndexes[i]!, tokenIndex + action.firstTokenIndex))
            : action.queuedDecode.logitDataMapper(batchLogitIndexes[i]!, tokenIndex + action.firstTokenIndex);
        if (mappedValue instanceof Promise) {
          promiseChain = mappedValue;
          mappedLogitValues.push(mappedValue.then((value): [number, unknown] => [tokenIndex + action.firstTokenIndex, value]));
        } else mappedLogitValues.push([tokenIndex + action.firstTokenIndex, mappedValue]);
      }
      if (promiseChain != null) return Promise.all(mappedLogitValues).then((resolved) => finishAfterDecodeAction(action, resolved));
      finishAfterDecodeAction(action, mappedLogitValues as [number, unknown][]);
      return undefined;
    });
    await Promise.all(afterDecodeActionResults);
    for (const action of afterDecodeActions) {
      const result = action.queuedDecode.afterBatchAction?.(action.sequenceStateLength);
      if (result instanceof Promise) await result;
    }
  }

  /** True when this step should wait one more event-loop round: a sequence the last step decoded
   *  has not queued its next token yet, and the wait has not reached its bound. The loop below
   *  redispatches as soon as one step ends, before the promise callbacks that carry each result
   *  through sampling, the generator and onToken to the next evaluation have all run; one
   *  setImmediate round lets them (measured: 8 streams of the tiny model, 6.2–7.0 tokens per step
   *  without, 8.00 with). A sequence whose generation ended never comes: the bound keeps that
   *  cheap (a few dozen µs). */
  function waitForStragglers(context: ContextInternals): boolean {
    const state = stragglerStateOf(context);
    let missing = false;
    for (const sequenceId of state.decodedLastStep) if (!context._queuedDecodeSequenceIds.has(sequenceId)) missing = true;
    if (missing && state.rounds < options.stragglerWaitRounds) {
      state.rounds++;
      return true;
    }
    state.rounds = 0;
    return false;
  }

  /** node-llama-cpp schedules a dispatch on the next event-loop round (setImmediate) whenever a
   *  decode is queued, to gather the other sequences' tokens into the same step; it dispatches at
   *  once only when every sequence of the context has queued. llmsvc: also at once when every
   *  sequence the last step decoded has queued its next token, for nothing else is coming (one
   *  stream: each token skipped a round of the runtime thread's event loop). */
  function scheduleDecode(this: ContextInternals, original: () => void): void {
    if (!this._batchDispatchPending && everyLastStepSequenceQueued(this)) this.dispatchPendingBatch();
    else original.call(this);
  }

  function everyLastStepSequenceQueued(context: ContextInternals): boolean {
    const { decodedLastStep } = stragglerStateOf(context);
    if (decodedLastStep.size === 0) return false;
    for (const sequenceId of decodedLastStep) if (!context._queuedDecodeSequenceIds.has(sequenceId)) return false;
    return true;
  }

  const dispatchPendingBatch = function dispatchPendingBatch(this: ContextInternals): void {
    this._currentDispatchBatchHandle = {};
    this._dispatchDecodeScheduled = false;
    if (this._batchDispatchPending) return;
    this._batchDispatchPending = true;
    void withLock([this, 'context'], async () => {
      this._currentDispatchBatchHandle = {};
      this._dispatchDecodeScheduled = false;
      this._batchDispatchPending = false;
      if (this._queuedDecodes.length === 0) return;
      // llmsvc: let the sequences of the last step join this one (waitForStragglers); the lock is
      // given back meanwhile.
      if (waitForStragglers(this)) {
        setImmediate(() => this.dispatchPendingBatch());
        return;
      }
      let strategy: PrioritizationStrategy;
      try {
        this._ensureNotDisposed();
        strategy = resolveBatchItemsPrioritizationStrategy(this._batchingOptions.itemPrioritizationStrategy);
      } catch (error) {
        this._dispatchErrorForQueuedDecodesAndDequeue(new Set(this._queuedDecodes), error);
        return;
      }
      let decodedSome = false;
      this._reserveThreads();
      try {
        // llmsvc: a live prompt awaiting its first token decodes without batch sequences, and batch
        // prompts are decoded in chunks (interactiveFirst.ts).
        const ordered = holdBackgroundForLiveFirstToken(this, orderedQueuedDecodes(this, strategy), () => this.dispatchPendingBatch());
        if (ordered == null) return; // all queued items are rejected and dequeued, or held back
        const { items, size } = fitToBatch(ordered, this._batchSize);
        let preventDisposalHandle: Disposable;
        try {
          preventDisposalHandle = this._backendContextDisposeGuard.createPreventDisposalHandle();
        } catch (error) {
          this._dispatchErrorForQueuedDecodesAndDequeue(new Set(this._queuedDecodes), error);
          return;
        }
        const decodeLock = this._llama.gpu === 'vulkan' ? await acquireLock([vulkanDecodeLock, 'decode']) : undefined;
        try {
          await decodeBatchItems(this, items, size);
          decodedSome = items.length > 0;
        } finally {
          decodeLock?.dispose();
          preventDisposalHandle.dispose();
        }
      } finally {
        this._scheduleToFreeReservedThreads();
        // llmsvc: instead of looping while decodes are queued, end this hold after one batch and
        // queue the next dispatch behind whoever waits for the lock now (FIFO).
        if (decodedSome && this._queuedDecodes.length > 0) this.dispatchPendingBatch();
      }
    });
  };
  return { dispatchPendingBatch, scheduleDecode };
}

/** Puts the patched methods on a LlamaContext prototype or instance. */
function install(target: ContextInternals, patched: ReturnType<typeof makeDispatch>): void {
  const originalScheduleDecode = originalSchedule;
  target.dispatchPendingBatch = patched.dispatchPendingBatch;
  target._scheduleDecode = function (this: ContextInternals) {
    patched.scheduleDecode.call(this, originalScheduleDecode);
  };
}

// ---- installation --------------------------------------------------------------------------------

const prototype = LlamaContext.prototype as unknown as ContextInternals;
const originalDispatch = prototype.dispatchPendingBatch;
const originalSchedule = prototype._scheduleDecode;

/** Why the patch cannot be applied to the installed node-llama-cpp, or undefined when it can. */
async function incompatibility(): Promise<string | undefined> {
  const version = await getModuleVersion().catch(() => 'unknown');
  if (version !== patchedNodeLlamaCppVersion) return `node-llama-cpp is ${version}, and the patch was written for ${patchedNodeLlamaCppVersion}`;
  if (typeof originalDispatch !== 'function' || !originalDispatch.toString().includes('shouldHaveAnotherLoop'))
    return 'LlamaContext.dispatchPendingBatch is not the loop the patch replaces';
  for (const method of internalMethods) if (typeof (prototype as unknown as Record<string, unknown>)[method] !== 'function') return `LlamaContext.${method} is missing`;
  return undefined;
}

let installing: Promise<PatchOutcome> | undefined;

/** Patches every LlamaContext of this process (once; later calls return the first outcome). Call
 *  before creating contexts. */
export function installYieldingBatchDispatch(options: BatchDispatchOptions = defaultBatchDispatchOptions): Promise<PatchOutcome> {
  installing ??= (async (): Promise<PatchOutcome> => {
    const reason = await incompatibility();
    if (reason) return { applied: false, reason };
    const internals = await loadInternals();
    install(prototype, makeDispatch(internals, options));
    return { applied: true };
  })().catch((error: unknown) => ({ applied: false, reason: (error as Error).message }));
  return installing;
}

/** Applies the patch to one context only (the benchmark compares patched and unpatched contexts
 *  in one process). The instance must expose the internals the patch uses. */
export async function yieldBetweenBatches(context: LlamaContext, options: BatchDispatchOptions = defaultBatchDispatchOptions): Promise<PatchOutcome> {
  const reason = await incompatibility();
  if (reason) return { applied: false, reason };
  const instance = context as unknown as ContextInternals;
  for (const member of internalMembers) if (!(member in instance)) return { applied: false, reason: `LlamaContext.${member} is missing` };
  install(instance, makeDispatch(await loadInternals(), options));
  return { applied: true };
}

