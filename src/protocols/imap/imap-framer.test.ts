import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { At } from '../../core/types.js';
import { ImapFramer } from './imap-framer.js';
import type { LiteralValue } from './imap-tokenizer.js';

const AT: At = { frame: 1, ts: { sec: 0, nsec: 0 } };

function run(input: Buffer, route: 'keep' | 'stream', maxKeep = 1024) {
  const ev: string[] = [];
  const data: Uint8Array[] = [];
  const ends: LiteralValue[] = [];
  const f = new ImapFramer(
    {
      onSegment: (seg, lit) => {
        ev.push(`seg:${Buffer.from(seg).toString('latin1')}${lit ? `+${lit.size}` : ''}`);
        return route;
      },
      onLiteralData: (b) => data.push(b),
      onLiteralGap: (n) => ev.push(`gap:${n}`),
      onLiteralEnd: (v) => {
        ends.push(v);
        ev.push(`end:${v.size}/${v.missing}`);
      },
      onAnomaly: (c) => ev.push(`anomaly:${c}`),
    },
    1024,
    maxKeep,
  );
  f.push(input, AT);
  return { ev, data, ends, f };
}

test('streamed literal bytes are views into the input (no copy), line continues after', () => {
  const input = Buffer.from('* 1 FETCH (BODY[] {12}\r\nhello\r\nworld)\r\n', 'latin1');
  const { ev, data } = run(input, 'stream');
  assert.deepEqual(ev, ['seg:* 1 FETCH (BODY[] {12}+12', 'end:12/0', 'seg:)']);
  assert.equal(data.length, 1);
  assert.equal(data[0]!.buffer, input.buffer, 'a view, not a copy');
  assert.equal(Buffer.from(data[0]!).toString(), 'hello\r\nworld');
});

test('kept literal: bytes handed over at the end; larger than the keep limit: not kept', () => {
  const { ends } = run(Buffer.from('a LOGIN {3}\r\nbob {4}\r\npass\r\n'), 'keep');
  assert.deepEqual(ends.map((e) => Buffer.from(e.bytes!).toString()), ['bob', 'pass']);
  const big = run(Buffer.from('a X {5}\r\n12345\r\n'), 'keep', 4);
  assert.equal(big.ends[0]!.bytes, null);
});

test('gap inside a literal counts against it; announced bigger than the stream stays open (no hang)', () => {
  const r = run(Buffer.from('a APPEND x {10}\r\n1234'), 'stream');
  r.f.gap(3, AT);
  assert.equal(r.f.literalProgress, 7);
  r.f.push(Buffer.from('890\r\na NOOP\r\n'), AT);
  assert.deepEqual(r.ev.slice(-4), ['gap:3', 'end:10/3', 'seg:', 'seg:a NOOP']);
  const open = run(Buffer.from('a APPEND x {99999}\r\nabc'), 'stream');
  assert.equal(open.f.inLiteral, true);
  assert.equal(open.f.cancelLiteral(AT), false, 'bytes already received');
  const refused = run(Buffer.from('a APPEND x {5}\r\n'), 'stream');
  assert.equal(refused.f.cancelLiteral(AT), true);
  refused.f.push(Buffer.from('b NOOP\r\n'), AT);
  assert.deepEqual(refused.ev.slice(-2), ['end:5/5', 'seg:b NOOP']);
  assert.deepEqual(run(Buffer.from('a {9999999999999999}\r\nb\r\n'), 'keep').ev, ['anomaly:imap_literal_size_invalid', 'seg:a {9999999999999999}', 'seg:b']);
});
