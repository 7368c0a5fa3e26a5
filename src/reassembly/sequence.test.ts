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
  assert.equal(b.insert(bytes('CD'), 12, 0, at), 2);
  assert.equal(b.insert(bytes('GH'), 16, 0, at), 2);
  assert.equal(b.uncoveredBytes(10, 10), 6);
  assert.equal(b.countDifferences(bytes('abcdefghij'), 10), 4);
  assert.equal(b.insert(bytes('abcdefghij'), 10, 0, at), 6);
  assert.equal(b.bytes, 10);
  const got: string[] = [];
  for (let s = b.peek(); s !== undefined; s = b.peek()) {
    b.shift();
    got.push(`${s.start}:${Buffer.from(s.data).toString('latin1')}`);
  }
  assert.deepEqual(got, ['10:ab', '12:CD', '14:ef', '16:GH', '18:ij']);
  assert.equal(b.bytes, 0);
  b.insert(bytes('hello'), 0, 3, at); // [0,8): 5 captured + 3 missing
  b.insert(bytes('zz'), 10, 0, at);
  assert.equal(b.end, 12);
  assert.equal(b.truncateFrom(3), 4);
  assert.equal(b.end, 3);
  assert.equal(b.bytes, 3);
});
