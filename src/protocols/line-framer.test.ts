import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { At } from '../core/types.js';
import { LineFramer } from './line-framer.js';
import type { LineFramerHandler } from './line-framer.js';
import { CHUNKINGS, splitBytes } from '../../test/helpers/chunkings.js';

interface Ev {
  t: string;
  v: string;
  first?: number;
  last?: number;
}

/** Runs steps (each with its own frame) through a framer; returns the events. */
function run(steps: string[], max = 1000, split = CHUNKINGS[0].split, onLine?: (f: LineFramer, line: string) => void): Ev[] {
  const ev: Ev[] = [];
  let framer: LineFramer;
  const h: LineFramerHandler = {
    onLine(line, first, last) {
      const s = Buffer.from(line).toString('latin1');
      ev.push({ t: 'line', v: s, first: first.frame, last: last.frame });
      onLine?.(framer, s);
    },
    onBytes(bytes) {
      const prev = ev[ev.length - 1];
      if (prev?.t === 'bytes') prev.v += Buffer.from(bytes).toString('latin1');
      else ev.push({ t: 'bytes', v: Buffer.from(bytes).toString('latin1') });
    },
    onBytesEnd(at) {
      ev.push({ t: 'end', v: '', last: at.frame });
    },
    onAnomaly(code, _d, at) {
      ev.push({ t: 'anomaly', v: code, last: at.frame });
    },
  };
  framer = new LineFramer(h, max);
  steps.forEach((s, i) => {
    const at: At = { frame: i + 1, ts: { sec: i, nsec: 0 } };
    for (const piece of split(Buffer.from(s, 'latin1'))) {
      let off = 0;
      while (off < piece.length) off += framer.push(piece.subarray(off), at);
    }
  });
  return ev;
}

test('lines split identically under every chunking, with first/last frames', () => {
  const steps = ['EHLO a\r\nMAIL FROM:<x@y>\r\nRC', 'PT TO:<z@w>\r\n', '\r\nlast\r', '\n'];
  const want: Ev[] = [
    { t: 'line', v: 'EHLO a', first: 1, last: 1 },
    { t: 'line', v: 'MAIL FROM:<x@y>', first: 1, last: 1 },
    { t: 'line', v: 'RCPT TO:<z@w>', first: 1, last: 2 },
    { t: 'line', v: '', first: 3, last: 3 },
    { t: 'line', v: 'last', first: 3, last: 4 },
  ];
  for (const c of CHUNKINGS) assert.deepEqual(run(steps, 1000, c.split), want, c.name);
});

test('bare LF accepted and reported once; \\r\\r\\n accepted', () => {
  for (const c of CHUNKINGS) {
    const ev = run(['a\nb\nc\r\r\nd\r\n'], 1000, c.split);
    assert.deepEqual(
      ev.map((e) => `${e.t}:${e.v}`),
      ['anomaly:bare_lf', 'line:a', 'line:b', 'line:c', 'line:d'],
      c.name,
    );
  }
});

test('maxLineBytes cuts long lines the same way whole or split, and memory stays bounded', () => {
  const long = 'x'.repeat(50);
  for (const c of CHUNKINGS) {
    const ev = run([`${long}\r\nok\r\n${'y'.repeat(10)}\r\n`], 10, c.split);
    assert.deepEqual(
      ev.map((e) => `${e.t}:${e.v}`),
      ['anomaly:line_too_long', `line:${'x'.repeat(10)}`, 'line:ok', `line:${'y'.repeat(10)}`],
      c.name,
    );
  }
  // A line of exactly max bytes + CRLF is not cut even when the CR arrives alone.
  assert.deepEqual(run(['abcd', '\r', '\n'], 4).map((e) => e.v), ['abcd']);
});

test('expectBytes delivers exactly n raw bytes (even containing CRLF), then lines resume', () => {
  const steps = ['BDAT 6\r\nab\r\ncdBDAT 0 LAST\r\nQUIT\r\n'];
  const expect = (f: LineFramer, line: string): void => {
    const m = /^BDAT (\d+)/.exec(line);
    if (m) f.expectBytes(Number(m[1]));
  };
  for (const c of CHUNKINGS) {
    const ev = run(steps, 1000, c.split, expect);
    assert.deepEqual(
      ev.map((e) => `${e.t}:${e.v}`),
      ['line:BDAT 6', 'bytes:ab\r\ncd', 'end:', 'line:BDAT 0 LAST', 'end:', 'line:QUIT'],
      c.name,
    );
  }
});

test('pause() makes push return the consumed count right after the line', () => {
  const ev: string[] = [];
  const f = new LineFramer(
    {
      onLine(line) {
        ev.push(Buffer.from(line).toString());
        if (ev.length === 1) f.pause();
      },
      onBytes() {},
      onBytesEnd() {},
      onAnomaly() {},
    },
    100,
  );
  const at: At = { frame: 1, ts: { sec: 0, nsec: 0 } };
  const buf = Buffer.from('DATA\r\nbody\r\n');
  assert.equal(f.push(buf, at), 6);
  assert.deepEqual(ev, ['DATA']);
  assert.equal(f.push(buf.subarray(6), at), 6);
  assert.deepEqual(ev, ['DATA', 'body']);
});

test('gap inside a plain run counts against it; reset drops a partial line', () => {
  const ev: string[] = [];
  const f = new LineFramer(
    {
      onLine(line) {
        ev.push(`line:${Buffer.from(line).toString()}`);
      },
      onBytes(b) {
        ev.push(`bytes:${Buffer.from(b).toString()}`);
      },
      onBytesEnd() {
        ev.push('end');
      },
      onAnomaly() {},
    },
    100,
  );
  const at: At = { frame: 1, ts: { sec: 0, nsec: 0 } };
  f.expectBytes(10);
  f.push(Buffer.from('abc'), at);
  assert.equal(f.gap(5, at), 5);
  f.push(Buffer.from('dePARTIAL'), at);
  assert.equal(f.gap(3, at), 0);
  assert.equal(f.hasPartialLine, false);
  f.push(Buffer.from('tail\r\nnext\r\n'), at);
  assert.deepEqual(ev, ['bytes:abc', 'bytes:de', 'end', 'line:tail', 'line:next']);
});

test('byte-by-byte feeding of a 64 KiB line without LF keeps the buffer bounded', () => {
  let lines = 0;
  let anomalies = 0;
  const f = new LineFramer({ onLine: () => lines++, onBytes() {}, onBytesEnd() {}, onAnomaly: () => anomalies++ }, 1024);
  const at: At = { frame: 1, ts: { sec: 0, nsec: 0 } };
  for (const p of splitBytes(Buffer.alloc(65536, 0x41))) f.push(p, at);
  f.push(Buffer.from('\n'), at);
  assert.equal(lines, 1);
  assert.equal(anomalies, 1);
});
