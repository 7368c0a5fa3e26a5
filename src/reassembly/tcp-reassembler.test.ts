import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveLimits } from '../core/limits.js';
import type { Limits } from '../core/limits.js';
import { TcpReassembler } from './tcp-reassembler.js';
import { DEFAULT_ENDPOINTS, RecordingFactory, tcpPacket } from './recording-handler.js';
import type { SegmentSpec, TestEndpoints } from './recording-handler.js';
import { REASSEMBLY_ANOMALIES } from './anomaly-codes.js';

// Client ISN 999 (data from 1000), server ISN 4999 (data from 5000).
const HS: SegmentSpec[] = [
  { frame: 1, from: 'c', seq: 999, flags: 'S' },
  { frame: 2, from: 's', seq: 4999, ack: 1000, flags: 'S' },
  { frame: 3, from: 'c', seq: 1000, ack: 5000 },
];

interface Case {
  name: string;
  limits?: Partial<Limits>;
  serverPorts?: ReadonlySet<number>;
  in: SegmentSpec[];
  /** Call flushAll at the end (default true). */
  flush?: boolean;
  want: {
    /** Transcript per connection id and side (data, [gap], <fin>/<rst>). */
    streams: Record<string, { client?: string; server?: string }>;
    closes: string[];
    /** Anomaly codes, sorted (exact multiset). */
    anomalies?: string[];
    stats?: Partial<Record<'connections' | 'activeConnections' | 'bufferedBytes' | 'gaps' | 'gapBytes' | 'conflictingOverlaps' | 'retransmissions', number>>;
  };
}

function run(c: { limits?: Partial<Limits>; serverPorts?: ReadonlySet<number>; in: SegmentSpec[]; flush?: boolean }, rec = new RecordingFactory()) {
  const r = new TcpReassembler({ factory: rec, limits: resolveLimits(c.limits), report: rec.report, serverPorts: c.serverPorts });
  for (const s of c.in) r.add(tcpPacket(s));
  if (c.flush !== false) r.flushAll();
  return { r, rec };
}

const cases: Case[] = [
  {
    name: 'in order, both directions, FIN/FIN',
    in: [
      ...HS,
      { frame: 4, from: 'c', seq: 1000, ack: 5000, data: 'HELO x\r\n' },
      { frame: 5, from: 's', seq: 5000, ack: 1008, data: '250 ok\r\n' },
      { frame: 6, from: 'c', seq: 1008, ack: 5008, flags: 'F' },
      { frame: 7, from: 's', seq: 5008, ack: 1009, flags: 'F' },
      { frame: 8, from: 'c', seq: 1009, ack: 5009 },
    ],
    want: {
      streams: { C1: { client: 'HELO x\r\n<fin>', server: '250 ok\r\n<fin>' } },
      closes: ['C1:fin'],
      anomalies: [],
      stats: { connections: 1, activeConnections: 0, gaps: 0, bufferedBytes: 0, retransmissions: 0 },
    },
  },
  {
    name: 'reorder: later segment buffered, delivered when the hole fills',
    in: [...HS, { frame: 4, from: 'c', seq: 1005, data: 'world' }, { frame: 5, from: 'c', seq: 1000, data: 'hello' }],
    want: { streams: { C1: { client: 'helloworld' } }, closes: ['C1:end_of_capture'], anomalies: [], stats: { gaps: 0 } },
  },
  {
    name: 'retransmission dropped and counted',
    in: [...HS, { frame: 4, from: 'c', seq: 1000, data: 'hello' }, { frame: 5, from: 'c', seq: 1000, data: 'hello' }],
    want: { streams: { C1: { client: 'hello' } }, closes: ['C1:end_of_capture'], anomalies: [], stats: { retransmissions: 1 } },
  },
  {
    name: 'duplicate of a buffered segment counted as retransmission',
    in: [
      ...HS,
      { frame: 4, from: 'c', seq: 1005, data: 'world' },
      { frame: 5, from: 'c', seq: 1005, data: 'world' },
      { frame: 6, from: 'c', seq: 1000, data: 'hello' },
    ],
    want: { streams: { C1: { client: 'helloworld' } }, closes: ['C1:end_of_capture'], anomalies: [], stats: { retransmissions: 1 } },
  },
  {
    name: 'partial overlap: only the new part is delivered',
    in: [...HS, { frame: 4, from: 'c', seq: 1000, data: 'hello' }, { frame: 5, from: 'c', seq: 1003, data: 'lowor' }],
    want: { streams: { C1: { client: 'hellowor' } }, closes: ['C1:end_of_capture'], anomalies: [], stats: { conflictingOverlaps: 0 } },
  },
  {
    name: 'conflicting overlap with delivered data: anomaly, first seen wins',
    in: [...HS, { frame: 4, from: 'c', seq: 1000, data: 'hello' }, { frame: 5, from: 'c', seq: 1003, data: 'XXwor' }],
    want: {
      streams: { C1: { client: 'hellowor' } },
      closes: ['C1:end_of_capture'],
      anomalies: ['tcp_conflicting_overlap'],
      stats: { conflictingOverlaps: 1 },
    },
  },
  {
    name: 'conflicting retransmission of delivered data (fully old)',
    in: [...HS, { frame: 4, from: 'c', seq: 1000, data: 'hello' }, { frame: 5, from: 'c', seq: 1000, data: 'jello' }],
    want: {
      streams: { C1: { client: 'hello' } },
      closes: ['C1:end_of_capture'],
      anomalies: ['tcp_conflicting_overlap'],
      stats: { conflictingOverlaps: 1, retransmissions: 1 },
    },
  },
  {
    name: 'keep-alive with one garbage octet at nextSeq-1 is not a conflict',
    in: [...HS, { frame: 4, from: 'c', seq: 1000, data: 'hello' }, { frame: 5, from: 'c', seq: 1004, data: '\0' }],
    want: { streams: { C1: { client: 'hello' } }, closes: ['C1:end_of_capture'], anomalies: [], stats: { retransmissions: 1, conflictingOverlaps: 0 } },
  },
  {
    name: 'conflicting overlap with buffered data: buffered (first seen) wins',
    in: [...HS, { frame: 4, from: 'c', seq: 1005, data: 'world' }, { frame: 5, from: 'c', seq: 1000, data: 'helloWOR' }],
    want: {
      streams: { C1: { client: 'helloworld' } },
      closes: ['C1:end_of_capture'],
      anomalies: ['tcp_conflicting_overlap'],
      stats: { conflictingOverlaps: 1 },
    },
  },
  {
    name: 'out-of-order segment overlapping two buffered ones fills only the holes',
    in: [
      ...HS,
      { frame: 4, from: 'c', seq: 1002, data: 'CD' },
      { frame: 5, from: 'c', seq: 1006, data: 'GH' },
      { frame: 6, from: 'c', seq: 1001, data: 'bcdefghij' },
      { frame: 7, from: 'c', seq: 1000, data: 'a' },
    ],
    want: { streams: { C1: { client: 'abCDefGHij' } }, closes: ['C1:end_of_capture'], anomalies: ['tcp_conflicting_overlap'] },
  },
  {
    name: 'sequence wrap at 2^32 (ISN 0xFFFFFFF0), reordered',
    in: [
      { frame: 1, from: 'c', seq: 0xfffffff0, flags: 'S' },
      { frame: 2, from: 's', seq: 77, ack: 0xfffffff1, flags: 'S' },
      { frame: 3, from: 'c', seq: 5, ack: 78, data: 'tail' },
      { frame: 4, from: 'c', seq: 0xfffffffb, ack: 78, data: 'KLMNOPQRST' },
      { frame: 5, from: 'c', seq: 0xfffffff1, ack: 78, data: 'abcdefghij' },
      { frame: 6, from: 's', seq: 78, ack: 9, data: 'ok' },
    ],
    want: { streams: { C1: { client: 'abcdefghijKLMNOPQRSTtail', server: 'ok' } }, closes: ['C1:end_of_capture'], anomalies: [] },
  },
  {
    name: 'SYN carrying data',
    in: [
      { frame: 1, from: 'c', seq: 999, flags: 'S', data: 'early' },
      { frame: 2, from: 's', seq: 4999, ack: 1005, flags: 'S' },
      { frame: 3, from: 'c', seq: 1005, ack: 5000, data: '+more' },
    ],
    want: { streams: { C1: { client: 'early+more' } }, closes: ['C1:end_of_capture'], anomalies: [] },
  },
  {
    name: 'gap by FIN with a hole (both FINs seen, hole never filled)',
    in: [
      ...HS,
      { frame: 4, from: 'c', seq: 1000, ack: 5000, data: 'hello' },
      { frame: 5, from: 'c', seq: 1010, ack: 5000, data: 'world', flags: 'F' },
      { frame: 6, from: 's', seq: 5000, ack: 1005, flags: 'F' },
    ],
    flush: false,
    want: {
      streams: { C1: { client: 'hello[5]world<fin>', server: '<fin>' } },
      closes: ['C1:fin'],
      anomalies: ['tcp_content_gap'],
      stats: { gaps: 1, gapBytes: 5, activeConnections: 0 },
    },
  },
  {
    name: 'gap detected by the peer ACKing beyond the hole',
    in: [
      ...HS,
      { frame: 4, from: 'c', seq: 1000, ack: 5000, data: 'hello' },
      { frame: 5, from: 'c', seq: 1010, ack: 5000, data: 'world' },
      { frame: 6, from: 's', seq: 5000, ack: 1015 },
    ],
    flush: false,
    want: { streams: { C1: { client: 'hello[5]world' } }, closes: [], anomalies: ['tcp_content_gap'], stats: { gaps: 1, gapBytes: 5, bufferedBytes: 0 } },
  },
  {
    // The two directions captured apart (a tap's two ports merged by timestamp): the server's
    // ACK is in the capture before the client data it acknowledges. Nothing is lost.
    name: 'peer ACK before the data it acknowledges (directions captured apart): no gap',
    in: [
      ...HS,
      { frame: 4, from: 'c', seq: 1000, ack: 5000, data: 'hello', t: 4 },
      { frame: 5, from: 's', seq: 5000, ack: 1015, t: 4.001 },
      { frame: 6, from: 'c', seq: 1005, ack: 5000, data: 'world12345', t: 4.002 },
    ],
    flush: false,
    want: { streams: { C1: { client: 'helloworld12345' } }, closes: [], anomalies: [], stats: { gaps: 0, bufferedBytes: 0 } },
  },
  {
    name: 'peer ACK above a hole and no data for over a second: gap at the next ACK',
    in: [
      ...HS,
      { frame: 4, from: 'c', seq: 1000, ack: 5000, data: 'hello', t: 4 },
      { frame: 5, from: 's', seq: 5000, ack: 1010, t: 4.001 },
      { frame: 6, from: 's', seq: 5000, ack: 1010, t: 4.5 },
      { frame: 7, from: 's', seq: 5000, ack: 1010, t: 5.2 },
    ],
    flush: false,
    want: { streams: { C1: { client: 'hello[5]' } }, closes: [], anomalies: ['tcp_content_gap'], stats: { gaps: 1, gapBytes: 5 } },
  },
  {
    name: 'peer ACK above a hole, then the capture ends: gap',
    in: [
      ...HS,
      { frame: 4, from: 'c', seq: 1000, ack: 5000, data: 'hello', t: 4 },
      { frame: 5, from: 's', seq: 5000, ack: 1010, t: 4.001 },
    ],
    want: { streams: { C1: { client: 'hello[5]' } }, closes: ['C1:end_of_capture'], anomalies: ['tcp_content_gap'], stats: { gaps: 1, gapBytes: 5 } },
  },
  {
    name: 'peer ACK beyond everything seen: gap, then later data in order',
    in: [
      ...HS,
      { frame: 4, from: 'c', seq: 1000, ack: 5000, data: 'hello' },
      { frame: 5, from: 's', seq: 5000, ack: 1010 },
      { frame: 6, from: 'c', seq: 1010, ack: 5000, data: 'later' },
    ],
    want: { streams: { C1: { client: 'hello[5]later' } }, closes: ['C1:end_of_capture'], anomalies: ['tcp_content_gap'] },
  },
  {
    name: 'peer ACK of a FIN that was seen does not make a gap',
    in: [
      ...HS,
      { frame: 4, from: 'c', seq: 1000, ack: 5000, data: 'bye', flags: 'F' },
      { frame: 5, from: 's', seq: 5000, ack: 1004 },
    ],
    want: { streams: { C1: { client: 'bye<fin>' } }, closes: ['C1:end_of_capture'], anomalies: [], stats: { gaps: 0 } },
  },
  {
    name: 'gap at end of capture',
    in: [...HS, { frame: 4, from: 'c', seq: 1000, data: 'hello' }, { frame: 5, from: 'c', seq: 1010, data: 'world' }],
    want: { streams: { C1: { client: 'hello[5]world' } }, closes: ['C1:end_of_capture'], anomalies: ['tcp_content_gap'], stats: { gaps: 1, gapBytes: 5 } },
  },
  {
    name: 'snaplen-cut segment: captured part, then a gap of missingPayload',
    in: [...HS, { frame: 4, from: 'c', seq: 1000, data: 'hel', missing: 2 }, { frame: 5, from: 'c', seq: 1005, data: 'world', missing: 0 }],
    want: { streams: { C1: { client: 'hel[2]world' } }, closes: ['C1:end_of_capture'], anomalies: ['tcp_payload_truncated'], stats: { gaps: 1, gapBytes: 2 } },
  },
  {
    name: 'snaplen-cut segments out of order',
    in: [...HS, { frame: 4, from: 'c', seq: 1005, data: 'wor', missing: 2 }, { frame: 5, from: 'c', seq: 1000, data: 'hel', missing: 2 }],
    want: { streams: { C1: { client: 'hel[2]wor[2]' } }, closes: ['C1:end_of_capture'], anomalies: ['tcp_payload_truncated'], stats: { gaps: 2, gapBytes: 4 } },
  },
  {
    // The close waits a second for the client's late packets; the end of the capture ends the wait.
    name: 'RST: buffered data delivered in order, hole reported, then rst',
    in: [...HS, { frame: 4, from: 'c', seq: 1000, data: 'a' }, { frame: 5, from: 'c', seq: 1005, data: 'xyz' }, { frame: 6, from: 's', seq: 5000, flags: 'R' }],
    want: { streams: { C1: { client: 'a[4]xyz', server: '<rst>' } }, closes: ['C1:rst'], anomalies: ['tcp_content_gap'] },
  },
  {
    name: 'packets a second or more after RST are absorbed (TIME_WAIT), data reported once',
    in: [
      ...HS,
      { frame: 4, from: 'c', seq: 1000, data: 'a' },
      { frame: 5, from: 'c', seq: 1001, flags: 'R' },
      { frame: 6, from: 's', seq: 5000, ack: 1001, data: 'late' },
      { frame: 7, from: 's', seq: 5004, ack: 1001, data: 'later' },
    ],
    want: { streams: { C1: { client: 'a<rst>', server: '' } }, closes: ['C1:rst'], anomalies: ['tcp_data_after_close'], stats: { connections: 1 } },
  },
  {
    name: 'lone RST/ACK makes a (closed) connection; FIN retransmission is absorbed',
    in: [{ frame: 1, from: 's', seq: 100, ack: 200, flags: 'R' }, { frame: 2, from: 's', seq: 100, ack: 200 }],
    want: { streams: { C1: { server: '<rst>', client: '' } }, closes: ['C1:rst'], anomalies: [], stats: { connections: 1 } },
  },
  {
    name: 'data beyond the FIN is dropped',
    in: [...HS, { frame: 4, from: 'c', seq: 1006, data: 'junk' }, { frame: 5, from: 'c', seq: 1000, data: 'hello', flags: 'F' }],
    want: { streams: { C1: { client: 'hello<fin>' } }, closes: ['C1:end_of_capture'], anomalies: ['tcp_data_after_fin'] },
  },
  {
    name: 'segment far outside the window is dropped',
    in: [...HS, { frame: 4, from: 'c', seq: 1000 + 2 ** 30 + 5, data: 'junk' }, { frame: 5, from: 'c', seq: 1000, data: 'ok' }],
    want: { streams: { C1: { client: 'ok' } }, closes: ['C1:end_of_capture'], anomalies: ['tcp_segment_out_of_window'] },
  },
  {
    name: 'SYN-less start: roles by server port (first packet from the server)',
    in: [
      { frame: 1, from: 's', seq: 7000, ack: 3000, data: '250 ok\r\n' },
      { frame: 2, from: 'c', seq: 3000, ack: 7008, data: 'QUIT\r\n' },
    ],
    want: {
      streams: { C1: { client: 'QUIT\r\n', server: '250 ok\r\n' } },
      closes: ['C1:end_of_capture'],
      anomalies: ['tcp_midstream_start'],
    },
  },
  {
    name: 'mid-stream: peer ACK seen first, then reordered data starting at that ACK',
    in: [
      { frame: 1, from: 's', seq: 7000, ack: 3000 },
      { frame: 2, from: 'c', seq: 3005, data: 'world' },
      { frame: 3, from: 'c', seq: 3000, data: 'hello' },
    ],
    want: { streams: { C1: { client: 'helloworld' } }, closes: ['C1:end_of_capture'], anomalies: ['tcp_midstream_start'] },
  },
];

for (const c of cases) {
  test(`reassembly: ${c.name}`, () => {
    const { r, rec } = run(c);
    for (const [id, sides] of Object.entries(c.want.streams)) {
      if (sides.client !== undefined) assert.equal(rec.transcript(id, 'client'), sides.client, `${id} client`);
      if (sides.server !== undefined) assert.equal(rec.transcript(id, 'server'), sides.server, `${id} server`);
    }
    assert.deepEqual(rec.closes(), c.want.closes);
    if (c.want.anomalies) assert.deepEqual(rec.anomalyCodes().sort(), [...c.want.anomalies].sort());
    const st = r.stats as unknown as Record<string, number>;
    for (const [k, v] of Object.entries(c.want.stats ?? {})) assert.equal(st[k], v, `stats.${k}`);
    for (const a of rec.anomalies) {
      assert.ok(a.connId?.startsWith('C'), `anomaly ${a.code} has a connId`);
      assert.ok(a.at !== undefined && a.at.frame > 0, `anomaly ${a.code} has a frame`);
    }
  });
}

test('reassembly: in-order payload is passed as the same borrowed view, with its own frame', () => {
  const rec = new RecordingFactory();
  const r = new TcpReassembler({ factory: rec, limits: resolveLimits(), report: rec.report });
  for (const s of HS) r.add(tcpPacket(s));
  const p = tcpPacket({ frame: 4, from: 'c', seq: 1000, ack: 5000, data: 'hello' });
  r.add(p);
  const d = rec.events.filter((e) => e.kind === 'data');
  assert.equal(d.length, 1);
  assert.ok(d[0].kind === 'data' && d[0].view === p.payload, 'no copy on the in-order path');
  assert.equal(d[0].at.frame, 4);
});

test('reassembly: reordered segments keep their own frame and time', () => {
  const { rec } = run({ in: [...HS, { frame: 4, from: 'c', seq: 1005, data: 'world', t: 4.5 }, { frame: 5, from: 'c', seq: 1000, data: 'hello' }] });
  const d = rec.events.filter((e) => e.kind === 'data').map((e) => [e.at.frame, e.at.ts.sec, e.at.ts.nsec]);
  assert.deepEqual(d, [
    [5, 5, 0],
    [4, 4, 500_000_000],
  ]);
});

test('reassembly: connection info — ids, roles, handshake, IPv6', () => {
  const v6: TestEndpoints = { client: { ip: '2001:db8::1', port: 50000 }, server: { ip: '2001:db8::2', port: 993 } };
  const guess: TestEndpoints = { client: { ip: '192.0.2.9', port: 40000 }, server: { ip: '192.0.2.1', port: 3000 } };
  const { rec } = run({
    in: [
      ...HS,
      { frame: 4, from: 's', seq: 1, ack: 2, data: '* OK', endpoints: v6, ipVersion: 6 },
      { frame: 5, from: 'c', seq: 9, data: 'x', endpoints: guess },
      { frame: 6, from: 's', seq: 4999, ack: 1000, flags: 'S', endpoints: { ...DEFAULT_ENDPOINTS, client: { ip: '10.0.0.1', port: 40001 } } },
    ],
  });
  const info = rec.connections.map((c) => [c.id, `${c.client.ip}:${c.client.port}`, `${c.server.ip}:${c.server.port}`, c.roleBy, c.sawHandshake, c.ipVersion, c.firstFrame]);
  assert.deepEqual(info, [
    ['C1', '10.0.0.1:40000', '10.0.0.2:25', 'syn', true, 4, 1],
    ['C4', '2001:db8::1:50000', '2001:db8::2:993', 'port', false, 6, 4],
    ['C5', '192.0.2.9:40000', '192.0.2.1:3000', 'guess', false, 4, 5],
    ['C6', '10.0.0.1:40001', '10.0.0.2:25', 'syn-ack', true, 4, 6],
  ]);
  // Both directions of C4 land on the same connection.
  assert.equal(rec.transcript('C4', 'server'), '* OK');
});

test('reassembly: custom serverPorts decide the roles mid-stream', () => {
  const ep: TestEndpoints = { client: { ip: '10.1.1.1', port: 1025 }, server: { ip: '10.1.1.2', port: 40025 } };
  const { rec } = run({ serverPorts: new Set([40025]), in: [{ frame: 1, from: 'c', seq: 1, data: 'EHLO', endpoints: ep }] });
  assert.equal(rec.connections[0].server.port, 40025);
  assert.equal(rec.connections[0].roleBy, 'port');
});

test('reassembly: idle expiry by capture time closes with idle_timeout at the last packet', () => {
  const other: TestEndpoints = { client: { ip: '10.0.0.3', port: 40000 }, server: { ip: '10.0.0.2', port: 25 } };
  const { r, rec } = run({
    limits: { idleTimeoutSeconds: 10 },
    flush: false,
    in: [...HS, { frame: 4, from: 'c', seq: 1005, data: 'late' }, { frame: 5, from: 'c', seq: 1, data: 'x', t: 30, endpoints: other }],
  });
  assert.deepEqual(rec.closes(), ['C1:idle_timeout']);
  const close = rec.events.find((e) => e.kind === 'close');
  assert.equal(close?.at.frame, 4);
  assert.equal(rec.transcript('C1', 'client'), '[5]late');
  assert.equal(r.stats.activeConnections, 1);
  // advanceTime alone also expires (pipeline calls it between packets).
  r.advanceTime({ sec: 100, nsec: 0 });
  assert.deepEqual(rec.closes(), ['C1:idle_timeout', 'C5:idle_timeout']);
  assert.equal(r.stats.activeConnections, 0);
});

test('reassembly: a packet after idle expiry starts a new connection', () => {
  const { rec } = run({
    limits: { idleTimeoutSeconds: 10 },
    in: [...HS, { frame: 4, from: 'c', seq: 1000, data: 'a' }, { frame: 5, from: 'c', seq: 1001, data: 'b', t: 100 }],
  });
  assert.deepEqual(rec.closes(), ['C1:idle_timeout', 'C5:end_of_capture']);
  assert.equal(rec.transcript('C5', 'client'), 'b');
});

test('reassembly: port reuse after close gives two connection ids', () => {
  const { rec } = run({
    in: [
      ...HS,
      { frame: 4, from: 'c', seq: 1000, ack: 5000, data: 'one', flags: 'F' },
      { frame: 5, from: 's', seq: 5000, ack: 1004, flags: 'F' },
      { frame: 6, from: 'c', seq: 1004, ack: 5001 },
      { frame: 7, from: 'c', seq: 999, flags: 'S' }, // old SYN retransmitted: absorbed
      { frame: 8, from: 'c', seq: 88888, flags: 'S' },
      { frame: 9, from: 's', seq: 123, ack: 88889, flags: 'S' },
      { frame: 10, from: 'c', seq: 88889, ack: 124, data: 'two' },
    ],
  });
  assert.deepEqual(rec.closes(), ['C1:fin', 'C8:end_of_capture']);
  assert.equal(rec.transcript('C1', 'client'), 'one<fin>');
  assert.equal(rec.transcript('C8', 'client'), 'two');
  assert.deepEqual(rec.anomalyCodes(), []);
});

test('reassembly: new SYN with another ISN on an open connection evicts it (tcp_port_reuse)', () => {
  const { rec } = run({
    in: [
      ...HS,
      { frame: 4, from: 'c', seq: 1000, data: 'a' },
      { frame: 5, from: 'c', seq: 1005, data: 'b' },
      { frame: 6, from: 'c', seq: 999, flags: 'S' }, // same ISN: retransmission, ignored
      { frame: 7, from: 'c', seq: 50, flags: 'S' },
      { frame: 8, from: 'c', seq: 51, data: 'new' },
    ],
  });
  assert.deepEqual(rec.closes(), ['C1:evicted', 'C7:end_of_capture']);
  assert.equal(rec.transcript('C1', 'client'), 'a[4]b');
  assert.equal(rec.transcript('C7', 'client'), 'new');
  assert.deepEqual(rec.anomalyCodes().sort(), ['tcp_content_gap', 'tcp_port_reuse']);
});

test('reassembly: per-stream buffer limit → gap, skip ahead, bufferedBytes bounded', () => {
  const rec = new RecordingFactory();
  const r = new TcpReassembler({ factory: rec, limits: resolveLimits({ maxBufferedBytesPerStream: 10 }), report: rec.report });
  const segs: SegmentSpec[] = [
    ...HS,
    { frame: 4, from: 'c', seq: 1000, data: 'a' },
    { frame: 5, from: 'c', seq: 1010, data: 'bbbbbbbbbb' },
    { frame: 6, from: 'c', seq: 1030, data: 'cccc' },
    { frame: 7, from: 'c', seq: 1040, data: 'dddddddddddddddddddd' }, // bigger than the limit on its own
  ];
  let max = 0;
  for (const s of segs) {
    r.add(tcpPacket(s));
    max = Math.max(max, r.stats.bufferedBytes);
  }
  assert.ok(max <= 10, `buffered ${max}`);
  r.flushAll();
  assert.equal(rec.transcript('C1', 'client'), 'a[9]bbbbbbbbbb[10]cccc[6]dddddddddddddddddddd');
  assert.ok(rec.anomalyCodes().includes('tcp_buffer_overflow'));
  assert.equal(r.stats.bufferedBytes, 0);
  assert.equal(r.stats.gapBytes, 25);
});

test('reassembly: total buffer limit flushes the largest other buffer', () => {
  const other: TestEndpoints = { client: { ip: '10.0.0.9', port: 40000 }, server: { ip: '10.0.0.2', port: 25 } };
  const rec = new RecordingFactory();
  const r = new TcpReassembler({ factory: rec, limits: resolveLimits({ maxBufferedBytesTotal: 12 }), report: rec.report });
  const segs: SegmentSpec[] = [
    ...HS,
    { frame: 4, from: 'c', seq: 1005, data: 'AAAAAAAA' },
    { frame: 5, from: 'c', seq: 1, flags: 'S', endpoints: other },
    { frame: 6, from: 'c', seq: 10, data: 'BBBBBB', endpoints: other },
  ];
  let max = 0;
  for (const s of segs) {
    r.add(tcpPacket(s));
    max = Math.max(max, r.stats.bufferedBytes);
  }
  assert.ok(max <= 12);
  assert.equal(rec.transcript('C1', 'client'), '[5]AAAAAAAA');
  assert.ok(rec.anomalyCodes().includes('tcp_total_buffer_overflow'));
  r.flushAll();
  assert.equal(rec.transcript('C5', 'client'), '[8]BBBBBB');
});

test('reassembly: ignored handler gets no further data, buffers freed, still closed', () => {
  const rec = new RecordingFactory({ ignoreAfterData: 1 });
  const r = new TcpReassembler({ factory: rec, limits: resolveLimits(), report: rec.report });
  const segs: SegmentSpec[] = [
    ...HS,
    { frame: 4, from: 'c', seq: 1010, ack: 5000, data: 'buffered' },
    { frame: 5, from: 'c', seq: 1000, ack: 5000, data: 'first' },
    { frame: 6, from: 's', seq: 5000, ack: 1000, data: 'server' },
    { frame: 7, from: 'c', seq: 1018, ack: 5006, flags: 'F' },
    { frame: 8, from: 's', seq: 5006, ack: 1019, flags: 'F' },
  ];
  for (const s of segs) r.add(tcpPacket(s));
  assert.equal(rec.transcript('C1', 'client'), 'first<fin>');
  assert.equal(rec.transcript('C1', 'server'), '<fin>');
  assert.deepEqual(rec.closes(), ['C1:fin']);
  assert.equal(r.stats.bufferedBytes, 0);
  assert.equal(r.stats.gaps, 0);
});

test('reassembly: handler ignored from creation: only ends and close', () => {
  const rec = new RecordingFactory({ ignoreAfterData: 0 });
  const { r } = run({ in: [...HS, { frame: 4, from: 'c', seq: 1005, data: 'x' }, { frame: 5, from: 's', seq: 5000, flags: 'R' }] }, rec);
  assert.deepEqual(
    rec.events.map((e) => e.kind + (e.kind === 'end' || e.kind === 'close' ? `:${e.reason}` : '')),
    ['end:rst', 'close:rst'],
  );
  assert.equal(r.stats.bufferedBytes, 0);
});

test('reassembly: maxConnections evicts the least recently active', () => {
  const ep = (n: number): TestEndpoints => ({ client: { ip: `10.0.1.${n}`, port: 40000 }, server: { ip: '10.0.0.2', port: 25 } });
  const { rec } = run({
    limits: { maxConnections: 2 },
    in: [
      { frame: 1, from: 'c', seq: 1, flags: 'S', endpoints: ep(1) },
      { frame: 2, from: 'c', seq: 1, flags: 'S', endpoints: ep(2) },
      { frame: 3, from: 'c', seq: 2, data: 'x', endpoints: ep(1) }, // C1 now more recent than C2
      { frame: 4, from: 'c', seq: 1, flags: 'S', endpoints: ep(3) },
    ],
  });
  assert.deepEqual(rec.closes(), ['C2:evicted', 'C1:end_of_capture', 'C4:end_of_capture']);
  assert.deepEqual(rec.anomalyCodes(), ['tcp_connection_evicted']);
});

test('reassembly: every emitted anomaly code is in the catalog', () => {
  const codes = new Set(REASSEMBLY_ANOMALIES.map((a) => a.code));
  for (const c of cases) {
    const { rec } = run(c);
    for (const a of rec.anomalies) assert.ok(codes.has(a.code), a.code);
  }
  for (const a of REASSEMBLY_ANOMALIES) assert.match(a.code, /^tcp_[a-z_]+$/);
});
