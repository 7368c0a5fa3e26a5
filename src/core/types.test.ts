import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_TS_SEC, MIN_TS_SEC, clampTimestamp, compareTs, isoTime } from './types.js';

/** The plain formula isoTime must agree with (Date for the second, nine digits of nanoseconds). */
function reference(sec: number, nsec: number): string {
  return `${new Date(sec * 1000).toISOString().slice(0, 19)}.${String(nsec).padStart(9, '0')}Z`;
}

test('isoTime: nine fractional digits, also when consecutive calls change or repeat the second', () => {
  const cases: [number, number][] = [
    [0, 0],
    [1715587200, 5],
    [1715587200, 123456789],
    [1715587200, 123456789],
    [1715587201, 100000000],
    [1715587200, 99999999],
    [-1, 999999999],
    [4102444800, 42],
    [1715587201, 0],
  ];
  for (const [sec, nsec] of cases) assert.equal(isoTime({ sec, nsec }), reference(sec, nsec), `${sec}.${nsec}`);
  assert.equal(isoTime({ sec: 1715587200, nsec: 5 }), '2024-05-13T08:00:00.000000005Z');
  // Random order, so the one-second cache is hit and missed in every combination.
  let x = 12345;
  for (let i = 0; i < 2000; i++) {
    // xorshift32
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const sec = 1700000000 + ((x >>> 0) % 3);
    const nsec = (x >>> 0) % 1000000000;
    assert.equal(isoTime({ sec, nsec }), reference(sec, nsec));
  }
});

test('isoTime: never throws; a time outside the years 0000-9999 is formatted clamped to them', () => {
  assert.equal(isoTime({ sec: MAX_TS_SEC, nsec: 999999999 }), '9999-12-31T23:59:59.999999999Z');
  assert.equal(isoTime({ sec: MIN_TS_SEC, nsec: 0 }), '0000-01-01T00:00:00.000000000Z');
  // Beyond what a Date holds (8.64e12 s), just past the range, NaN; then a normal time again
  // (the one-second cache must not keep the clamped text).
  const cases: [number, string][] = [
    [2 ** 64, '9999-12-31T23:59:59.999999999Z'],
    [MAX_TS_SEC + 1, '9999-12-31T23:59:59.999999999Z'],
    [-(2 ** 63), '0000-01-01T00:00:00.000000000Z'],
    [MIN_TS_SEC - 1, '0000-01-01T00:00:00.000000000Z'],
    [Number.NaN, '0000-01-01T00:00:00.000000000Z'],
  ];
  for (let round = 0; round < 300; round++) {
    for (const [sec, want] of cases) assert.equal(isoTime({ sec, nsec: 5 }), want, `${sec}`);
    assert.equal(isoTime({ sec: 1715587200, nsec: 5 }), '2024-05-13T08:00:00.000000005Z');
  }
  assert.deepEqual(clampTimestamp({ sec: 1715587200, nsec: 7 }), { sec: 1715587200, nsec: 7 });
  assert.deepEqual(clampTimestamp({ sec: 2 ** 64, nsec: 7 }), { sec: MAX_TS_SEC, nsec: 999999999 });
  assert.deepEqual(clampTimestamp({ sec: -(2 ** 63), nsec: 7 }), { sec: MIN_TS_SEC, nsec: 0 });
});

test('compareTs: the sign of (a - b) for any pair of timestamps, 0 only when equal', () => {
  const secs = [0, 1, 59, 1715587200, 1715587201, 2 ** 32 - 1, 4102444800];
  const nsecs = [0, 1, 500000000, 999999998, 999999999];
  const ts = secs.flatMap((sec) => nsecs.map((nsec) => ({ sec, nsec })));
  for (const a of ts) {
    for (const b of ts) {
      const want = a.sec !== b.sec ? Math.sign(a.sec - b.sec) : Math.sign(a.nsec - b.nsec);
      assert.equal(Math.sign(compareTs(a, b)), want, `${a.sec}.${a.nsec} vs ${b.sec}.${b.nsec}`);
    }
  }
});
