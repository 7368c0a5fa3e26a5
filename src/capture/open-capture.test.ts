import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import type { Anomaly } from '../core/anomaly.js';
import { MAX_TS_SEC, MIN_TS_SEC, type CaptureFrame, type Timestamp } from '../core/types.js';
import { MailsleuthError } from '../core/errors.js';
import { CAPTURE_ANOMALIES } from './anomaly-codes.js';
import { createRecordParser, openCapture, openCaptureBatches, READ_BUFFER_OFFSET, READ_CHUNK_BYTES } from './open-capture.js';
import { SHARED_SKIP_REASON, sharedDir } from '../../test/helpers/paths.js';
import {
  TcpConversation,
  buildFrame,
  buildUdpFrame,
  concat,
  pcapngTicks,
  tsAt,
  writePcap,
  writePcapng,
  writePcapngSections,
  type SynthFrame,
} from '../../test/helpers/pcap-writer.js';

const tmp = mkdtempSync(join(tmpdir(), 'mailsleuth-capture-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
let fileNo = 0;
function tmpFile(bytes: Uint8Array, name = `f${fileNo++}.pcap`): string {
  const p = join(tmp, name);
  writeFileSync(p, bytes);
  return p;
}

interface Frame {
  index: number;
  ts: Timestamp;
  linkType: number;
  interfaceId: number;
  capturedLength: number;
  originalLength: number;
  data: Uint8Array;
}

function own(f: CaptureFrame): Frame {
  return { ...f, ts: { sec: f.ts.sec, nsec: f.ts.nsec }, data: f.data.slice() };
}

async function readAll(input: string | NodeJS.ReadableStream, maxRecordBytes?: number, maxResyncBytes?: number) {
  const anomalies: Anomaly[] = [];
  const src = await openCapture(input, {
    report: (a) => anomalies.push(a),
    ...(maxRecordBytes !== undefined ? { maxRecordBytes } : {}),
    ...(maxResyncBytes !== undefined ? { maxResyncBytes } : {}),
  });
  const frames: Frame[] = [];
  for await (const f of src) frames.push(own(f));
  return { frames, info: src.info, anomalies };
}

/** Parses with the sync parser, feeding the bytes in the given chunk sizes (cycled). */
function parseChunked(file: Uint8Array, sizes: readonly number[], limits: { maxRecordBytes?: number; maxResyncBytes?: number } = {}) {
  const anomalies: Anomaly[] = [];
  const made = createRecordParser(file, null, { report: (a) => anomalies.push(a), ...limits });
  assert.ok(made);
  const frames: Frame[] = [];
  let o = 0;
  let i = 0;
  while (o < file.length) {
    const n = Math.max(1, sizes[i++ % sizes.length]!);
    // Copy each chunk into a reused buffer, as the file reader does, to prove frames do not outlive it.
    const chunk = file.slice(o, o + n);
    made.parser.feed(chunk, (f) => frames.push(own(f)));
    chunk.fill(0xee);
    o += n;
  }
  made.parser.end((f) => frames.push(own(f)));
  return { frames, info: made.info, anomalies };
}

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function sampleFrames(): SynthFrame[] {
  const c = new TcpConversation({ ip: '10.0.0.1', port: 40000 }, { ip: '10.0.0.2', port: 25 }, { start: { sec: 1700000000, nsec: 123456789 } });
  c.handshake().serverSends('220 hi\r\n').clientSends('EHLO x\r\n').serverSends('250 ok\r\n'.repeat(300), { segmentSize: 700 }).fin();
  const frames = c.frames();
  frames.push({ ts: tsAt(1700000100, 999999), data: buildUdpFrame({ ts: tsAt(1700000100), src: '10.0.0.1', dst: '10.0.0.53', srcPort: 5353, dstPort: 53, payload: 'q' }) });
  return frames;
}

function assertSameFrames(got: readonly Frame[], want: readonly SynthFrame[], opts: { nanos: boolean; linkType?: number; snaplen?: number }) {
  assert.equal(got.length, want.length);
  got.forEach((f, i) => {
    const w = want[i]!;
    assert.equal(f.index, i + 1);
    assert.equal(f.ts.sec, w.ts.sec);
    assert.equal(f.ts.nsec, opts.nanos ? w.ts.nsec : Math.floor(w.ts.nsec / 1000) * 1000);
    assert.equal(f.linkType, opts.linkType ?? 1);
    const cap = Math.min(w.data.length, opts.snaplen ?? Infinity);
    assert.equal(f.capturedLength, cap);
    assert.equal(f.originalLength, w.data.length);
    assert.deepEqual(f.data, w.data.subarray(0, cap));
  });
}

test('classic pcap round-trips in both byte orders, µs and ns', async () => {
  const frames = sampleFrames();
  for (const bigEndian of [false, true]) {
    for (const nanos of [false, true]) {
      const file = writePcap(frames, { bigEndian, nanos });
      const { frames: got, info, anomalies } = await readAll(tmpFile(file));
      assertSameFrames(got, frames, { nanos });
      assert.deepEqual(anomalies, []);
      assert.equal(info.format, 'pcap');
      assert.equal(info.byteOrder, bigEndian ? 'be' : 'le');
      assert.equal(info.tsPrecision, nanos ? 'ns' : 'us');
      assert.equal(info.frames, frames.length);
      assert.equal(info.bytesRead, file.length);
      assert.equal(info.fileBytes, file.length);
      assert.equal(info.sha256, createHash('sha256').update(file).digest('hex'));
      assert.deepEqual(info.linkTypes, [1]);
    }
  }
});

test('pcap: link type field FCS bits are masked, snaplen-cut frames keep their original length', async () => {
  const frames = sampleFrames();
  const file = writePcap(frames, { linkType: 113, linkTypeExtraBits: 0x14000000, snaplen: 100 });
  const { frames: got, info, anomalies } = await readAll(tmpFile(file));
  assertSameFrames(got, frames, { nanos: false, linkType: 113, snaplen: 100 });
  assert.deepEqual(info.linkTypes, [113]);
  assert.deepEqual(anomalies, []);
});

test('pcap: caplen > origlen and caplen > snaplen are reported but the frames are kept', async () => {
  const f = buildFrame({ ts: tsAt(5), src: '1.1.1.1', dst: '2.2.2.2', srcPort: 1, dstPort: 2, seq: 1, ack: 0, flags: 2 });
  const file = writePcap([{ ts: tsAt(5), data: f, origLen: 10 }, { ts: tsAt(6), data: f }], { snaplen: 200 });
  new DataView(file.buffer).setUint32(16, 20, true); // header snaplen below the frame size
  const { frames, anomalies } = await readAll(tmpFile(file));
  assert.equal(frames.length, 2);
  assert.deepEqual(anomalies.map((a) => a.code).sort(), ['capture_caplen_exceeds_origlen', 'capture_caplen_exceeds_snaplen']);
});

test('pcap: timestamp fractions of a second or more are carried', async () => {
  const file = writePcap([{ ts: tsAt(10), data: new Uint8Array(60) }]);
  new DataView(file.buffer).setUint32(24 + 4, 2_500_000, true);
  const { frames, anomalies } = await readAll(tmpFile(file));
  assert.deepEqual(frames[0]!.ts, { sec: 12, nsec: 500_000_000 });
  assert.deepEqual(anomalies.map((a) => a.code), ['capture_bad_timestamp']);
});

test('pcapng: one section, EPBs, every byte order and several tsresol values', async () => {
  const frames = sampleFrames();
  for (const bigEndian of [false, true]) {
    for (const tsresol of [6, 9, 3, 0x80 | 20, 0x80 | 32]) {
      const file = writePcapng(frames, { bigEndian, tsresol });
      const { frames: got, info, anomalies } = await readAll(tmpFile(file, `ng${fileNo++}.pcapng`));
      assert.deepEqual(anomalies, []);
      assert.equal(info.format, 'pcapng');
      assert.equal(info.byteOrder, bigEndian ? 'be' : 'le');
      assert.equal(got.length, frames.length);
      got.forEach((f, i) => {
        // Expected time: the tick count written, converted back exactly.
        const ticks = pcapngTicks(frames[i]!.ts, tsresol);
        const units = tsresol & 0x80 ? 1n << BigInt(tsresol & 0x7f) : 10n ** BigInt(tsresol);
        assert.deepEqual(f.ts, { sec: Number(ticks / units), nsec: Number(((ticks % units) * 1_000_000_000n) / units) });
        assert.deepEqual(f.data, frames[i]!.data);
      });
    }
  }
});

test('pcapng: ns timestamps beyond 2^53 ticks convert exactly', async () => {
  const times: Timestamp[] = [
    { sec: 1700000000, nsec: 999999999 },
    { sec: 4102444800, nsec: 1 }, // year 2100
    { sec: 9007199, nsec: 254740991 }, // 2^53 - 1 ns
    { sec: 9007199, nsec: 254740992 }, // 2^53 ns
    { sec: 0, nsec: 0 },
  ];
  const file = writePcapng(times.map((ts) => ({ ts, data: new Uint8Array(14) })), { tsresol: 9 });
  const { frames } = await readAll(tmpFile(file, 'ns.pcapng'));
  assert.deepEqual(frames.map((f) => f.ts), times);
});

test('pcapng: timestamps outside the years 0000-9999 are clamped and named, and reading goes on', async () => {
  // Interface 0 counts seconds (if_tsresol 0), so an all-ones tick count is ~1.8e19 s; interface 1
  // has an if_tsoffset of -2^62 s. Neither fits a Date (the pipeline used to throw formatting it).
  const epbAllOnes = new Uint8Array(20 + 16);
  const dv = new DataView(epbAllOnes.buffer);
  dv.setUint32(0, 0, true);
  dv.setUint32(4, 0xffffffff, true);
  dv.setUint32(8, 0xffffffff, true);
  dv.setUint32(12, 16, true);
  dv.setUint32(16, 16, true);
  const file = writePcapngSections([
    {
      interfaces: [
        { linkType: 1, tsresol: 0 },
        { linkType: 1, tsresol: 9, tsoffset: -(2 ** 62) },
      ],
      blocks: [
        { type: 'epb', iface: 0, ts: { sec: 1700000000, nsec: 0 }, data: new Uint8Array(14) },
        { type: 'raw', blockType: 6, body: epbAllOnes },
        { type: 'epb', iface: 1, ts: { sec: -(2 ** 62) + 1024, nsec: 0 }, data: new Uint8Array(14) },
        { type: 'epb', iface: 0, ts: { sec: 1700000001, nsec: 0 }, data: new Uint8Array(14) },
      ],
    },
  ]);
  const { frames, anomalies } = await readAll(tmpFile(file, 'far.pcapng'));
  assert.deepEqual(
    frames.map((f) => f.ts),
    [
      { sec: 1700000000, nsec: 0 },
      { sec: MAX_TS_SEC, nsec: 999999999 },
      { sec: MIN_TS_SEC, nsec: 0 },
      { sec: 1700000001, nsec: 0 },
    ],
  );
  assert.deepEqual(
    anomalies.map((a) => [a.code, a.at?.frame]),
    [
      ['capture_timestamp_out_of_range', 2],
      ['capture_timestamp_out_of_range', 3],
    ],
  );
  assert.match(anomalies[0]!.detail ?? '', /frame 2: timestamp of 18446744073709552000 s .*interface 0.*9999-12-31T23:59:59\.999999999Z/);
  assert.match(anomalies[1]!.detail ?? '', /frame 3: timestamp of -4611686018427387000 s .*interface 1.*0000-01-01T00:00:00\.000000000Z/);
});

test('pcapng: several sections with their own byte order and interfaces; SPB, PB, DSB, skipped blocks', async () => {
  const d = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + n) & 0xff);
  const secret = new TextEncoder().encode('CLIENT_RANDOM 00 11\n');
  const file = writePcapngSections([
    {
      interfaces: [
        { linkType: 1, snaplen: 64, name: 'eth0' },
        { linkType: 101, tsresol: 9, tsoffset: 1000 },
      ],
      blocks: [
        { type: 'epb', iface: 1, ts: { sec: 1700000000, nsec: 5 }, data: d(40) },
        { type: 'raw', blockType: 5, body: new Uint8Array(12) }, // ISB
        { type: 'spb', data: d(100) }, // cut to interface 0's snaplen 64
        { type: 'dsb', secretsType: 0x544c534b, data: secret },
        { type: 'raw', blockType: 0x00000bad, body: new Uint8Array(8) }, // custom/unknown
        { type: 'epb', iface: 0, ts: { sec: 1700000001, nsec: 0 }, data: d(80) },
      ],
    },
    {
      bigEndian: true,
      interfaces: [{ linkType: 113 }],
      blocks: [
        { type: 'pb', iface: 0, ts: { sec: 1700000002, nsec: 250000000 }, data: d(30) },
        { type: 'epb', iface: 0, ts: { sec: 1700000003, nsec: 0 }, data: d(31), origLen: 900 },
      ],
    },
  ]);
  const { frames, info, anomalies } = await readAll(tmpFile(file, 'multi.pcapng'));
  assert.deepEqual(anomalies, []);
  assert.equal(info.sections, 2);
  assert.equal(info.byteOrder, 'le');
  assert.deepEqual(info.linkTypes, [1, 101, 113]);
  assert.deepEqual(
    info.interfaces.map((i) => [i.linkType, i.snaplen, i.tsResolution, i.name]),
    [
      [1, 64, 'us', 'eth0'],
      [101, 0, 'ns', undefined],
      [113, 0, 'us', undefined],
    ],
  );
  assert.equal(info.decryptionSecrets.length, 1);
  assert.equal(info.decryptionSecrets[0]!.type, 0x544c534b);
  assert.deepEqual(info.decryptionSecrets[0]!.data, secret);
  assert.deepEqual(
    frames.map((f) => [f.index, f.interfaceId, f.linkType, f.capturedLength, f.originalLength, f.ts.sec, f.ts.nsec]),
    [
      [1, 1, 101, 40, 40, 1700000000, 5],
      // SPB: no timestamp (previous frame's), caplen cut to snaplen 64.
      [2, 0, 1, 64, 100, 1700000000, 5],
      [3, 0, 1, 64, 80, 1700000001, 0],
      [4, 2, 113, 30, 30, 1700000002, 250000000],
      [5, 2, 113, 31, 900, 1700000003, 0],
    ],
  );
  assert.deepEqual(frames[1]!.data, d(100).subarray(0, 64));
  assert.deepEqual(frames[4]!.data, d(31));
});

test('pcapng: a packet for an undefined interface and an inconsistent EPB are skipped, reading goes on', async () => {
  const good = { type: 'epb' as const, iface: 0, ts: tsAt(1), data: new Uint8Array(20) };
  const file = writePcapngSections([{ interfaces: [{ linkType: 1 }], blocks: [good, { ...good, iface: 3 }, good, good] }]);
  // Make the third block's caplen larger than the block.
  const dv = new DataView(file.buffer);
  let off = 0;
  const starts: number[] = [];
  while (off < file.length) {
    starts.push(off);
    off += dv.getUint32(off + 4, true);
  }
  dv.setUint32(starts[4]! + 20, 5000, true); // SHB, IDB, EPB, EPB(iface 3), EPB ← this one
  const { frames, anomalies } = await readAll(tmpFile(file, 'skip.pcapng'));
  assert.equal(frames.length, 2);
  assert.deepEqual(frames.map((f) => f.index), [1, 2]);
  assert.deepEqual(anomalies.map((a) => a.code), ['capture_unknown_interface', 'capture_corrupt_record']);
});

test('pcapng: interfaces beyond maxCaptureInterfaces are ignored (bounded memory)', async () => {
  const interfaces = Array.from({ length: 5 }, () => ({ linkType: 1 }));
  const file = writePcapngSections([{ interfaces, blocks: [0, 4].map((iface) => ({ type: 'epb' as const, iface, ts: tsAt(1), data: new Uint8Array(20) })) }]);
  const anomalies: Anomaly[] = [];
  const src = await openCapture(tmpFile(file, 'ifs.pcapng'), { report: (a) => anomalies.push(a), maxCaptureInterfaces: 3 });
  let n = 0;
  for await (const f of src) n += f.interfaceId === 0 ? 1 : 100;
  assert.equal(n, 1);
  assert.equal(src.info.interfaces.length, 3);
  assert.deepEqual(anomalies.map((a) => a.code), ['capture_too_many_interfaces', 'capture_unknown_interface']);
});

test('pcapng: mismatched trailing length: capture_corrupt_record, resync on the next block, numbering goes on', async () => {
  const blocks = [0, 1, 2].map((i) => ({ type: 'epb' as const, iface: 0, ts: tsAt(i), data: new Uint8Array(20 + i).fill(i + 1) }));
  const file = writePcapngSections([{ interfaces: [{ linkType: 1 }], blocks }]);
  const dv = new DataView(file.buffer);
  const epb2 = 28 + 20 + (32 + 20) + 0; // SHB 28, IDB 20, first EPB 52
  const len2 = dv.getUint32(epb2 + 4, true);
  dv.setUint32(epb2 + len2 - 4, len2 + 4, true);
  const { frames, info, anomalies } = await readAll(tmpFile(file, 'trail.pcapng'));
  // The second EPB is dropped; the third follows it and is numbered 2 (as in the file without the bad block).
  assert.deepEqual(frames.map((f) => [f.index, f.data[0]]), [[1, 1], [2, 3]]);
  assert.deepEqual(anomalies.map((a) => a.code), ['capture_corrupt_record', 'capture_resync']);
  assert.match(anomalies[1]!.detail!, new RegExp(`^skipped ${len2} bytes \\(offsets ${epb2}-${epb2 + len2 - 1}\\) after frame 1`));
  assert.equal(info.stoppedAtOffset, undefined);
  assert.equal(info.bytesRead, file.length);
  assert.equal(info.sha256, createHash('sha256').update(file).digest('hex'), 'the whole file is still hashed');
  // With resync disabled, reading stops at the bad block as before.
  const stop = await readAll(tmpFile(file, 'trail0.pcapng'), undefined, 0);
  assert.equal(stop.frames.length, 1);
  assert.equal(stop.info.stoppedAtOffset, epb2);
  assert.deepEqual(stop.anomalies.map((a) => a.code), ['capture_corrupt_record']);
});

/** A classic pcap record header + data, caplen written as given. */
function rawPcapRecord(caplen: number, data: Uint8Array, sec: number): Uint8Array {
  const b = new Uint8Array(16 + data.length);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, sec, true);
  dv.setUint32(8, caplen >>> 0, true);
  dv.setUint32(12, data.length, true);
  b.set(data, 16);
  return b;
}

test('pcap resync after a 0xFFFFFFF0 caplen: same frames and anomalies in any chunking, numbering continues', () => {
  const frames = sampleFrames();
  const k = 5;
  const good = writePcap(frames);
  const before = writePcap(frames.slice(0, k));
  const garbage = rawPcapRecord(0xfffffff0, new Uint8Array(300).fill(0x41), frames[k - 1]!.ts.sec);
  const file = concat([before, garbage, good.subarray(before.length)]);
  const whole = parseChunked(file, [file.length]);
  const ref = parseChunked(good, [good.length]);
  // Every frame of the clean file, same numbers: the garbage is as if removed.
  assert.deepEqual(whole.frames, ref.frames);
  assert.deepEqual(whole.anomalies.map((a) => a.code), ['capture_record_too_large', 'capture_resync']);
  assert.match(whole.anomalies[1]!.detail!, new RegExp(`^skipped ${garbage.length} bytes \\(offsets ${before.length}-${before.length + garbage.length - 1}\\) after frame ${k}`));
  assert.equal(whole.info.stoppedAtOffset, undefined);
  assert.equal(whole.info.bytesRead, file.length);
  for (const sizes of [[1], [7], [16, 3, 200], [301]]) {
    const got = parseChunked(file, sizes);
    assert.deepEqual(got.frames, whole.frames, `chunks ${sizes.join(',')}`);
    assert.deepEqual(got.anomalies, whole.anomalies, `chunks ${sizes.join(',')}`);
    assert.equal(got.info.bytesRead, file.length);
  }
  // Garbage longer than maxResyncBytes: reading stops at the bad record, as without resync.
  const stop = parseChunked(file, [64], { maxResyncBytes: 100 });
  assert.deepEqual(stop.frames, ref.frames.slice(0, k));
  assert.deepEqual(stop.anomalies.map((a) => a.code), ['capture_record_too_large']);
  assert.match(stop.anomalies[0]!.detail!, /no plausible record within the next 100 bytes: reading stopped/);
  assert.equal(stop.info.stoppedAtOffset, before.length);
  assert.equal(stop.info.bytesRead, before.length);
});

test('pcap resync: garbage with pcap-like timestamps but implausible lengths is skipped; the last record may end at EOF', () => {
  const frames = sampleFrames().slice(0, 4);
  const good = writePcap(frames);
  const before = writePcap(frames.slice(0, 3));
  // Junk that looks like record headers (right time) whose caplen exceeds origlen or the snaplen.
  const junk = new Uint8Array(64);
  const jdv = new DataView(junk.buffer);
  for (let o = 0; o < 64; o += 16) {
    jdv.setUint32(o, frames[2]!.ts.sec, true);
    jdv.setUint32(o + 8, o === 0 ? 0x7fffffff : 100, true);
    jdv.setUint32(o + 12, 50, true);
  }
  const file = concat([before, junk, good.subarray(before.length)]);
  const got = parseChunked(file, [5]);
  assert.deepEqual(got.frames, parseChunked(good, [good.length]).frames, 'the single last record is found (it ends exactly at EOF)');
  assert.deepEqual(got.anomalies.map((a) => a.code), ['capture_record_too_large', 'capture_resync']);
  assert.match(got.anomalies[1]!.detail!, /^skipped 64 bytes/);
});

test('pcapng resync after bogus block total lengths', () => {
  const frames = sampleFrames();
  const file = writePcapng(frames);
  const ref = parseChunked(file, [file.length]);
  const victim = 28 + 20 + 32 + ((frames[0]!.data.length + 3) & ~3); // the second EPB
  for (const bogus of [0xfffffff0, 13, 8, 0x100000]) {
    const b = file.slice();
    new DataView(b.buffer).setUint32(victim + 4, bogus, true);
    const got = parseChunked(b, [97]);
    const expect = ref.frames.filter((f) => f.index !== 2).map((f) => ({ ...f, index: f.index > 2 ? f.index - 1 : f.index }));
    assert.deepEqual(got.frames, expect, `length ${bogus}`);
    assert.deepEqual(got.anomalies.map((a) => a.code), [bogus === 0xfffffff0 ? 'capture_record_too_large' : 'capture_corrupt_record', 'capture_resync'], `length ${bogus}`);
    assert.equal(got.info.stoppedAtOffset, undefined);
    assert.deepEqual(parseChunked(b, [1]).anomalies, got.anomalies, `length ${bogus}: byte by byte`);
  }
});

test('a record claiming 250 MiB in a 40-byte input allocates memory only for the bytes that arrive', () => {
  const head = writePcap([]);
  const rec = rawPcapRecord(250 * 1024 * 1024, new Uint8Array(0), 1_700_000_000);
  new DataView(rec.buffer).setUint32(12, 250 * 1024 * 1024, true);
  const file = concat([head, rec]);
  assert.equal(file.length, 40);
  for (const pcapng of [false, true]) {
    const input = pcapng ? concat([writePcapng([]), Uint8Array.of(6, 0, 0, 0, 0, 0, 0x80, 0x0f, 0, 0, 0, 0)]) : file;
    globalThis.gc?.();
    const ab0 = process.memoryUsage().arrayBuffers;
    const anomalies: Anomaly[] = [];
    const made = createRecordParser(input, null, { report: (a) => anomalies.push(a) })!;
    // The record header straddles two feeds, then its data trickles in.
    made.parser.feed(input.subarray(0, input.length - 5), () => assert.fail('no frame'));
    made.parser.feed(input.subarray(input.length - 5), () => assert.fail('no frame'));
    for (let i = 0; i < 20; i++) made.parser.feed(new Uint8Array(1000), () => assert.fail('no frame'));
    const grown = process.memoryUsage().arrayBuffers - ab0;
    assert.ok(grown < 4 * 1024 * 1024, `arrayBuffers grew ${grown} bytes`);
    made.parser.end();
    assert.deepEqual(anomalies.map((a) => a.code), ['capture_truncated_record']);
  }
});

test('records straddling chunk boundaries: any chunking gives the same frames', () => {
  const frames = sampleFrames();
  const files = [writePcap(frames), writePcap(frames, { bigEndian: true, nanos: true }), writePcapng(frames), writePcapng(frames, { bigEndian: true })];
  const r = rng(7);
  for (const file of files) {
    const whole = parseChunked(file, [file.length]);
    assert.equal(whole.frames.length, frames.length);
    for (const sizes of [[1], [3], [16], [17, 5, 1000], Array.from({ length: 50 }, () => 1 + Math.floor(r() * 300))]) {
      const got = parseChunked(file, sizes);
      assert.deepEqual(got.frames, whole.frames);
      assert.deepEqual(got.anomalies, []);
      assert.equal(got.info.bytesRead, file.length);
    }
  }
});

test('truncated copies (cut at every offset) never throw and report the cut record', () => {
  const frames = sampleFrames().slice(0, 6);
  for (const file of [writePcap(frames), writePcapng(frames)]) {
    const whole = parseChunked(file, [file.length]);
    for (let cut = 0; cut < file.length; cut++) {
      const part = file.subarray(0, cut);
      if (cut < 4) continue; // no magic: openCapture refuses it (tested below)
      const got = parseChunked(part, [Math.max(1, Math.floor(cut / 3))]);
      // Frames are a prefix of the full list.
      assert.deepEqual(got.frames, whole.frames.slice(0, got.frames.length));
      const complete = got.info.bytesRead === cut && got.anomalies.length === 0;
      if (!complete) {
        assert.equal(got.anomalies.length, 1, `cut ${cut}`);
        assert.match(got.anomalies[0]!.code, /^capture_truncated_(record|header)$/);
      }
    }
  }
});

test('random bytes after a valid header never throw and never hang', () => {
  const r = rng(42);
  const pcapHeader = writePcap([]);
  const ngHeader = writePcapng([]);
  for (let iter = 0; iter < 300; iter++) {
    const noise = Uint8Array.from({ length: 1 + Math.floor(r() * 400) }, () => Math.floor(r() * 256));
    // Small lengths now and then, so that some records parse.
    if (noise.length > 12 && r() < 0.5) noise.set([Math.floor(r() * 60), 0, 0, 0], 8);
    for (const head of [pcapHeader, ngHeader]) {
      const file = concat([head, noise]);
      const got = parseChunked(file, [1 + Math.floor(r() * 64)]);
      assert.ok(got.frames.length >= 0);
      for (const a of got.anomalies) assert.ok(CAPTURE_ANOMALIES.some((c) => c.code === a.code), a.code);
    }
  }
});

test('maxRecordBytes: a record over it is skipped by resync (named), or stops reading when resync finds nothing', async () => {
  const frames = sampleFrames();
  const file = tmpFile(writePcap(frames));
  const { frames: got, info, anomalies } = await readAll(file, 200);
  const small = frames.filter((f) => f.data.length <= 200);
  assert.ok(small.length < frames.length && small.length > 2);
  // Every record over the limit is skipped; the others keep their order and are numbered 1..n.
  assert.deepEqual(got.map((f) => f.data), small.map((f) => f.data));
  assert.deepEqual(got.map((f) => f.index), small.map((_, i) => i + 1));
  // One resync per run of consecutive large records (a large record is no resync candidate).
  const runs = frames.filter((f, i) => f.data.length > 200 && (i === 0 || frames[i - 1]!.data.length <= 200)).length;
  assert.ok(runs >= 1);
  assert.deepEqual(anomalies.map((a) => a.code), Array.from({ length: runs }, () => ['capture_record_too_large', 'capture_resync']).flat());
  assert.equal(info.stoppedAtOffset, undefined);
  // maxResyncBytes 0: reading stops at the first large record.
  const stop = await readAll(file, 200, 0);
  const firstBig = frames.findIndex((f) => f.data.length > 200);
  assert.equal(stop.frames.length, firstBig);
  assert.deepEqual(stop.anomalies.map((a) => a.code), ['capture_record_too_large']);
  assert.equal(typeof stop.info.stoppedAtOffset, 'number');
});

test('gzip input (file and stream), including a truncated gzip', async () => {
  const file = writePcap(sampleFrames());
  const gz = gzipSync(file);
  const plain = await readAll(tmpFile(file));
  const viaFile = await readAll(tmpFile(gz, 'x.pcap.gz'));
  assert.deepEqual(viaFile.frames, plain.frames);
  assert.equal(viaFile.info.gzip, true);
  assert.equal(viaFile.info.bytesRead, file.length);
  assert.equal(viaFile.info.fileBytes, gz.length);
  assert.equal(viaFile.info.sha256, createHash('sha256').update(gz).digest('hex'));
  const chunks = Array.from({ length: Math.ceil(gz.length / 100) }, (_, i) => Buffer.from(gz.subarray(i * 100, i * 100 + 100)));
  const viaStream = await readAll(Readable.from(chunks));
  assert.deepEqual(viaStream.frames, plain.frames);
  assert.equal(viaStream.info.sha256, viaFile.info.sha256);
  const cut = await readAll(tmpFile(gz.subarray(0, Math.floor(gz.length * 0.6)), 'cut.pcap.gz'));
  assert.ok(cut.frames.length < plain.frames.length);
  assert.deepEqual(cut.frames, plain.frames.slice(0, cut.frames.length));
  assert.ok(cut.anomalies.some((a) => a.code === 'capture_gzip_error'));
  assert.ok(cut.info.sha256);
});

test('stream input with tiny chunks equals file input; batches API gives the same frames', async () => {
  const file = writePcapng(sampleFrames());
  const plain = await readAll(tmpFile(file, 'b.pcapng'));
  const chunks = Array.from({ length: Math.ceil(file.length / 3) }, (_, i) => Buffer.from(file.subarray(i * 3, i * 3 + 3)));
  const viaStream = await readAll(Readable.from(chunks));
  assert.deepEqual(viaStream.frames, plain.frames);
  assert.equal(viaStream.info.fileBytes, file.length);
  const src = await openCaptureBatches(tmpFile(file, 'c.pcapng'), { report: () => assert.fail('no anomaly expected') });
  const frames: Frame[] = [];
  for await (const batch of src) for (const f of batch) frames.push(own(f));
  assert.deepEqual(frames, plain.frames);
});

test('worker-thread hashing gives the same digest; breaking out early closes everything', async () => {
  const file = writePcap(sampleFrames());
  const path = tmpFile(file);
  const anomalies: Anomaly[] = [];
  const src = await openCapture(path, { report: (a) => anomalies.push(a), workerHashMinBytes: 0 });
  const frames: Frame[] = [];
  for await (const f of src) frames.push(own(f));
  assert.equal(frames.length, sampleFrames().length);
  assert.equal(src.info.sha256, createHash('sha256').update(file).digest('hex'));
  // A parser that pauses (slow consumer): the idle hash worker must stay alive and finish.
  const slow = await openCapture(path, { report: () => {}, workerHashMinBytes: 0 });
  let n = 0;
  for await (const f of slow) {
    if (n++ === 0) await new Promise((r) => setTimeout(r, 150));
    void f;
  }
  assert.equal(n, sampleFrames().length);
  assert.equal(slow.info.sha256, createHash('sha256').update(file).digest('hex'));
  // Abandoned iterations (worker and inline) must not hang or keep the process alive.
  for (const workerHashMinBytes of [0, Infinity]) {
    const early = await openCapture(path, { report: () => {}, workerHashMinBytes });
    for await (const f of early) {
      assert.equal(f.index, 1);
      break;
    }
    assert.equal(early.info.sha256, undefined);
    await assert.rejects(async () => {
      for await (const f of early) void f;
    }, /only once/);
  }
  // Opened but never iterated: nothing to await; the process must still be able to exit.
  await openCapture(path, { report: () => {}, workerHashMinBytes: 0 });
});

test('the hash worker reads the opened file itself: replacing the path meanwhile changes nothing', async () => {
  const file = writePcap(sampleFrames());
  const path = tmpFile(file);
  const src = await openCapture(path, { report: () => {}, workerHashMinBytes: 0 });
  // Another file takes the name before the frames are read (log rotation, a careless copy).
  const other = tmpFile(writePcap(sampleFrames().slice(0, 2)));
  renameSync(other, path);
  let n = 0;
  for await (const f of src) {
    void f;
    n++;
  }
  assert.equal(n, sampleFrames().length);
  assert.equal(src.info.sha256, createHash('sha256').update(file).digest('hex'));
});

test('worker hashing: a capture of many read chunks, streamed with stream() and a slow consumer now and then, gives the right frames and digest', async () => {
  // ~22 MiB: more than five reads of READ_CHUNK_BYTES, so the read buffers are reused.
  const payload = 'x'.repeat(1400);
  const frames: SynthFrame[] = [];
  for (let i = 0; i < 15000; i++) {
    const ts = tsAt(1700000000 + Math.floor(i / 1000), (i % 1000) * 1000);
    frames.push({ ts, data: buildUdpFrame({ ts, src: '10.0.0.1', dst: '10.0.0.2', srcPort: 1000 + (i % 50000), dstPort: 9, payload: `${i} ${payload}` }) });
  }
  const file = writePcap(frames);
  assert.ok(file.length > 5 * READ_CHUNK_BYTES);
  const path = tmpFile(file);
  const want = createHash('sha256').update(file).digest('hex');
  for (const pauseEvery of [0, 2]) {
    const src = await openCaptureBatches(path, { report: () => assert.fail('no anomaly expected'), workerHashMinBytes: 0 });
    let n = 0;
    let chunks = 0;
    let bad = 0;
    for await (const _ of src.stream((f) => {
      // Each frame's bytes are checked while valid: a buffer overwritten too early would show here.
      const text = Buffer.from(f.data.subarray(f.data.length - 1400 - String(n).length - 1)).toString('latin1');
      if (text !== `${n} ${payload}`) bad++;
      n++;
    })) {
      chunks++;
      // A slow consumer now and then: reading and hashing must still line up.
      if (pauseEvery > 0 && chunks % pauseEvery === 0) await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(n, frames.length);
    assert.equal(bad, 0);
    assert.ok(chunks >= 6, `${chunks} chunks`);
    assert.equal(src.info.sha256, want);
    assert.equal(src.info.bytesRead, file.length);
  }
});

test('gzip file hashed by the worker (the compressed bytes) equals the inline digest', async () => {
  const file = writePcap(sampleFrames());
  const gzPath = tmpFile(gzipSync(file), 'w.pcap.gz');
  const viaWorker = await openCapture(gzPath, { report: () => {}, workerHashMinBytes: 0 });
  const frames: Frame[] = [];
  for await (const f of viaWorker) frames.push(own(f));
  const inline = await readAll(gzPath);
  assert.deepEqual(frames, inline.frames);
  assert.equal(viaWorker.info.sha256, inline.info.sha256);
  assert.equal(viaWorker.info.sha256, createHash('sha256').update(readFileSync(gzPath)).digest('hex'));
});

test('multi-member gzip is read through', async () => {
  const file = writePcap(sampleFrames());
  const gz = concat([gzipSync(file.subarray(0, 700)), gzipSync(file.subarray(700))]);
  const plain = await readAll(tmpFile(file));
  const multi = await readAll(tmpFile(gz, 'multi.pcap.gz'));
  assert.deepEqual(multi.frames, plain.frames);
  assert.deepEqual(multi.anomalies, []);
});

test('unknown, empty and unreadable inputs throw MailsleuthError with a one-line message', async () => {
  const html = tmpFile(new TextEncoder().encode('<html><body>nope</body></html>'), 'x.html');
  await assert.rejects(openCapture(html, { report: () => {} }), (e: unknown) => {
    assert.ok(e instanceof MailsleuthError);
    assert.equal(e.code, 'CAPTURE_UNKNOWN_FORMAT');
    assert.match(e.message, /not a pcap, pcapng or gzip file \(first bytes 3c 68 74 6d\); expected/);
    assert.ok(!e.message.includes('\n'));
    return true;
  });
  await assert.rejects(openCapture(tmpFile(new Uint8Array(0), 'empty'), { report: () => {} }), { code: 'CAPTURE_UNKNOWN_FORMAT' });
  await assert.rejects(openCapture(tmpFile(gzipSync(Buffer.from('hello world')), 'h.gz'), { report: () => {} }), /gzip-compressed, but/);
  await assert.rejects(openCapture(join(tmp, 'does-not-exist.pcap'), { report: () => {} }), { code: 'CAPTURE_UNREADABLE' });
  await assert.rejects(openCapture(tmp, { report: () => {} }), { code: 'CAPTURE_UNREADABLE' });
});

test('a pcap file shorter than its header reports a truncated header', async () => {
  const { frames, anomalies } = await readAll(tmpFile(writePcap([]).subarray(0, 10)));
  assert.equal(frames.length, 0);
  assert.deepEqual(anomalies.map((a) => a.code), ['capture_truncated_header']);
});

test('every emitted capture code is catalogued', () => {
  const codes = CAPTURE_ANOMALIES.map((c) => c.code);
  assert.equal(new Set(codes).size, codes.length);
  for (const c of codes) assert.match(c, /^capture_[a-z0-9_]+$/);
});

// ------------------------------------------------------------------------------------------------
// Real captures (../shared corpus)

const corpus = sharedDir ? join(sharedDir, 'corpus') : '';
const skip = sharedDir ? false : SHARED_SKIP_REASON;

test('lab: the gzip copy gives the same frames as the plain capture', { skip }, async () => {
  const plain = await readAll(join(corpus, 'lab', 'smtp-plain-auth-login.pcap'));
  const gz = await readAll(join(corpus, 'lab', 'smtp-plain-auth-login.pcap.gz'));
  assert.ok(plain.frames.length > 0);
  assert.deepEqual(gz.frames, plain.frames);
  assert.deepEqual(gz.anomalies, []);
});

test('lab: imap-session.pcapng and imap-session.pcap give the same frames', { skip }, async () => {
  const a = await readAll(join(corpus, 'lab', 'imap-session.pcap'));
  const b = await readAll(join(corpus, 'lab', 'imap-session.pcapng'));
  assert.ok(a.frames.length > 0);
  assert.deepEqual(b.frames, a.frames);
});

test('suricata-verify smtp-to-comma (3.9 GB record length after frame 18): frames 1-18 as tshark, then a 3-byte resync to EOF', { skip }, async () => {
  const path = join(corpus, 'public', 'suricata-verify', 'smtp-to-comma', '10.7.29.101_49898-178.63.41.150_25.pcap');
  const bytes = readFileSync(path);
  const { frames, info, anomalies } = await readAll(path);
  // tshark reads 18 packets (conv-tcp: 18 frames, 3383 bytes) and stops with an error.
  const conv = readFileSync(`${path}.tshark.conv-tcp.txt`, 'utf8');
  const [, convFrames, convBytes] = conv.match(/<->\s+\S+\s+\d+ \d+ bytes\s+\d+ \d+ bytes\s+(\d+) (\d+) bytes/)!;
  assert.equal(Number(convFrames), 18);
  const first18 = frames.slice(0, 18);
  assert.equal(first18.reduce((n, f) => n + f.capturedLength, 0), Number(convBytes));
  // MANIFEST: the file was edited by hand, +3 bytes inside packet 18, so its record length no longer
  // matches. Resync skips exactly those 3 bytes and every later record lines up to the end of the file.
  assert.deepEqual(anomalies.map((a) => a.code), ['capture_record_too_large', 'capture_resync']);
  const recEnd = 24 + first18.reduce((n, f) => n + 16 + f.capturedLength, 0);
  assert.match(anomalies[1]!.detail!, new RegExp(`^skipped 3 bytes \\(offsets ${recEnd}-${recEnd + 2}\\) after frame 18`));
  assert.equal(info.stoppedAtOffset, undefined);
  assert.equal(info.bytesRead, bytes.length);
  assert.ok(frames.length > 18);
  assert.deepEqual(frames.map((f) => f.index), frames.map((_, i) => i + 1));
  for (let i = 1; i < frames.length; i++) {
    const dt = frames[i]!.ts.sec - frames[i - 1]!.ts.sec;
    assert.ok(dt >= 0 && dt < 5, `frame ${i + 1}: time steps by ${dt} s`);
  }
  assert.equal(info.sha256, createHash('sha256').update(bytes).digest('hex'));
});

/** Parses capinfos output into the few fields we check. */
function capinfos(text: string): { packets: number; sha256: string; type: string; encap: string; first?: string; precision: string } {
  const field = (name: string) => text.match(new RegExp(`^${name}:\\s+(.*)$`, 'm'))?.[1]?.trim() ?? '';
  const first = field('First packet time');
  return {
    packets: Number(field('Number of packets')),
    sha256: field('SHA256'),
    type: field('File type'),
    encap: field('File encapsulation'),
    precision: field('File timestamp precision'),
    ...(first ? { first } : {}),
  };
}

test('public corpus: frame counts, sha256, format and first-frame time match capinfos', { skip }, async () => {
  const { readdirSync, statSync } = await import('node:fs');
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const n of readdirSync(dir)) {
      const p = join(dir, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (n.endsWith('.capinfos.txt')) files.push(p);
    }
  };
  walk(join(corpus, 'public'));
  assert.ok(files.length > 100);
  let checked = 0;
  for (const ci of files) {
    const cap = ci.slice(0, -'.capinfos.txt'.length);
    const text = readFileSync(ci, 'utf8');
    if (!/^Number of packets:/m.test(text)) continue; // capinfos gave up (smtp-to-comma, tested above)
    const want = capinfos(text);
    const { frames, info, anomalies } = await readAll(cap);
    assert.equal(frames.length, want.packets, cap);
    assert.equal(info.sha256, want.sha256, cap);
    assert.equal(info.gzip, want.type.includes('gzip'), cap);
    assert.equal(info.format, want.type.startsWith('pcapng') ? 'pcapng' : 'pcap', cap);
    assert.equal(anomalies.filter((a) => a.code !== 'capture_caplen_exceeds_snaplen').length, 0, `${cap}: ${JSON.stringify(anomalies)}`);
    if (want.first && frames.length > 0) {
      // capinfos prints UTC here, to the file's precision.
      const d = new Date(frames[0]!.ts.sec * 1000).toISOString().replace('T', ' ').slice(0, 19);
      const digits = want.first.split('.')[1]?.length ?? 0;
      const frac = digits ? '.' + String(frames[0]!.ts.nsec).padStart(9, '0').slice(0, digits) : '';
      assert.equal(d + frac, want.first, cap);
    }
    checked++;
  }
  assert.ok(checked >= files.length - 1);
});

test('file read buffers start READ_BUFFER_OFFSET bytes into their memory (kernel copies into them stay on the fast path), in both hashing modes', async () => {
  const file = writePcap(sampleFrames());
  const path = tmpFile(file);
  for (const workerHashMinBytes of [0, Infinity]) {
    const src = await openCapture(path, { report: () => undefined, workerHashMinBytes });
    let first: number | null = null;
    for await (const f of src) first ??= f.data.byteOffset;
    // pcap file header (24) and the first record header (16) come before the first frame's bytes.
    assert.equal(first, READ_BUFFER_OFFSET + 24 + 16, `workerHashMinBytes ${workerHashMinBytes}`);
    assert.equal(src.info.sha256, createHash('sha256').update(file).digest('hex'));
  }
});
