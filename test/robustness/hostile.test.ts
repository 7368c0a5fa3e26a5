/**
 * Crafted hostile captures through the whole pipeline. Each case asserts the named anomaly (or
 * limit), bounded time and memory, and that traffic after the hostile part is still analysed
 * (a normal SMTP session whose message must be rebuilt byte for byte).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { ACK, PSH, SYN, TcpConversation, buildFrame, concat, writePcap, writePcapngSections } from '../helpers/pcap-writer.js';
import type { PcapngBlock, SynthFrame, SynthPacket } from '../helpers/pcap-writer.js';
import { analyzeBytes, recordLayout, withTimeout } from '../helpers/mutate.js';

const sha = (b: Uint8Array | string): string => createHash('sha256').update(b).digest('hex');
const MiB = 1024 * 1024;
const T0 = 1_704_067_200;

const messageText = (tag: string): string => `From: a@example.com\r\nTo: b@example.net\r\nSubject: ${tag}\r\nMessage-ID: <${tag}@example.com>\r\n\r\nbody of ${tag}\r\n`;

/**
 * A complete SMTP session on its own connection: greeting, EHLO, MAIL, RCPT, DATA, message, QUIT,
 * FIN. `hook` may add packets after EHLO (the hostile part); `data` overrides the message bytes sent
 * (default: the message and the terminating dot line).
 */
function session(port: number, startSec: number, tag: string, hook?: (c: TcpConversation) => void, data?: string): TcpConversation {
  const c = new TcpConversation({ ip: '198.51.100.7', port }, { ip: '203.0.113.25', port: 25 }, { start: { sec: startSec, nsec: 0 } });
  c.handshake();
  c.serverSends('220 mx.example.net ESMTP\r\n');
  c.clientSends('EHLO client.example\r\n');
  c.serverSends('250 mx.example.net\r\n');
  hook?.(c);
  c.clientSends('MAIL FROM:<a@example.com>\r\n');
  c.serverSends('250 ok\r\n');
  c.clientSends('RCPT TO:<b@example.net>\r\n');
  c.serverSends('250 ok\r\n');
  c.clientSends('DATA\r\n');
  c.serverSends('354 go\r\n');
  if (data !== undefined) {
    c.clientSends(data);
  } else {
    c.clientSends(`${messageText(tag)}.\r\n`);
    c.serverSends(`250 queued as ${tag}\r\n`);
    c.clientSends('QUIT\r\n');
    c.serverSends('221 bye\r\n');
  }
  c.fin('client');
  return c;
}

type Run = Awaited<ReturnType<typeof analyzeBytes>>;

/** The message with this tag was rebuilt complete and byte-exact. */
function assertDelivered(r: Run, tag: string): void {
  const m = r.records.messages.find((x) => x.headers.subject === tag);
  assert.ok(m, `message ${tag} rebuilt (messages: ${r.records.messages.map((x) => x.headers.subject).join(', ')})`);
  assert.equal(m.partial, false, `message ${tag} complete`);
  assert.equal(m.sha256, sha(messageText(tag)), `message ${tag} byte-exact`);
}

function assertNoInternalError(r: Run): void {
  assert.equal(r.anomalies_by_code.internal_error, undefined, JSON.stringify(r.records.anomalies.filter((a) => a.code === 'internal_error')));
}

/** A classic pcap record header + data as raw bytes (caplen written as given). */
function rawRecord(caplen: number, data: Uint8Array, sec = T0 + 50): Uint8Array {
  const b = new Uint8Array(16 + data.length);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, sec, true);
  dv.setUint32(8, caplen >>> 0, true);
  dv.setUint32(12, data.length, true);
  b.set(data, 16);
  return b;
}

describe('hostile captures', () => {
  test('pcap record with caplen 0xFFFFFFF0: capture_record_too_large, earlier traffic analysed, resync named', async () => {
    const before = session(40001, T0, 'before').pcap();
    const after = session(40002, T0 + 100, 'after').frames();
    const garbage = rawRecord(0xfffffff0, new Uint8Array(64).fill(0x41));
    const bytes = concat([before, garbage, writePcap(after).subarray(24)]);
    const r = await withTimeout(analyzeBytes(bytes), 10_000, 'caplen 0xFFFFFFF0');
    assert.ok(r.anomalies_by_code.capture_record_too_large, 'named anomaly');
    assert.equal(r.anomalies_by_code.capture_resync?.count, 1);
    const resync = r.records.anomalies.find((a) => a.code === 'capture_resync');
    assert.match(resync?.detail ?? '', new RegExp(`^skipped ${garbage.length} bytes \\(offsets ${before.length}-`));
    // Reading resynchronised: the capture counts as read to the end.
    assert.equal(r.input.complete, true);
    assert.equal(r.input.stopped_at_offset, null);
    assertDelivered(r, 'before');
    assertNoInternalError(r);
  });

  test('pcap record with caplen 0xFFFFFFF0: reading resynchronises and the later session is analysed', async () => {
    const before = session(40001, T0, 'before').pcap();
    const after = session(40002, T0 + 100, 'after').frames();
    const bytes = concat([before, rawRecord(0xfffffff0, new Uint8Array(64).fill(0x41)), writePcap(after).subarray(24)]);
    const r = await withTimeout(analyzeBytes(bytes), 10_000, 'caplen 0xFFFFFFF0 resync');
    assertDelivered(r, 'after');
    assertNoInternalError(r);
  });

  test('pcapng block with a bogus inner length: block skipped (capture_corrupt_record), later traffic analysed', async () => {
    const frames = [...session(40001, T0, 'before').frames(), ...session(40002, T0 + 100, 'after').frames()];
    const blocks: PcapngBlock[] = frames.map((f) => ({ type: 'epb', iface: 0, ts: f.ts, data: f.data }));
    // An EPB whose captured length (0xFFFFFF00) runs far past its block: framing intact, body impossible.
    const body = new Uint8Array(20 + 40);
    const dv = new DataView(body.buffer);
    dv.setUint32(12, 0xffffff00, true);
    dv.setUint32(16, 40, true);
    blocks.splice(20, 0, { type: 'raw', blockType: 6, body });
    const bytes = writePcapngSections([{ interfaces: [{ linkType: 1 }], blocks }]);
    const r = await withTimeout(analyzeBytes(bytes), 10_000, 'pcapng bogus inner length');
    assert.ok(r.anomalies_by_code.capture_corrupt_record, `named anomaly (got ${Object.keys(r.anomalies_by_code).join(', ')})`);
    assert.equal(r.input.complete, true, 'a skipped block does not stop reading');
    assertDelivered(r, 'before');
    assertDelivered(r, 'after');
    assertNoInternalError(r);
  });

  test('directions captured apart: each ACK ahead of the data it acknowledges, the message still byte-exact', async () => {
    // A tap's two ports merged by timestamp can put a server ACK before the client segment it
    // acknowledges. Every client data segment followed by the server's ACK is swapped with it.
    const pkts = session(40003, T0, 'split-tap').packets();
    let swaps = 0;
    for (let i = 0; i + 1 < pkts.length; i++) {
      const a = pkts[i]!;
      const b = pkts[i + 1]!;
      if (a.srcPort === 40003 && (a.payload?.length ?? 0) > 0 && b.srcPort === 25 && (b.payload?.length ?? 0) === 0 && (b.ack ?? 0) > (a.seq ?? 0)) {
        pkts[i] = b;
        pkts[i + 1] = a;
        swaps++;
        i++;
      }
    }
    assert.ok(swaps >= 5, `swapped ${swaps}`);
    const r = await withTimeout(analyzeBytes(writePcap(pkts.map((p) => ({ ts: p.ts, data: buildFrame(p) })))), 10_000, 'split tap');
    assertDelivered(r, 'split-tap');
    assertNoInternalError(r);
    assert.equal(r.anomalies_by_code.tcp_content_gap, undefined, JSON.stringify(r.anomalies_by_code));
    assert.deepEqual(
      r.records.transcript.filter((t) => t.kind === 'command').map((t) => t.command),
      ['EHLO', 'MAIL', 'RCPT', 'DATA', 'QUIT'],
    );
  });

  test('pcapng timestamps past the year 9999 (if_tsoffset 2^62 s): clamped and named, both sessions analysed', async () => {
    // Formatting such a time used to throw (RangeError from Date) and end the whole analysis.
    const far = session(40001, T0, 'far').frames().map((f) => ({ ...f, ts: { sec: 2 ** 62 + 1024, nsec: f.ts.nsec } }));
    const after = session(40002, T0 + 100, 'after').frames();
    const bytes = writePcapngSections([
      {
        interfaces: [{ linkType: 1, tsresol: 9, tsoffset: 2 ** 62 }, { linkType: 1 }],
        blocks: [...far.map((f) => ({ type: 'epb' as const, iface: 0, ts: f.ts, data: f.data })), ...after.map((f) => ({ type: 'epb' as const, iface: 1, ts: f.ts, data: f.data }))],
      },
    ]);
    const r = await withTimeout(analyzeBytes(bytes), 10_000, 'pcapng far timestamps');
    assert.equal(r.anomalies_by_code.capture_timestamp_out_of_range?.count, far.length);
    assertDelivered(r, 'far');
    assertDelivered(r, 'after');
    assertNoInternalError(r);
    const m = r.records.messages.find((x) => x.headers.subject === 'far')!;
    assert.match(m.ts_first, /^9999-12-31T23:59:59\.999999999Z$/);
    assert.match(r.records.messages.find((x) => x.headers.subject === 'after')!.ts_first, /^2024-01-01T00:01:40\./);
  });

  test('pcapng block with a bogus total length: named anomaly, earlier traffic analysed, stop recorded', async () => {
    const frames = [...session(40001, T0, 'before').frames(), ...session(40002, T0 + 100, 'after').frames()];
    const bytes = writePcapngSections([{ interfaces: [{ linkType: 1 }], blocks: frames.map((f) => ({ type: 'epb', iface: 0, ts: f.ts, data: f.data })) }]);
    const layout = recordLayout(bytes);
    const nBefore = session(40001, T0, 'before').frames().length;
    const victim = layout.boundaries[2 + nBefore]!; // SHB, IDB, then the EPBs of "before"
    for (const bogus of [0xfffffff0, 13, 8, 0x00100000]) {
      const b = bytes.slice();
      new DataView(b.buffer).setUint32(victim + 4, bogus, true);
      const r = await withTimeout(analyzeBytes(b), 10_000, `pcapng total length ${bogus}`);
      const codes = Object.keys(r.anomalies_by_code);
      assert.ok(
        codes.some((c) => c === 'capture_corrupt_record' || c === 'capture_record_too_large' || c === 'capture_truncated_record'),
        `length ${bogus}: named anomaly (got ${codes.join(', ')})`,
      );
      assertDelivered(r, 'before');
      assertNoInternalError(r);
    }
  });

  test('TCP sequence jumps of ~1 GB: named, and the session around them is rebuilt intact', async () => {
    const hostile = (c: TcpConversation): void => {
      // Injected segments far ahead in the client's sequence space (do not advance the real stream).
      const base = c.clientSeq;
      const junk = 'JUNK JUNK JUNK\r\n';
      for (const jump of [2 ** 30 + 4096, 1_000_000_000]) {
        const p = c.send('client', ACK | PSH, junk);
        p.seq = (base + jump) >>> 0;
        c.clientSeq = base;
      }
    };
    const bytes = concat([session(40001, T0, 'jumped', hostile).pcap(), writePcap(session(40002, T0 + 100, 'after').frames()).subarray(24)]);
    const rss0 = process.memoryUsage().rss;
    const r = await withTimeout(analyzeBytes(bytes), 10_000, 'seq jump');
    assert.ok(r.anomalies_by_code.tcp_segment_out_of_window, `out-of-window segment named (got ${Object.keys(r.anomalies_by_code).join(', ')})`);
    assertDelivered(r, 'jumped');
    assertDelivered(r, 'after');
    assertNoInternalError(r);
    // A 1e9-byte hole must never be materialised.
    assert.ok(process.memoryUsage().rss - rss0 < 200 * MiB, 'memory bounded');
  });

  test('10 MB line without CRLF to port 25: line_too_long, memory bounded, the session goes on', async () => {
    const line = new Uint8Array(10 * MiB).fill(0x41);
    const hostile = (c: TcpConversation): void => {
      c.clientSends(line, { noAck: true });
      c.clientSends('\r\n');
      c.serverSends('500 line too long\r\n');
    };
    const bytes = session(40001, T0, 'after-long-line', hostile).pcap();
    global.gc?.();
    const rss0 = process.memoryUsage().rss;
    const t0 = Date.now();
    const r = await withTimeout(analyzeBytes(bytes), 20_000, '10 MB line');
    const ms = Date.now() - t0;
    assert.ok(r.anomalies_by_code.line_too_long, `line_too_long (got ${Object.keys(r.anomalies_by_code).join(', ')})`);
    assertDelivered(r, 'after-long-line');
    assertNoInternalError(r);
    const kept = r.records.transcript.filter((e) => e.lines.some((l) => l.length > 0 && l.startsWith('AAAA')));
    for (const e of kept) for (const l of e.lines) assert.ok(l.length <= 64 * 1024, `transcript line cut to maxLineBytes (${l.length})`);
    assert.ok(process.memoryUsage().rss - rss0 < 300 * MiB, `memory bounded (grew ${Math.round((process.memoryUsage().rss - rss0) / MiB)} MiB)`);
    assert.ok(ms < 15_000, `took ${ms} ms`);
  });

  test('DATA that never ends before FIN: message partial, named; the next connection is analysed', async () => {
    const unterminated = session(40001, T0, 'cut', undefined, `${messageText('cut')}and then the client hangs up`);
    const bytes = concat([unterminated.pcap(), writePcap(session(40002, T0 + 100, 'after').frames()).subarray(24)]);
    const r = await withTimeout(analyzeBytes(bytes), 10_000, 'unterminated DATA');
    const m = r.records.messages.find((x) => x.headers.subject === 'cut');
    assert.ok(m, 'partial message recorded');
    assert.equal(m.partial, true);
    assert.equal(m.sha256, sha(`${messageText('cut')}and then the client hangs up`), 'every byte received is kept');
    assert.ok(r.anomalies_by_code.message_partial, 'message_partial');
    assert.equal(r.counts.messages_partial, 1);
    const tx = (r.records.sessions[0]!.smtp as { transactions: { outcome: string }[] }).transactions;
    assert.equal(tx[0]!.outcome, 'aborted');
    assertDelivered(r, 'after');
    assertNoInternalError(r);
  });

  test('100,000 tiny connections: connection limit named, time and memory bounded, a later session analysed', async () => {
    const frames: SynthFrame[] = [];
    const N = 100_000;
    for (let i = 0; i < N; i++) {
      // A SYN and one data segment from a different client each time (10.x.y.z:port): one in ten
      // an SMTP client on port 25 (a session each), the rest HTTP on port 80 (identified as not mail).
      const p: SynthPacket = {
        ts: { sec: T0 + Math.floor(i / 1000), nsec: (i % 1000) * 1000 },
        src: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
        dst: '203.0.113.25',
        srcPort: 1024 + (i % 50000),
        dstPort: i % 10 === 0 ? 25 : 80,
        seq: i,
        ack: 0,
        flags: SYN,
      };
      frames.push({ ts: p.ts, data: buildFrame(p) });
      frames.push({ ts: p.ts, data: buildFrame({ ...p, seq: i + 1, flags: ACK | PSH, payload: p.dstPort === 25 ? 'EHLO x\r\n' : 'GET / HTTP/1.0\r\n' }) });
    }
    const later = session(40002, T0 + 200, 'after').frames();
    const bytes = writePcap([...frames, ...later]);
    global.gc?.();
    const rss0 = process.memoryUsage().rss;
    const t0 = Date.now();
    const r = await withTimeout(analyzeBytes(bytes, { maxConnections: 5000 }), 30_000, '100k connections');
    const ms = Date.now() - t0;
    assert.ok(r.anomalies_by_code.tcp_connection_evicted, 'tcp_connection_evicted');
    assert.equal(r.counts.connections, N + 1);
    assert.equal(r.counts.sessions.smtp, N / 10 + 1, 'every SMTP connection became a session, even evicted ones');
    assertDelivered(r, 'after');
    assertNoInternalError(r);
    assert.ok(ms < 20_000, `took ${ms} ms`);
    // Records of 10,000 SMTP sessions are held in memory by the test's MemorySink; the rest must not grow.
    assert.ok(process.memoryUsage().rss - rss0 < 512 * MiB, `memory bounded (grew ${Math.round((process.memoryUsage().rss - rss0) / MiB)} MiB)`);
  });

  test('a message with 10,000 nested multiparts: mime_too_deep, message kept whole, next message rebuilt', async () => {
    const depth = 10_000;
    const parts: string[] = ['From: a@example.com\r\nTo: b@example.net\r\nSubject: deep\r\nMIME-Version: 1.0\r\n'];
    for (let i = 0; i < depth; i++) parts.push(`Content-Type: multipart/mixed; boundary="b${i}"\r\n\r\n--b${i}\r\n`);
    parts.push('Content-Type: text/plain\r\n\r\ninnermost\r\n');
    for (let i = depth - 1; i >= 0; i--) parts.push(`--b${i}--\r\n`);
    const deep = parts.join('');
    const hostile = (c: TcpConversation): void => {
      c.clientSends('MAIL FROM:<a@example.com>\r\n');
      c.serverSends('250 ok\r\n');
      c.clientSends('RCPT TO:<b@example.net>\r\n');
      c.serverSends('250 ok\r\n');
      c.clientSends('DATA\r\n');
      c.serverSends('354 go\r\n');
      c.clientSends(`${deep}.\r\n`);
      c.serverSends('250 queued\r\n');
    };
    const bytes = session(40001, T0, 'after-deep', hostile).pcap();
    const t0 = Date.now();
    const r = await withTimeout(analyzeBytes(bytes), 20_000, '10,000 nested multiparts');
    const ms = Date.now() - t0;
    const m = r.records.messages.find((x) => x.headers.subject === 'deep');
    assert.ok(m, 'deep message recorded');
    assert.equal(m.sha256, sha(deep), 'the .eml is the bytes sent');
    assert.equal(m.partial, false);
    assert.ok(m.anomalies.includes('mime_too_deep'), `mime_too_deep (got ${m.anomalies.join(', ')})`);
    assert.ok(m.parts.length <= 10_001, 'parts bounded');
    for (const p of m.parts) assert.ok(p.path.split('.').length <= 51, `part path deeper than maxMimeDepth: ${p.path.slice(0, 40)}…`);
    assertDelivered(r, 'after-deep');
    assertNoInternalError(r);
    assert.ok(ms < 15_000, `took ${ms} ms`);
  });
});
