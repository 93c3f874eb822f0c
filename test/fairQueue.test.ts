import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FairQueue, type Ticket } from '../core/runtimes/scheduler/fairQueue.js';

const drain = <T>(queue: FairQueue<T>) => {
  const out: T[] = [];
  for (let item = queue.shift(); item !== undefined; item = queue.shift()) out.push(item);
  return out;
};
const ticket = (caller: string, user?: string, priority: Ticket['priority'] = 'interactive'): Ticket => ({ caller, user, priority });

test("a flood from one caller does not delay another caller's single request", () => {
  const queue = new FairQueue<string>();
  for (let i = 0; i < 50; i++) queue.push(ticket('flood'), `flood-${i}`);
  queue.push(ticket('lone'), 'lone');
  const order = drain(queue);
  assert.ok(order.indexOf('lone') <= 1, `lone served at position ${order.indexOf('lone')}`);
  assert.equal(order.length, 51);
});

test('callers alternate; within a caller, its users alternate', () => {
  const queue = new FairQueue<string>();
  for (const item of ['a1', 'a2', 'a3']) queue.push(ticket('A', 'u1'), item);
  for (const item of ['b1', 'b2']) queue.push(ticket('A', 'u2'), item);
  for (const item of ['c1', 'c2']) queue.push(ticket('C'), item);
  assert.deepEqual(drain(queue), ['a1', 'c1', 'b1', 'c2', 'a2', 'b2', 'a3']);
});

test('interactive work goes before background work', () => {
  const queue = new FairQueue<string>();
  queue.push(ticket('batch', undefined, 'background'), 'bg1');
  queue.push(ticket('batch', undefined, 'background'), 'bg2');
  queue.push(ticket('person'), 'fg1');
  assert.deepEqual(drain(queue), ['fg1', 'bg1', 'bg2']);
});

test('a caller that was idle banks no credit', () => {
  const queue = new FairQueue<string>();
  for (let i = 0; i < 4; i++) queue.push(ticket('A'), `a${i}`);
  queue.push(ticket('B'), 'b0');
  assert.deepEqual([queue.shift(), queue.shift(), queue.shift()], ['a0', 'b0', 'a1']);
  // B comes back after a while: it takes its turn at once (A was just served), then shares;
  // it does not get a burst of turns for the time it was away.
  queue.push(ticket('B'), 'b1');
  queue.push(ticket('B'), 'b2');
  assert.deepEqual(drain(queue), ['b1', 'a2', 'b2', 'a3']);
});

test('removing a waiter keeps the count and the order right', () => {
  const queue = new FairQueue<string>();
  queue.push(ticket('A'), 'a0');
  queue.push(ticket('B'), 'b0');
  queue.push(ticket('A'), 'a1');
  assert.ok(queue.remove('b0'));
  assert.ok(!queue.remove('missing'));
  assert.equal(queue.size, 2);
  assert.deepEqual(drain(queue), ['a0', 'a1']);
  assert.equal(queue.size, 0);
});
