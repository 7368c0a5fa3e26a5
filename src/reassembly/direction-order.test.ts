import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveLimits } from '../core/limits.js';
import type { Limits } from '../core/limits.js';
import { TcpReassembler } from './tcp-reassembler.js';
import { RecordingFactory, tcpPacket } from './recording-handler.js';
import type { SegmentSpec } from './recording-handler.js';

// Client ISN 999 (data from 1000), server ISN 4999 (data from 5000).
const HS: SegmentSpec[] = [
  { frame: 1, from: 'c', seq: 999, flags: 'S' },
  { frame: 2, from: 's', seq: 4999, ack: 1000, flags: 'S' },
  { frame: 3, from: 'c', seq: 1000, ack: 5000 },
];

function run(segs: SegmentSpec[], opts: { limits?: Partial<Limits>; flush?: boolean; ignoreAfterData?: number } = {}) {
  const rec = new RecordingFactory({ ignoreAfterData: opts.ignoreAfterData });
  const r = new TcpReassembler({ factory: rec, limits: resolveLimits(opts.limits), report: rec.report });
  for (const s of segs) r.add(tcpPacket(s));
  if (opts.flush !== false) r.flushAll();
  return { r, rec };
}

/** Both sides of C1 in the order the handler received them: `c:bytes`, `s:[gap]`, `c:<fin>`, with each item's frame. */
function interleaved(rec: RecordingFactory): string[] {
  const out: string[] = [];
  for (const e of rec.events) {
    if (e.conn !== 'C1' || e.kind === 'close') continue;
    const who = e.side === 'client' ? 'c' : 's';
    if (e.kind === 'data') out.push(`${who}:${Buffer.from(e.bytes).toString('latin1')}@${e.at.frame}`);
    else if (e.kind === 'gap') out.push(`${who}:[${e.length}]@${e.at.frame}`);
    else out.push(`${who}:<${e.reason}>@${e.at.frame}`);
  }
  return out;
}

test('direction order: a reply captured before the command it acknowledges is handed after it', () => {
  const { rec } = run([
    ...HS,
    { frame: 4, from: 's', seq: 5000, ack: 1000, data: '220 hi\r\n' },
    { frame: 5, from: 's', seq: 5008, ack: 1008, data: '250 ok\r\n' }, // acknowledges HELO
    { frame: 6, from: 'c', seq: 1000, ack: 5008, data: 'HELO x\r\n' },
    { frame: 7, from: 'c', seq: 1008, ack: 5016, data: 'QUIT\r\n' },
    { frame: 8, from: 's', seq: 5016, ack: 1014, data: '221 bye\r\n' },
  ]);
  assert.deepEqual(interleaved(rec), ['s:220 hi\r\n@4', 'c:HELO x\r\n@6', 's:250 ok\r\n@5', 'c:QUIT\r\n@7', 's:221 bye\r\n@8']);
  assert.deepEqual(rec.anomalyCodes(), []);
});

test('direction order: pipelined commands captured after the reply that acknowledges both', () => {
  const { rec, r } = run([
    ...HS,
    { frame: 4, from: 's', seq: 5000, ack: 1000, data: '220 hi\r\n' },
    { frame: 5, from: 's', seq: 5008, ack: 1026, data: '250 a\r\n250 b\r\n' },
    { frame: 6, from: 'c', seq: 1000, ack: 5008, data: 'MAIL FROM:<a>\r\n' },
    { frame: 7, from: 'c', seq: 1015, ack: 5008, data: 'RCPT TO:<b>\r\n' },
  ], { flush: false });
  assert.deepEqual(interleaved(rec), ['s:220 hi\r\n@4', 'c:MAIL FROM:<a>\r\n@6', 'c:RCPT TO:<b>\r\n@7', 's:250 a\r\n250 b\r\n@5']);
  assert.equal(r.stats.bufferedBytes, 0);
});

test('direction order: the acknowledged command never captured: the reply waits for its gap, then comes before the next command', () => {
  const { rec } = run([
    ...HS,
    { frame: 4, from: 's', seq: 5000, ack: 1000, data: '220 hi\r\n' },
    { frame: 5, from: 'c', seq: 1000, ack: 5008, data: 'HELO x\r\n' },
    // "MAIL FROM:<a>\r\n" (15 bytes at 1008) is missing; the server's reply acknowledges it.
    { frame: 6, from: 's', seq: 5008, ack: 1023, data: '250 ok\r\n' },
    { frame: 7, from: 'c', seq: 1023, ack: 5016, data: 'QUIT\r\n' },
  ]);
  assert.deepEqual(interleaved(rec), ['s:220 hi\r\n@4', 'c:HELO x\r\n@5', 'c:[15]@6', 's:250 ok\r\n@6', 'c:QUIT\r\n@7']);
  assert.deepEqual(rec.anomalyCodes(), ['tcp_content_gap']);
});

test('direction order: the capture ends while a reply waits for bytes never captured: gap, then the reply, then FIN', () => {
  const { rec, r } = run([
    ...HS,
    { frame: 4, from: 'c', seq: 1000, ack: 5000, data: 'HELO x\r\n' },
    { frame: 5, from: 's', seq: 5000, ack: 1014, data: '221 bye\r\n', flags: 'F' },
  ]);
  assert.deepEqual(interleaved(rec), ['c:HELO x\r\n@4', 'c:[6]@5', 's:221 bye\r\n@5', 's:<fin>@5']);
  assert.deepEqual(rec.closes(), ['C1:end_of_capture']);
  assert.equal(r.stats.bufferedBytes, 0);
});

test('direction order: a FIN waits behind its side\'s held data', () => {
  const { rec } = run([
    ...HS,
    { frame: 4, from: 's', seq: 5000, ack: 1006, data: '221 bye\r\n', flags: 'F' },
    { frame: 5, from: 'c', seq: 1000, ack: 5000, data: 'QUIT\r\n' },
    { frame: 6, from: 'c', seq: 1006, ack: 5010, flags: 'F' },
  ]);
  assert.deepEqual(interleaved(rec), ['c:QUIT\r\n@5', 's:221 bye\r\n@4', 's:<fin>@4', 'c:<fin>@6']);
  assert.deepEqual(rec.closes(), ['C1:fin']);
});

test('direction order: both sides waiting for each other (a retransmission with a newer ACK): the later-captured one first, nothing lost', () => {
  // The server's "250" acknowledges the client's HELO; the HELO seen is a retransmission whose
  // ACK already covers the 250 (the original, with ACK 5008, was not captured). Both wait for each
  // other: the later-captured HELO goes first.
  const { rec } = run(
    [
      ...HS,
      { frame: 4, from: 's', seq: 5000, ack: 1000, data: '220 hi\r\n' },
      { frame: 5, from: 's', seq: 5008, ack: 1008, data: '250 ok\r\n' },
      { frame: 6, from: 'c', seq: 1000, ack: 5016, data: 'HELO x\r\n' },
    ],
    { flush: false },
  );
  assert.deepEqual(interleaved(rec), ['s:220 hi\r\n@4', 'c:HELO x\r\n@6', 's:250 ok\r\n@5']);
});

test('direction order: held bytes are bounded by maxBufferedBytesPerStream; past it they go on in capture order (tcp_reorder_overflow), then holding resumes', () => {
  const big = 'x'.repeat(600);
  const { rec, r } = run(
    [
      ...HS,
      // Replies to a command the capture has not shown yet (ACK 1010), 3 x 600 bytes.
      { frame: 4, from: 's', seq: 5000, ack: 1010, data: big, t: 4 },
      { frame: 5, from: 's', seq: 5600, ack: 1010, data: big, t: 4.01 },
      { frame: 6, from: 's', seq: 6200, ack: 1010, data: big, t: 4.02 },
      { frame: 7, from: 'c', seq: 1000, ack: 5000, data: 'RETR 1\r\n\r\n', t: 4.03 },
    ],
    { limits: { maxBufferedBytesPerStream: 1000 }, flush: false },
  );
  assert.deepEqual(interleaved(rec).map((e) => e.replace(/x{600}/, 'X')), ['s:X@4', 's:X@5', 'c:RETR 1\r\n\r\n@7', 's:X@6']);
  assert.deepEqual(rec.anomalyCodes(), ['tcp_reorder_overflow']);
  assert.equal(r.stats.bufferedBytes, 0);
});

test('direction order: held bytes count against maxBufferedBytesTotal, across connections', () => {
  const other = { client: { ip: '10.0.0.3', port: 40001 }, server: { ip: '10.0.0.2', port: 25 } };
  const { rec, r } = run(
    [
      ...HS,
      { frame: 4, from: 's', seq: 5000, ack: 1010, data: 'a'.repeat(700), t: 4 },
      { frame: 5, from: 'c', seq: 999, flags: 'S', endpoints: other, t: 4.01 },
      { frame: 6, from: 's', seq: 4999, ack: 1000, flags: 'S', endpoints: other, t: 4.02 },
      { frame: 7, from: 's', seq: 5000, ack: 1010, data: 'b'.repeat(700), endpoints: other, t: 4.03 },
    ],
    { limits: { maxBufferedBytesTotal: 1000 }, flush: false },
  );
  assert.ok(r.stats.bufferedBytes <= 1000, `${r.stats.bufferedBytes}`);
  assert.deepEqual(rec.anomalyCodes(), ['tcp_reorder_overflow']);
  // The first connection's held bytes went on to make room; the second's are held.
  assert.equal(rec.transcript('C1', 'server').length, 700);
  assert.equal(rec.transcript('C5', 'server'), '');
});

test('direction order: a handler that stops listening drops what is held for it', () => {
  const { rec, r } = run(
    [
      ...HS,
      { frame: 4, from: 's', seq: 5000, ack: 1000, data: '220 hi\r\n' },
      { frame: 5, from: 's', seq: 5008, ack: 1008, data: '250 ok\r\n' },
      { frame: 6, from: 'c', seq: 1000, ack: 5008, data: 'HELO x\r\n' },
    ],
    { ignoreAfterData: 2, flush: false },
  );
  assert.deepEqual(interleaved(rec), ['s:220 hi\r\n@4', 'c:HELO x\r\n@6']);
  assert.equal(r.stats.bufferedBytes, 0);
});

test('direction order: in-order traffic is handed as the borrowed view, with no copy', () => {
  const rec = new RecordingFactory();
  const r = new TcpReassembler({ factory: rec, limits: resolveLimits({}), report: rec.report });
  for (const s of HS) r.add(tcpPacket(s));
  const p = tcpPacket({ frame: 4, from: 'c', seq: 1000, ack: 5000, data: 'HELO x\r\n' });
  r.add(p);
  const q = tcpPacket({ frame: 5, from: 's', seq: 5000, ack: 1008, data: '250 ok\r\n' });
  r.add(q);
  const data = rec.events.filter((e) => e.kind === 'data');
  assert.equal(data.length, 2);
  assert.ok(data[0]!.kind === 'data' && data[0]!.view === p.payload);
  assert.ok(data[1]!.kind === 'data' && data[1]!.view === q.payload);
});

test('RST captured before the peer data it answers: the data is still taken (within a second), then the close', () => {
  const { rec } = run(
    [
      ...HS,
      { frame: 4, from: 's', seq: 5000, ack: 1000, data: '+OK bye\r\n', t: 4 },
      { frame: 5, from: 's', seq: 5009, flags: 'R', t: 4.001 },
      { frame: 6, from: 'c', seq: 1000, ack: 5000, data: 'QUIT\r\n', t: 4.0005 },
    ],
    { flush: false },
  );
  // The close waits for the client's late packets: nothing closed yet.
  assert.deepEqual(rec.closes(), []);
  assert.deepEqual(interleaved(rec), ['s:+OK bye\r\n@4', 'c:QUIT\r\n@6']);
  assert.deepEqual(rec.anomalyCodes(), []);
});

test('RST: a packet of the resetting side, a second of capture time, or the end of the capture closes the connection at the RST', () => {
  const base: SegmentSpec[] = [...HS, { frame: 4, from: 'c', seq: 1000, ack: 5000, data: 'QUIT\r\n', t: 4 }, { frame: 5, from: 's', seq: 5000, flags: 'R', t: 4.1 }];
  // 1. The resetting side again (a retransmitted RST's companion): closed, then dropped.
  let { rec } = run([...base, { frame: 6, from: 's', seq: 5000, ack: 1006, data: 'late', t: 4.2 }], { flush: false });
  assert.deepEqual(rec.closes(), ['C1:rst']);
  assert.deepEqual(interleaved(rec), ['c:QUIT\r\n@4', 's:<rst>@5']);
  assert.deepEqual(rec.anomalyCodes(), ['tcp_data_after_close']);
  // 2. The peer's data a second later: too late.
  ({ rec } = run([...base, { frame: 6, from: 'c', seq: 1006, ack: 5000, data: 'NOOP\r\n', t: 5.1 }], { flush: false }));
  assert.deepEqual(rec.closes(), ['C1:rst']);
  assert.deepEqual(interleaved(rec), ['c:QUIT\r\n@4', 's:<rst>@5']);
  // 3. Another connection's packets two seconds later close it (the once-a-second check), at the RST's frame.
  const other = { client: { ip: '10.0.0.3', port: 40001 }, server: { ip: '10.0.0.2', port: 25 } };
  ({ rec } = run([...base, { frame: 6, from: 'c', seq: 1, flags: 'S', endpoints: other, t: 6.5 }], { flush: false }));
  assert.deepEqual(rec.closes(), ['C1:rst']);
  const close = rec.events.find((e) => e.kind === 'close' && e.conn === 'C1');
  assert.equal(close?.at.frame, 5);
  // 4. The end of the capture: closed as rst, not end_of_capture.
  ({ rec } = run(base));
  assert.deepEqual(rec.closes(), ['C1:rst']);
});
