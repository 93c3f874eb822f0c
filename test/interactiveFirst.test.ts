import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InteractiveFirstGate } from '../core/runtimes/llama/interactiveFirst.js';

/** A fake clock and timer queue: time moves only when the test says so. */
function fakeClock() {
  let now = 0;
  const timers: { at: number; callback: () => void; cleared: boolean }[] = [];
  return {
    now: () => now,
    setTimer: (callback: () => void, ms: number) => {
      const timer = { at: now + ms, callback, cleared: false };
      timers.push(timer);
      return timer;
    },
    clearTimer: (timer: unknown) => {
      (timer as { cleared: boolean }).cleared = true;
    },
    advance(ms: number) {
      now += ms;
      for (const timer of timers.splice(0).filter((t) => !t.cleared)) {
        if (timer.at <= now) timer.callback();
        else timers.push(timer);
      }
    },
  };
}

/** A dispatcher stand-in: queued decodes by sequence id, and a step that asks the gate what to decode. */
function fakeDispatcher(gate: InteractiveFirstGate) {
  const decoded: number[][] = [];
  let resumed = 0;
  return {
    decoded,
    get resumed() {
      return resumed;
    },
    step(queued: number[]) {
      const items = gate.select(queued, (id) => id, () => resumed++);
      if (items) decoded.push(items);
      return items;
    },
  };
}

const batchA = 1;
const batchB = 2;
const live = 7;

test('a background-only step is held while a live request awaits its first token, and released when it gets it', () => {
  const clock = fakeClock();
  const gate = new InteractiveFirstGate({ maxHoldMs: 1000, ...clock });
  const dispatcher = fakeDispatcher(gate);
  gate.started(batchA, true);
  gate.started(batchB, true);
  assert.deepEqual(dispatcher.step([batchA, batchB]), [batchA, batchB], 'no live request: batch work decodes');

  gate.started(live, false);
  assert.equal(dispatcher.step([batchA, batchB]), undefined, 'held while the live prompt has not been queued yet');
  assert.deepEqual(dispatcher.step([batchA, live, batchB]), [live], 'the live prompt decodes without batch sequences');
  clock.advance(100);
  assert.equal(dispatcher.resumed, 0);

  gate.firstToken(live);
  assert.equal(dispatcher.resumed, 1, 'the held dispatch resumes at the first token');
  assert.deepEqual(dispatcher.step([batchA, live, batchB]), [batchA, live, batchB], 'batch work shares steps again');
  clock.advance(5000);
  assert.equal(dispatcher.resumed, 1, 'the cleared bound timer does not resume again');
});

test('the hold ends after its bound even without a first token', () => {
  const clock = fakeClock();
  const gate = new InteractiveFirstGate({ maxHoldMs: 1000, ...clock });
  const dispatcher = fakeDispatcher(gate);
  gate.started(batchA, true);
  gate.started(live, false);
  clock.advance(400);
  assert.equal(dispatcher.step([batchA]), undefined);
  clock.advance(500);
  assert.equal(dispatcher.resumed, 0, 'still within the bound');
  clock.advance(200);
  assert.equal(dispatcher.resumed, 1, 'released once the live request has waited 1 s');
  assert.deepEqual(dispatcher.step([batchA]), [batchA]);
});

test('a live request that ends without a token releases the hold; background sequences freed become live ones', () => {
  const clock = fakeClock();
  const gate = new InteractiveFirstGate({ maxHoldMs: 1000, ...clock });
  const dispatcher = fakeDispatcher(gate);
  gate.started(batchA, true);
  gate.started(live, false);
  assert.equal(dispatcher.step([batchA]), undefined);
  gate.ended(live);
  assert.equal(dispatcher.resumed, 1);
  gate.ended(batchA);
  gate.started(batchA, false);
  assert.deepEqual(dispatcher.step([batchA, live]), [batchA, live], 'a reused sequence id is live now, and not held back');
});

test("batch prompts are cut to the step's background budget; live prompts and generating batch lines are not", () => {
  const gate = new InteractiveFirstGate({ backgroundStepTokens: 8 });
  const batchC = 3;
  gate.started(batchA, true);
  gate.started(batchB, true);
  gate.started(batchC, true);
  gate.started(live, false);
  gate.firstToken(live);
  // [sequence id, tokens the step would take]: A generates (1 token), B and C have prompts of 20, live has a prompt of 30.
  const step: [number, number][] = [
    [batchA, 1],
    [batchB, 20],
    [live, 30],
    [batchC, 20],
  ];
  const limited = gate.limitBackground(step, ([id]) => id, ([, tokens]) => tokens, ([id], tokens) => [id, tokens]);
  assert.deepEqual(limited, [
    [batchA, 1],
    [batchB, 6],
    [live, 30],
    [batchC, 1],
  ], 'A keeps its token, B gets the rest of the 8, C still gets one, the live prompt is whole');

  const gpuGate = new InteractiveFirstGate({ backgroundStepTokens: Number.POSITIVE_INFINITY });
  for (const id of [batchA, batchB, batchC]) gpuGate.started(id, true);
  assert.deepEqual(gpuGate.limitBackground(step, ([id]) => id, ([, tokens]) => tokens, ([id], tokens) => [id, tokens]), step, 'no budget (a model on a GPU): prompts are whole');
  assert.equal(limited[2], step[2], 'items left whole are the same objects');

  const small: [number, number][] = [
    [batchA, 1],
    [batchB, 3],
  ];
  assert.deepEqual(gate.limitBackground(small, ([id]) => id, ([, tokens]) => tokens, ([id], tokens) => [id, tokens]), small, 'within the budget nothing changes');
});
