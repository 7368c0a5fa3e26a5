import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { At } from '../../core/types.js';
import { DotUnstuffer } from './dot-unstuffer.js';
import { CHUNKINGS, splitRandom } from '../../../test/helpers/chunkings.js';
import type { Splitter } from '../../../test/helpers/chunkings.js';

const AT: At = { frame: 1, ts: { sec: 0, nsec: 0 } };

/** Independent reference: RFC 5321 §4.5.2 sender-side stuffing + terminator. */
function stuff(message: string): string {
  return message.replace(/(^|\r\n)\./g, '$1..') + '.\r\n';
}

interface Out {
  body: string;
  consumed: number;
  done: boolean;
  writes: number;
  anomalies: string[];
  wire: number;
}

function unstuff(wire: string | Uint8Array, split: Splitter): Out {
  const parts: Buffer[] = [];
  const anomalies: string[] = [];
  let writes = 0;
  const u = new DotUnstuffer({
    onBody(b) {
      writes++;
      parts.push(Buffer.from(b));
    },
    onAnomaly(code) {
      anomalies.push(code);
    },
  });
  u.begin();
  const bytes = typeof wire === 'string' ? Buffer.from(wire, 'latin1') : wire;
  let consumed = 0;
  for (const piece of split(bytes)) {
    if (u.done) break;
    consumed += u.push(piece, AT);
  }
  return { body: Buffer.concat(parts).toString('latin1'), consumed, done: u.done, writes, anomalies, wire: u.wireBytes };
}

const CASES: { name: string; wire: string; body: string; rest?: string; anomalies?: string[] }[] = [
  { name: 'empty message', wire: '.\r\n', body: '' },
  { name: 'simple', wire: 'Subject: x\r\n\r\nhello\r\n.\r\n', body: 'Subject: x\r\n\r\nhello\r\n' },
  // A body line that is a lone "." is sent as "..": it must come back as "." (not end the data).
  { name: 'lone dot line stuffed', wire: 'a\r\n..\r\nb\r\n.\r\n', body: 'a\r\n.\r\nb\r\n' },
  { name: 'three dots', wire: 'a\r\n...\r\n.\r\n', body: 'a\r\n..\r\n' },
  { name: 'dot line first', wire: '..hidden\r\n.\r\n', body: '.hidden\r\n' },
  { name: 'unstuffed dot+text (lenient)', wire: '.x\r\n.\r\n', body: 'x\r\n' },
  { name: 'dot then CR then text', wire: '.\rX\r\n.\r\n', body: '\rX\r\n' },
  { name: 'pipelined QUIT after terminator', wire: 'm\r\n.\r\nQUIT\r\n', body: 'm\r\n', rest: 'QUIT\r\n' },
  { name: 'dots inside a line are data', wire: 'a.b\r\n x.\r\n.\r\n', body: 'a.b\r\n x.\r\n' },
  {
    name: 'smuggling: bare LF dot is not the end',
    wire: 'a\n.\r\nMAIL FROM:<x>\r\n.\r\n',
    body: 'a\n.\r\nMAIL FROM:<x>\r\n',
    anomalies: ['smtp_data_bare_lf_dot'],
  },
  { name: 'smuggling: dot line ended by bare LF', wire: 'a\r\n.\nb\r\n.\r\n', body: 'a\r\n\nb\r\n', anomalies: ['smtp_data_bare_lf_dot'] },
];

for (const c of CASES) {
  test(`dot-unstuffer: ${c.name} (every chunking)`, () => {
    const rest = c.rest ?? '';
    for (const ch of CHUNKINGS) {
      const out = unstuff(c.wire, ch.split);
      assert.equal(out.body, c.body, ch.name);
      assert.equal(out.done, true, ch.name);
      assert.equal(out.wire, c.wire.length - rest.length, ch.name);
      assert.deepEqual(out.anomalies, c.anomalies ?? [], ch.name);
      // Whole: push returns exactly the bytes up to the terminator.
      if (ch.name === 'whole') assert.equal(out.consumed, c.wire.length - rest.length);
    }
  });
}

test('dot-unstuffer: unterminated body is not done and gives every byte so far', () => {
  const out = unstuff('abc\r\n..\r\n.', CHUNKINGS[1].split);
  assert.equal(out.done, false);
  assert.equal(out.body, 'abc\r\n.\r\n');
});

test('dot-unstuffer: gap resynchronises on the next CRLF.CRLF', () => {
  const body: string[] = [];
  const u = new DotUnstuffer({ onBody: (b) => body.push(Buffer.from(b).toString()), onAnomaly() {} });
  u.begin();
  u.push(Buffer.from('line1\r\nli'), AT);
  u.gap(100);
  // After a gap the position in the line is unknown: a "." right away is data.
  u.push(Buffer.from('.ne\r\n.\r\n'), AT);
  assert.equal(u.done, true);
  assert.equal(body.join(''), 'line1\r\nli.ne\r\n');
  assert.equal(u.wireBytes, 9 + 100 + 8);
});

test('dot-unstuffer: round trip of random messages under random splits (fast-check)', () => {
  const lineArb = fc.oneof(
    fc.constantFrom('', '.', '..', '...', '.x', 'a.b', '.\r', '\r', 'From x'),
    fc.string({ maxLength: 20 }).map((s) => s.replace(/[\r\n]/g, '')),
  );
  fc.assert(
    fc.property(fc.array(lineArb, { maxLength: 30 }), fc.integer({ min: 1, max: 1e6 }), (lines, seed) => {
      const message = lines.map((l) => `${l}\r\n`).join('');
      const wire = stuff(message) + 'NEXT';
      const out = unstuff(wire, splitRandom(seed, 7));
      assert.equal(out.body, message);
      assert.equal(out.done, true);
      assert.equal(out.wire, wire.length - 4);
    }),
    { numRuns: 300 },
  );
});

test('dot-unstuffer: a 2 MiB message arrives in large runs; throughput measured', () => {
  // ~76-byte base64-like lines with some dot-stuffed lines, as in real mail.
  const line = 'QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0';
  let msg = '';
  let n = 0;
  while (msg.length < 2 * 1024 * 1024) {
    msg += (n % 500 === 0 ? '.' : '') + line + '\r\n';
    n++;
  }
  const wire = Buffer.from(stuff(msg), 'latin1');
  // Segments of 64 KiB, as TCP reassembly hands them over.
  const out = unstuff(wire, (b) => {
    const parts: Uint8Array[] = [];
    for (let i = 0; i < b.length; i += 65536) parts.push(b.subarray(i, i + 65536));
    return parts;
  });
  assert.equal(out.body, msg);
  // One write per segment plus one per stuffed dot, never one per line.
  assert.ok(out.writes < wire.length / 65536 + n / 500 + 3, `writes=${out.writes}`);
  assert.ok(out.writes < n / 10);

  // Throughput: 64 MiB through the unstuffer (not asserted strictly: shared 2-core box).
  const big = Buffer.alloc(64 * 1024 * 1024);
  for (let i = 0; i < big.length; i += wire.length) wire.copy(big, i, 0, Math.min(wire.length - 3, big.length - i));
  const u = new DotUnstuffer({ onBody() {}, onAnomaly() {} });
  u.begin();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < big.length; i += 65536) u.push(big.subarray(i, i + 65536), AT);
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const mibps = big.length / 1048576 / secs;
  console.log(`# dot-unstuffer throughput: ${mibps.toFixed(0)} MiB/s (64 MiB, 64 KiB segments)`);
  assert.ok(mibps > 50, `too slow: ${mibps} MiB/s`);
});
