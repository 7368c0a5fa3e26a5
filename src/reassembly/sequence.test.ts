import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seqAdd, seqDiff } from './sequence.js';
import { connectionKey } from './connection-table.js';
import { RetainedBytes } from './retained-bytes.js';
import { SegmentBuffer } from './segment-buffer.js';

test('seqDiff / seqAdd across the 2^32 wrap', () => {
  const table: [number, number, number][] = [
    [5, 0, 5],
    [0, 5, -5],
    [5, 0xfffffffb, 10],
    [0xfffffffb, 5, -10],
    [0x7fffffff, 0, 0x7fffffff],
    [0x80000000, 0, -0x80000000],
  ];
  for (const [a, b, want] of table) assert.equal(seqDiff(a, b), want, `${a} - ${b}`);
  assert.equal(seqAdd(0xfffffff0, 0x20), 0x10);
  assert.equal(seqAdd(0x10, -0x20), 0xfffffff0);
  assert.equal(seqAdd(1, 2 ** 40), 1);
});

test('connectionKey is the same for both directions, distinct otherwise', () => {
  assert.equal(connectionKey('10.0.0.1', 40000, '10.0.0.2', 25), connectionKey('10.0.0.2', 25, '10.0.0.1', 40000));
  assert.equal(connectionKey('::1', 5, '::1', 9), connectionKey('::1', 9, '::1', 5));
  assert.notEqual(connectionKey('10.0.0.1', 1, '10.0.0.2', 25), connectionKey('10.0.0.1', 2, '10.0.0.2', 25));
  assert.notEqual(connectionKey('1.1.1.1', 11, '1.1.1.2', 1), connectionKey('1.1.1.1', 1, '1.1.1.2', 11));
});

test('RetainedBytes keeps the last bytes across ring wrap and forgets at a discontinuity', () => {
  const r = new RetainedBytes(8);
  const bytes = (s: string) => new Uint8Array(Buffer.from(s, 'latin1'));
  r.record(bytes('abcdef'), 0);
  r.record(bytes('ghijk'), 6); // ring holds "defghijk" at offsets 3..10
  assert.equal(r.countDifferences(bytes('defghijk'), 3), 0);
  assert.equal(r.countDifferences(bytes('dXfghijY'), 3), 2);
  assert.equal(r.countDifferences(bytes('ZZZZZ'), 0), 2, 'only offsets 3..10 are compared');
  r.record(bytes('0123456789'), 11); // longer than the ring
  assert.equal(r.countDifferences(bytes('23456789'), 13), 0);
  r.record(bytes('x'), 30); // after a gap
  assert.equal(r.countDifferences(bytes('9'), 20), 0);
  assert.equal(r.countDifferences(bytes('y'), 30), 1);
  const off = new RetainedBytes(0);
  off.record(bytes('abc'), 0);
  assert.equal(off.countDifferences(bytes('xyz'), 0), 0);
  assert.equal(off.size, 0);
});

test('SegmentBuffer: first seen wins, pieces fill holes, truncate at FIN', () => {
  const b = new SegmentBuffer();
  const at = { frame: 1, ts: { sec: 0, nsec: 0 } };
  const bytes = (s: string) => new Uint8Array(Buffer.from(s, 'latin1'));
  assert.equal(b.insert(bytes('CD'), 12, 0, at, -1), 2);
  assert.equal(b.insert(bytes('GH'), 16, 0, at, -1), 2);
  assert.equal(b.uncoveredBytes(10, 10), 6);
  assert.equal(b.countDifferences(bytes('abcdefghij'), 10), 4);
  assert.equal(b.insert(bytes('abcdefghij'), 10, 0, at, -1), 6);
  assert.equal(b.bytes, 10);
  const got: string[] = [];
  for (let s = b.peek(); s !== undefined; s = b.peek()) {
    b.shift();
    got.push(`${s.start}:${Buffer.from(s.data).toString('latin1')}`);
  }
  assert.deepEqual(got, ['10:ab', '12:CD', '14:ef', '16:GH', '18:ij']);
  assert.equal(b.bytes, 0);
  b.insert(bytes('hello'), 0, 3, at, -1); // [0,8): 5 captured + 3 missing
  b.insert(bytes('zz'), 10, 0, at, -1);
  assert.equal(b.end, 12);
  assert.equal(b.truncateFrom(3), 4);
  assert.equal(b.end, 3);
  assert.equal(b.bytes, 3);
});

test('RetainedBytes grows with the data (small sessions stay small) and matches a plain model', () => {
  const small = new RetainedBytes(4096);
  small.record(new Uint8Array(14), 0);
  small.record(new Uint8Array(8), 14);
  assert.ok(small.size > 0 && small.size <= 64, `a 22-byte stream retains ${small.size} bytes`);
  let seed = 12345;
  const rnd = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  for (const cap of [1, 7, 64, 100, 4096]) {
    const r = new RetainedBytes(cap);
    // Model: every delivered byte by offset, and where the current contiguous run began.
    const all = new Map<number, number>();
    let end = 0;
    let runStart = 0;
    for (let step = 0; step < 300; step++) {
      const gap = rnd(10) === 0 ? 1 + rnd(50) : 0;
      const start = end + gap;
      if (gap > 0) runStart = start;
      const seg = Uint8Array.from({ length: 1 + rnd(rnd(4) === 0 ? 3 * cap + 2 : 40) }, () => rnd(256));
      r.record(seg, start);
      seg.forEach((b, i) => all.set(start + i, b));
      end = start + seg.length;
      assert.ok(r.size <= cap);
      // A probe overlapping the tail of the stream, with some bytes changed.
      const pStart = Math.max(0, end - rnd(cap * 2 + 5));
      const probe = Uint8Array.from({ length: 1 + rnd(cap * 2 + 5) }, (_, i) => {
        const b = all.get(pStart + i) ?? 0;
        return rnd(5) === 0 ? (b + 1) & 255 : b;
      });
      const lo = Math.max(pStart, end - cap, runStart);
      const hi = Math.min(pStart + probe.length, end);
      let want = 0;
      for (let o = lo; o < hi; o++) if (probe[o - pStart] !== all.get(o)) want++;
      assert.equal(r.countDifferences(probe, pStart), want, `cap ${cap} step ${step}`);
    }
  }
});
