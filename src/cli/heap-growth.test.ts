import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HEAP_HEADROOM_BYTES, heapGrowingPercent, startHeapGrowthPolicy } from './heap-growth.js';

const MiB = 1024 * 1024;

test('heap growing percent leaves the fixed headroom, within 15..400 %', () => {
  assert.equal(HEAP_HEADROOM_BYTES, 24 * MiB);
  assert.equal(heapGrowingPercent(24 * MiB), 100);
  assert.equal(heapGrowingPercent(12 * MiB), 200);
  assert.equal(heapGrowingPercent(48 * MiB), 50);
  // Small heaps: capped at 400 % (a tiny heap is not given 24 MiB at once).
  assert.equal(heapGrowingPercent(1 * MiB), 400);
  assert.equal(heapGrowingPercent(0), 400);
  // Large heaps: never below 15 %.
  assert.equal(heapGrowingPercent(1024 * MiB), 15);
  for (let used = 1 * MiB; used < 400 * MiB; used += 7 * MiB) {
    const p = heapGrowingPercent(used);
    assert.ok(p >= 15 && p <= 400);
    // Within the bounds, the headroom is the one asked for (to rounding).
    if (p > 15 && p < 400) assert.ok(Math.abs((used * p) / 100 - HEAP_HEADROOM_BYTES) < used / 100);
  }
});

test('the heap growth policy runs on a timer that never keeps the process alive', async () => {
  const stop = startHeapGrowthPolicy(5);
  await new Promise((r) => setTimeout(r, 30));
  stop();
});
