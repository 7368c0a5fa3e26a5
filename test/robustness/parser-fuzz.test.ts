/**
 * Random input into every parser stage on its own (fast-check, fixed seeds): the pcap/pcapng
 * record parsers, PacketDecoder on every link type, TcpReassembler, every registered protocol
 * analyzer (iterating PROTOCOLS, so POP3/IMAP/Sieve are covered as they are registered) and the
 * MessageBuilder. None may throw; where input can be fed in pieces, feeding it whole, byte by
 * byte and split at random points must give the same results.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import type { Anomaly } from '../../src/core/anomaly.js';
import { resolveLimits } from '../../src/core/limits.js';
import type { CaptureFrame } from '../../src/core/types.js';
import { createRecordParser } from '../../src/capture/open-capture.js';
import * as LINK from '../../src/capture/link-types.js';
import { PacketDecoder } from '../../src/decode/packet-decoder.js';
import { TcpReassembler } from '../../src/reassembly/tcp-reassembler.js';
import { RecordingFactory, tcpPacket } from '../../src/reassembly/recording-handler.js';
import type { TestEndpoints } from '../../src/reassembly/recording-handler.js';
import { PROTOCOLS } from '../../src/protocols/registry.js';
import { MessageBuilder } from '../../src/message/message-builder.js';
import { CHUNKINGS, runDialogue } from '../helpers/chunkings.js';
import type { DialogueStep, Splitter } from '../helpers/chunkings.js';
import { FakeContext } from '../helpers/fake-context.js';
import { buildFrame, writePcap, writePcapng } from '../helpers/pcap-writer.js';
import type { SynthPacket } from '../helpers/pcap-writer.js';

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
/** FUZZ_SCALE=10 (environment) runs ten times as many cases, for a deeper local search. */
const SCALE = Math.max(1, Number(process.env.FUZZ_SCALE ?? 1) || 1);
/** fast-check parameters: fixed seed, failure message carrying the assertion that failed. */
const opts = (numRuns: number, seed: number): fc.Parameters<unknown> => ({ numRuns: Math.round(numRuns * SCALE), seed, includeErrorInReport: true });

// ------------------------------------------------------------------------------------------------
// Record parsers

/** Parses `bytes` fed in the pieces `split` makes; returns every frame (hashed) and anomaly. */
function parseRecords(bytes: Uint8Array, split: Splitter, maxRecordBytes: number): unknown {
  const anomalies: string[] = [];
  const report = (a: Anomaly): void => void anomalies.push(`${a.code}|${a.detail ?? ''}`);
  const made = createRecordParser(bytes.subarray(0, 4), null, { report, maxRecordBytes });
  assert.ok(made, 'magic recognised');
  const frames: string[] = [];
  const onFrame = (f: CaptureFrame): void => {
    assert.equal(f.data.length, f.capturedLength);
    frames.push(`${f.index}|${f.ts.sec}.${f.ts.nsec}|${f.linkType}|${f.interfaceId}|${f.originalLength}|${sha(f.data)}`);
  };
  for (const piece of split(bytes)) {
    // The parser may keep views of a chunk only until the next feed: pass a fresh copy each time
    // so a stale view would show up as different frame hashes across chunkings.
    made.parser.feed(piece.slice(), onFrame);
  }
  made.parser.end(onFrame);
  return { frames, anomalies, info: { ...made.info, decryptionSecrets: made.info.decryptionSecrets.length } };
}

const pcapHead = writePcap([]);
const pcapngHead = writePcapng([]); // SHB + one IDB

/** A few valid records followed by random bytes, or a valid capture with random bytes spliced in. */
function captureArb(head: Uint8Array, valid: Uint8Array): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    fc.uint8Array({ maxLength: 600 }).map((tail) => Buffer.concat([head, tail])),
    fc.tuple(fc.nat({ max: valid.length }), fc.uint8Array({ minLength: 1, maxLength: 40 }), fc.nat({ max: 40 })).map(([at, junk, del]) =>
      Buffer.concat([valid.subarray(0, Math.max(4, at)), junk, valid.subarray(Math.min(valid.length, at + del))]),
    ),
  );
}

function sampleFrames(): SynthPacket[] {
  const out: SynthPacket[] = [];
  for (let i = 0; i < 6; i++) {
    out.push({ ts: { sec: 1_700_000_000 + i, nsec: i * 1000 }, src: '10.1.1.1', dst: '10.1.1.2', srcPort: 40000, dstPort: 25, seq: 1000 + i * 10, ack: 5, flags: 0x18, payload: `line ${i}\r\n` });
  }
  return out;
}

describe('record parsers: random bytes, any chunking', () => {
  const frames = sampleFrames().map((p) => ({ ts: p.ts, data: buildFrame(p) }));
  for (const [name, head, valid] of [
    ['pcap', pcapHead, writePcap(frames)],
    ['pcap big-endian ns', writePcap([], { bigEndian: true, nanos: true }), writePcap(frames, { bigEndian: true, nanos: true })],
    ['pcapng', pcapngHead, writePcapng(frames)],
    ['pcapng big-endian', writePcapng([], { bigEndian: true }), writePcapng(frames, { bigEndian: true })],
  ] as const) {
    test(`${name}: never throws, same frames and anomalies whole / byte by byte / random splits`, () => {
      fc.assert(
        fc.property(captureArb(head, valid), (bytes) => {
          const ref = parseRecords(bytes, CHUNKINGS[0]!.split, 1 << 20);
          for (const c of [CHUNKINGS[1]!, CHUNKINGS[2]!, CHUNKINGS[4]!]) {
            assert.deepEqual(parseRecords(bytes, c.split, 1 << 20), ref, `chunking ${c.name}`);
          }
        }),
        opts(150, 0x5eed01 + name.length),
      );
    });
  }
});

// ------------------------------------------------------------------------------------------------
// Packet decoder

const LINK_TYPES = [...new Set(Object.entries(LINK).filter(([k, v]) => k.startsWith('LINKTYPE_') && typeof v === 'number').map(([, v]) => v as number))];
/** Link types the synthetic writer can build valid frames for. */
const BUILDABLE = [0, 1, 12, 14, 101, 108, 113, 228, 229, 276];

describe('PacketDecoder: random frames on every link type', () => {
  test(`link types covered: ${LINK_TYPES.join(', ')}`, () => {
    assert.ok(LINK_TYPES.length >= 10);
  });

  const frameArb = fc.oneof(
    // Pure random bytes on any link type (plus an unknown one).
    fc.record({ linkType: fc.constantFrom(...LINK_TYPES, 147), data: fc.uint8Array({ maxLength: 200 }) }),
    // A valid TCP frame with bytes flipped / the end cut: reaches IP options, IPv6 extension headers, TCP header checks.
    fc
      .record({
        linkType: fc.constantFrom(...BUILDABLE),
        v6: fc.boolean(),
        vlan: fc.constantFrom<number[]>([], [7], [7, 8]),
        payload: fc.uint8Array({ maxLength: 64 }),
        flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { maxLength: 6 }),
        cut: fc.nat(),
      })
      .map(({ linkType, v6, vlan, payload, flips, cut }) => {
        const p: SynthPacket = { ts: { sec: 1, nsec: 0 }, src: v6 ? '2001:db8::1' : '192.0.2.1', dst: v6 ? '2001:db8::2' : '192.0.2.2', srcPort: 1234, dstPort: 25, seq: 1, ack: 1, flags: 0x18, payload };
        if (linkType === 1) p.vlan = vlan;
        const data = buildFrame(p, linkType);
        for (const [at, x] of flips) data[at % data.length]! ^= x;
        return { linkType, data: data.subarray(0, data.length - (cut % 8 === 0 ? cut % data.length : 0)) };
      }),
  );

  test('never throws; TCP results are well-formed', () => {
    fc.assert(
      fc.property(fc.array(frameArb, { minLength: 1, maxLength: 30 }), (frames) => {
        const dec = new PacketDecoder({ report: () => undefined, limits: resolveLimits({ maxFragmentBytes: 4096 }) });
        frames.forEach((f, i) => {
          const frame: CaptureFrame = { index: i + 1, ts: { sec: 1000 + i, nsec: 0 }, linkType: f.linkType, interfaceId: 0, capturedLength: f.data.length, originalLength: f.data.length, data: f.data };
          const r = dec.decode(frame);
          if (r.kind === 'tcp') {
            const p = r.packet;
            assert.ok(p.srcPort >= 0 && p.srcPort <= 65535 && p.dstPort >= 0 && p.dstPort <= 65535);
            assert.ok(p.seq >= 0 && p.seq <= 0xffffffff && Number.isInteger(p.seq));
            assert.ok(p.missingPayload >= 0);
            assert.equal(p.frame, i + 1);
          }
          if (i % 10 === 9) dec.flushExpired(frame.ts);
        });
      }),
      opts(300, 0xdec0de),
    );
  });

  test('random IP fragments never throw; the fragment buffer limit is reached and named', () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(
        fc.array(fc.record({
            id: fc.nat({ max: 15 }),
            off: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 300 }), fc.nat({ max: 8191 })),
            more: fc.boolean(),
            // Mostly multiples of 8 (valid non-final fragments), sometimes not.
            body: fc.integer({ min: 0, max: 60 }).map((k) => new Uint8Array(k * 8 + (k % 7 === 3 ? 3 : 0)).fill(k)),
          }), { maxLength: 60 }),
        (frags) => {
          const codes: string[] = [];
          const dec = new PacketDecoder({ report: (a) => void codes.push(a.code), limits: resolveLimits({ maxFragmentBytes: 2048 }) });
          frags.forEach((f, i) => {
            const ip = new Uint8Array(20 + f.body.length);
            const dv = new DataView(ip.buffer);
            ip[0] = 0x45;
            dv.setUint16(2, ip.length);
            dv.setUint16(4, f.id);
            dv.setUint16(6, (f.more ? 0x2000 : 0) | f.off);
            ip[8] = 64;
            ip[9] = 6;
            ip.set([10, 0, 0, 1, 10, 0, 0, 2], 12);
            ip.set(f.body, 20);
            dec.decode({ index: i + 1, ts: { sec: i, nsec: 0 }, linkType: 228, interfaceId: 0, capturedLength: ip.length, originalLength: ip.length, data: ip });
          });
          for (const c of codes) seen.add(c);
        },
      ),
      opts(200, 0xf4a6),
    );
    // The generator reaches the bound (2 KiB of 300-byte fragments) and the overlap checks.
    assert.ok(seen.has('ip_fragment_buffer_full'), `codes seen: ${[...seen].join(', ')}`);
  });
});

// ------------------------------------------------------------------------------------------------
// TCP reassembler

const EPS: TestEndpoints[] = [
  { client: { ip: '10.0.0.1', port: 40000 }, server: { ip: '10.0.0.2', port: 25 } },
  { client: { ip: '10.0.0.1', port: 40001 }, server: { ip: '10.0.0.2', port: 110 } },
  { client: { ip: '10.0.0.3', port: 25 }, server: { ip: '10.0.0.2', port: 25 } },
  { client: { ip: 'fe80::1', port: 5000 }, server: { ip: 'fe80::2', port: 143 } },
];

const segArb = fc.record({
  ep: fc.nat({ max: EPS.length - 1 }),
  from: fc.constantFrom<'c' | 's'>('c', 's'),
  seq: fc.oneof(fc.integer({ min: 0, max: 4000 }), fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0xfffff000, max: 0xffffffff })),
  ack: fc.option(fc.integer({ min: 0, max: 0xffffffff }), { nil: undefined }),
  flags: fc.constantFrom('', 'S', 'F', 'R', 'P', 'SF', 'FR', 'SR'),
  len: fc.nat({ max: 300 }),
  missing: fc.constantFrom(0, 0, 0, 5, 70000),
  dt: fc.constantFrom(0, 0, 1, 30, 700),
});

describe('TcpReassembler: random packets', () => {
  test('never throws; buffers bounded; one close per connection, last', () => {
    fc.assert(
      fc.property(fc.array(segArb, { maxLength: 120 }), (segs) => {
        const limits = resolveLimits({ maxBufferedBytesPerStream: 2000, maxBufferedBytesTotal: 5000, maxConnections: 3, idleTimeoutSeconds: 600, maxRetainedBytesPerStream: 64 });
        const rec = new RecordingFactory();
        const r = new TcpReassembler({ factory: rec, limits, report: rec.report });
        let t = 100;
        segs.forEach((s, i) => {
          t += s.dt;
          const data = new Uint8Array(s.len).fill(0x41 + (i % 26));
          r.add(tcpPacket({ frame: i + 1, from: s.from, seq: s.seq, ack: s.ack, flags: s.flags, data, missing: s.missing, t, endpoints: EPS[s.ep] }));
          assert.ok(r.stats.bufferedBytes <= 5000, 'total buffer bound');
          assert.ok(r.stats.activeConnections <= 3, 'connection bound');
        });
        r.flushAll();
        const closed = new Set<string>();
        for (const e of rec.events) {
          assert.ok(!closed.has(e.conn), `event after close on ${e.conn}`);
          if (e.kind === 'close') closed.add(e.conn);
          if (e.kind === 'gap') assert.ok(e.length > 0 && Number.isFinite(e.length), 'gap length');
        }
        assert.equal(closed.size, rec.connections.length, 'every connection closed once');
      }),
      opts(300, 0x7cb),
    );
  });
});

// ------------------------------------------------------------------------------------------------
// Protocol analyzers (every registered one)

const TOKENS = [
  'EHLO ws1', 'HELO x', 'LHLO y', 'MAIL FROM:<a@b.c>', 'MAIL FROM:<>', 'RCPT TO:<c@d.e>', 'DATA', 'BDAT 5', 'BDAT 0 LAST', 'BDAT 99999999999 LAST',
  'AUTH PLAIN', 'AUTH PLAIN AGFsaWNlAHB3', 'AUTH LOGIN', 'AUTH CRAM-MD5', 'AUTH NTLM TlRMTVNTUAABAAAA', 'AUTH XOAUTH2', 'STARTTLS', 'RSET', 'NOOP', 'VRFY root', 'QUIT', '.', '..', '.x',
  '220 mx ESMTP', '220-mx', '250-PIPELINING', '250 ok', '354 go', '334 VXNlcm5hbWU6', '334 PDEyMzQ+', '334 ', '235 ok', '535 no', '421 bye', '500', '2', '999 x',
  'USER bob', 'PASS s3cret', 'APOP bob c4c9334bac560ecc979e58001b3e22fb', 'AUTH', 'RETR 1', 'TOP 1 5', 'LIST', 'UIDL', 'DELE 1', 'CAPA', 'STLS', '+OK', '+OK 120 octets', '-ERR no', '+ ',
  'a1 LOGIN bob pw', 'a1 LOGIN {3}', 'a2 SELECT INBOX', 'a3 FETCH 1 (BODY[])', 'a3 UID FETCH 1:* BODY.PEEK[]', '* 1 FETCH (BODY[] {12}', '* 2 FETCH (BODY[] {99999999999}', 'a4 APPEND INBOX {20}',
  'a4 APPEND INBOX {5+}', 'a5 AUTHENTICATE PLAIN', 'a6 STARTTLS', 'a7 IDLE', 'DONE', 'a1 OK done', 'a2 NO', 'a3 BAD', '* OK IMAP4rev1 ready', '* CAPABILITY IMAP4rev1 AUTH=PLAIN', '* BYE',
  'PUTSCRIPT "x" {10+}', 'PUTSCRIPT "y" {4}', 'HAVESPACE "x" 100', 'SETACTIVE "x"', 'AUTHENTICATE "PLAIN" "AGFsaWNlAHB3"', '"IMPLEMENTATION" "Dovecot"', 'OK', 'NO "fail"', 'require "fileinto";',
  'Subject: hi', 'Content-Type: multipart/mixed; boundary=z', '--z', '--z--', '',
];

const lineArb = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(fc.constantFrom(...TOKENS), fc.constantFrom('\r\n', '\r\n', '\r\n', '\n', '\r', '')).map(([t, e]) => Buffer.from(t + e, 'latin1')) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 80 }) },
);

const stepArb: fc.Arbitrary<DialogueStep> = fc.oneof(
  { weight: 8, arbitrary: fc.tuple(fc.constantFrom<'client' | 'server'>('client', 'server'), fc.array(lineArb, { minLength: 1, maxLength: 6 })).map(([side, lines]) => [side, new Uint8Array(Buffer.concat(lines))] as const) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom<'client' | 'server'>('client', 'server'), fc.constantFrom(1, 7, 1000, 2 ** 31)).map(([side, n]) => ['gap', side, n] as const) },
);

describe('protocol analyzers: random bytes and token soup, both sides, with gaps', () => {
  test('PROTOCOLS is not empty', () => assert.ok(PROTOCOLS.length >= 1));
  for (const spec of PROTOCOLS) {
    test(`${spec.name}: sniff never throws and answers yes/no/maybe`, () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ maxLength: 300 }), (c, s) => {
          assert.ok(['yes', 'no', 'maybe'].includes(spec.sniff(c, s)));
        }),
        opts(300, 0x5a1f),
      );
    });

    for (const sawHandshake of [true, false]) {
      test(`${spec.name} (${sawHandshake ? 'from the handshake' : 'mid-stream'}): never throws; whole = byte by byte = random splits`, () => {
        fc.assert(
          fc.property(fc.array(stepArb, { minLength: 1, maxLength: 25 }), fc.boolean(), (steps, close) => {
            let ref: unknown;
            for (const c of CHUNKINGS) {
              const ctx = new FakeContext({ sawHandshake, limits: { maxLineBytes: 256, maxReplyLines: 8, maxPendingCommands: 4, maxTranscriptEntriesPerSession: 40 } });
              const a = spec.create(ctx);
              runDialogue(a, steps, c.split, { close: false });
              if (close) a.onClose('fin', { frame: 999, ts: { sec: 1_800_000_000, nsec: 0 } });
              else a.onClose('end_of_capture', { frame: 999, ts: { sec: 1_800_000_000, nsec: 0 } });
              for (const m of ctx.messages) assert.deepEqual(m.violations, [], `${spec.name}: message sink contract`);
              for (const m of ctx.messages) assert.ok(m.closed !== null, `${spec.name}: message ${m.id} never closed`);
              const snap = ctx.snapshot(a);
              if (ref === undefined) ref = snap;
              else assert.deepEqual(snap, ref, `${spec.name}: chunking ${c.name} differs from whole`);
            }
          }),
          opts(120, 0xa11 + spec.name.length + (sawHandshake ? 0 : 7)),
        );
      });
    }
  }
});

// ------------------------------------------------------------------------------------------------
// Message builder

const MIME_TOKENS = [
  'From: a@b', 'To: "x" <c@d>, =?utf-8?B?w6k=?= <e@f>', 'Subject: =?iso-8859-1?Q?caf=E9?=', 'Date: Tue, 1 Jan 2030 00:00:00 +0000', 'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="b"', 'Content-Type: multipart/alternative; boundary=c', 'Content-Type: message/rfc822', 'Content-Type: text/plain; charset=koi8-r',
  'Content-Type: application/pdf; name*=utf-8\'\'%E2%82%AC.pdf', 'Content-Transfer-Encoding: base64', 'Content-Transfer-Encoding: quoted-printable', 'Content-Disposition: attachment; filename="a.zip"',
  '--b', '--b--', '--c', '--c--', '', ' folded', 'SGVsbG8gd29ybGQ=', 'SGVsbG8', '=E9t=C3=A9=', '=\r', 'Received: from x ([1.2.3.4]) by y; Tue, 1 Jan 2030 00:00:00 +0000',
];
const mimeChunkArb = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(fc.constantFrom(...MIME_TOKENS), fc.constantFrom('\r\n', '\r\n', '\n', '')).map(([t, e]) => Buffer.from(t + e, 'latin1')) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 100 }).map((b) => Buffer.from(b)) },
);

function buildMessage(chunks: readonly (Buffer | number)[], split: Splitter, complete: boolean): unknown {
  const b = new MessageBuilder({
    emlPath: null,
    attachmentsDir: null,
    limits: { maxMessageBytes: 3000, maxInMemoryMessageBytes: 1024, maxMimeDepth: 6, maxMimeParts: 20, maxHeaderBytes: 512 },
  });
  for (const c of chunks) {
    if (typeof c === 'number') b.gap(c);
    else for (const piece of split(c)) b.write(piece);
  }
  return b.end(complete);
}

describe('MessageBuilder: random bytes and MIME token soup', () => {
  test('never throws; whole = byte by byte = random splits', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof({ weight: 12, arbitrary: mimeChunkArb }, { weight: 1, arbitrary: fc.constantFrom(1, 500) }), { maxLength: 60 }),
        fc.boolean(),
        (chunks, complete) => {
          // Chunking applies to the whole byte stream between gaps: join consecutive writes first.
          const joined: (Buffer | number)[] = [];
          for (const c of chunks) {
            const last = joined[joined.length - 1];
            if (typeof c !== 'number' && last !== undefined && typeof last !== 'number') joined[joined.length - 1] = Buffer.concat([last, c]);
            else joined.push(c);
          }
          const ref = buildMessage(joined, CHUNKINGS[0]!.split, complete) as { size: number; partial: boolean };
          assert.ok(ref.size <= 3000, 'maxMessageBytes honoured');
          for (const c of CHUNKINGS.slice(1)) assert.deepEqual(buildMessage(joined, c.split, complete), ref, `chunking ${c.name}`);
        },
      ),
      opts(150, 0x3e55),
    );
  });
});

// ------------------------------------------------------------------------------------------------
// Regressions: minimal inputs the fuzzers above found (kept as fixed cases so they stay covered).

describe('regressions found by the fuzzers', () => {
  const end = { frame: 999, ts: { sec: 1_800_000_000, nsec: 0 } };

  test('base64 body with "-" (not in the RFC 2045 alphabet): skipped in any chunking', () => {
    // RFC 2045 §6.8: characters outside the base64 alphabet are ignored. "-" and "_" are base64url
    // digits, which Node's native decoder accepts; they must not be decoded as 62/63.
    const msg = Buffer.from('Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nQUJD-RUZH\r\n');
    for (const c of CHUNKINGS) {
      const r = buildMessage([msg], c.split, true) as { parts: { sha256?: string; decoded_size?: number }[] };
      assert.equal(r.parts[0]!.sha256, sha(Buffer.from('ABCEFG')), `chunking ${c.name}`);
    }
  });

  test('SMTP: a BDAT message whose command overflowed the pipeline queue is still closed', () => {
    const ctx = new FakeContext({ limits: { maxPendingCommands: 4 } });
    const a = PROTOCOLS.find((p) => p.name === 'smtp')!.create(ctx);
    runDialogue(a, [['client', 'EHLO a\r\nEHLO b\r\nEHLO c\r\nEHLO d\r\nBDAT 0 LAST\r\nMAIL FROM:<>\r\n']], undefined, { close: false });
    a.onClose('end_of_capture', end);
    assert.ok(ctx.anomalyCodes().includes('smtp_pipeline_overflow'));
    assert.equal(ctx.messages.length, 1);
    assert.ok(ctx.messages[0]!.closed !== null, 'the message record would never be written');
  });

  test('POP3: commands pipelined after STLS are reported at the same frame in any chunking', { skip: PROTOCOLS.some((p) => p.name === 'pop3') ? false : 'POP3 not registered' }, () => {
    const spec = PROTOCOLS.find((p) => p.name === 'pop3')!;
    let ref: unknown;
    for (const c of CHUNKINGS) {
      const ctx = new FakeContext();
      const a = spec.create(ctx);
      runDialogue(a, [['server', '+OK ready\r\n'], ['client', 'STLS\r\nUSER bob\r\n'], ['client', 'PASS x\r\n']], c.split, { close: false });
      a.onClose('end_of_capture', end);
      const snap = ctx.snapshot(a);
      if (ref === undefined) ref = snap;
      else assert.deepEqual(snap, ref, `chunking ${c.name}`);
    }
  });
});
