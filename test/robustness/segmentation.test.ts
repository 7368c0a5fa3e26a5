/**
 * Segmentation equivalence through the whole pipeline: one synthetic SMTP session (AUTH PLAIN,
 * a dot-stuffed multipart message with a base64 attachment, a second message, QUIT) written as a
 * capture with every side's bytes in one segment, one byte per segment, random segment sizes,
 * shuffled segments (out-of-order delivery) and duplicated/overlapping retransmissions. The
 * transcript (wire facts, frame numbers ignored), the messages' sha256 and the credentials must be
 * identical across variants, and equal to what was sent.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CHUNKINGS, mulberry32 } from '../helpers/chunkings.js';
import { SHARED_SKIP_REASON, fixture, sharedDir } from '../helpers/paths.js';
import { ACK, PSH, TcpConversation, duplicate, framesOf, subSegment, writePcap, bytes as toBytes } from '../helpers/pcap-writer.js';
import type { SynthPacket } from '../helpers/pcap-writer.js';
import { analyzeBytes, wireTranscript } from '../helpers/mutate.js';

const sha = (b: Uint8Array | string): string => createHash('sha256').update(b).digest('hex');

function attachment(): string {
  const raw = new Uint8Array(3000);
  const rnd = mulberry32(77);
  for (let i = 0; i < raw.length; i++) raw[i] = Math.floor(rnd() * 256);
  return Buffer.from(raw).toString('base64').replace(/.{76}/g, '$&\r\n');
}

/** The message as submitted (before dot-stuffing). Lines starting with "." test the unstuffer. */
const MESSAGE_1 = [
  'From: Alice <alice@example.com>',
  'To: Bob <bob@example.net>',
  'Subject: =?UTF-8?B?UXVhcnRlcmx5IHJlcG9ydA==?=',
  'Message-ID: <seg-1@example.com>',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="b1"',
  '',
  '--b1',
  'Content-Type: text/plain; charset=utf-8',
  '',
  'Hello Bob,',
  '.a line starting with a dot',
  '..two dots',
  '.',
  'x',
  '--b1',
  'Content-Type: application/octet-stream; name="r.bin"',
  'Content-Transfer-Encoding: base64',
  'Content-Disposition: attachment; filename="r.bin"',
  '',
  attachment(),
  '--b1--',
  '',
].join('\r\n');

const MESSAGE_2 = 'From: alice@example.com\r\nTo: carol@example.org\r\nSubject: second\r\n\r\nshort body\r\n';

function dotStuff(m: string): string {
  return m.replace(/^\./gm, '..');
}

/** One side's bytes: [side, text]. */
type Step = readonly ['client' | 'server', string];

const PLAIN = Buffer.from('\0alice\0Summer2024!').toString('base64');
const STEPS: readonly Step[] = [
  ['server', '220 mx.example.net ESMTP\r\n'],
  ['client', 'EHLO ws-0042.corp.example\r\n'],
  ['server', '250-mx.example.net\r\n250-PIPELINING\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n'],
  ['client', `AUTH PLAIN ${PLAIN}\r\n`],
  ['server', '235 2.7.0 Authentication successful\r\n'],
  ['client', 'MAIL FROM:<alice@example.com>\r\n'],
  ['server', '250 2.1.0 Ok\r\n'],
  ['client', 'RCPT TO:<bob@example.net>\r\n'],
  ['server', '250 2.1.5 Ok\r\n'],
  ['client', 'DATA\r\n'],
  ['server', '354 End data with <CR><LF>.<CR><LF>\r\n'],
  ['client', `${dotStuff(MESSAGE_1)}.\r\n`],
  ['server', '250 2.0.0 Ok: queued as 4Xq1\r\n'],
  // Pipelined second transaction (RFC 2920): three commands in one write.
  ['client', 'MAIL FROM:<alice@example.com>\r\nRCPT TO:<carol@example.org>\r\nDATA\r\n'],
  ['server', '250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go ahead\r\n'],
  ['client', `${dotStuff(MESSAGE_2)}.\r\n`],
  ['server', '250 2.0.0 Ok: queued as 4Xq2\r\n'],
  ['client', 'QUIT\r\n'],
  ['server', '221 2.0.0 Bye\r\n'],
];

/** How one step's bytes are cut into segment sizes. */
type Sizer = (len: number, rnd: () => number) => number[];
const whole: Sizer = (len) => [len];
const perByte: Sizer = (len) => new Array<number>(len).fill(1);
const randomSizes =
  (max: number): Sizer =>
  (len, rnd) => {
    const out: number[] = [];
    for (let left = len; left > 0; ) {
      const n = Math.min(left, 1 + Math.floor(rnd() * max));
      out.push(n);
      left -= n;
    }
    return out;
  };

interface Variant {
  name: string;
  sizer: Sizer;
  /** Rearranges the data segments of one step (same timestamps per position). */
  shuffle?: boolean;
  /** Adds duplicated and overlapping retransmissions. */
  retransmit?: boolean;
}

const VARIANTS: readonly Variant[] = [
  { name: 'one segment per write', sizer: whole },
  { name: 'one byte per segment', sizer: perByte },
  { name: 'random sizes 1..40', sizer: randomSizes(40) },
  { name: 'random sizes 1..1460', sizer: randomSizes(1460) },
  { name: 'random sizes, shuffled (out of order)', sizer: randomSizes(200), shuffle: true },
  { name: 'byte per segment, shuffled', sizer: perByte, shuffle: true },
  { name: 'random sizes, duplicated and overlapping', sizer: randomSizes(300), retransmit: true },
  { name: 'shuffled and duplicated', sizer: randomSizes(100), shuffle: true, retransmit: true },
];

function buildCapture(v: Variant, seed: number): Uint8Array {
  const rnd = mulberry32(seed);
  const conv = new TcpConversation({ ip: '10.0.0.5', port: 51515 }, { ip: '10.0.0.25', port: 25 }, { isn: { client: 0xfffff000, server: 77 } });
  conv.handshake();
  const packets: SynthPacket[] = conv.packets();
  for (const [side, text] of STEPS) {
    const body = toBytes(text);
    const start = packets.length;
    const before = conv.packets().length;
    let o = 0;
    for (const n of v.sizer(body.length, rnd)) {
      conv.send(side, ACK | (o + n >= body.length ? PSH : 0), body.subarray(o, o + n));
      o += n;
    }
    conv.send(side === 'client' ? 'server' : 'client', ACK);
    const fresh = conv.packets().slice(before);
    const data = fresh.slice(0, -1);
    const ack = fresh[fresh.length - 1]!;
    if (v.shuffle) {
      const ts = data.map((p) => p.ts);
      for (let i = data.length - 1; i > 0; i--) {
        const j = Math.floor(rnd() * (i + 1));
        [data[i], data[j]] = [data[j]!, data[i]!];
      }
      data.forEach((p, i) => (p.ts = ts[i]!));
    }
    packets.push(...data);
    if (v.retransmit) {
      // Exact duplicates of a few segments, and overlapping re-sends of part of a segment.
      for (let k = 0; k < Math.max(1, data.length >> 3); k++) {
        const i = start + Math.floor(rnd() * data.length);
        duplicate(packets, i);
      }
      const p = data[Math.floor(rnd() * data.length)]!;
      const len = toBytes(p.payload).length;
      if (len > 2) packets.push(subSegment(p, 1, len - 1));
    }
    packets.push(ack);
  }
  conv.fin('client');
  packets.push(...conv.packets().slice(-3));
  return writePcap(framesOf(packets));
}

async function observe(v: Variant, seed: number): Promise<unknown> {
  const s = await analyzeBytes(buildCapture(v, seed));
  assert.deepEqual(Object.keys(s.anomalies_by_code).filter((c) => !c.startsWith('tcp_')), [], `${v.name}: anomalies`);
  return {
    transcript: wireTranscript(s.records.transcript),
    messages: s.records.messages.map((m) => ({ sha256: m.sha256, size: m.size, partial: m.partial, envelope: m.envelope, subject: m.headers.subject, attachments: m.attachments.map((a) => a.sha256) })),
    credentials: s.records.credentials.map((c) => ({ mechanism: c.mechanism, username: c.username, secret: c.secret, outcome: c.outcome })),
    sessions: s.records.sessions.map((x) => ({ protocol: x.protocol, commands: x.commands, replies: x.replies, gaps: x.gaps, close: x.close_reason })),
  };
}

describe('segmentation equivalence (whole pipeline)', () => {
  let reference: unknown;

  test('reference run: one segment per write matches what was sent', async () => {
    reference = await observe(VARIANTS[0]!, 1);
    const r = reference as { messages: { sha256: string; partial: boolean; subject: string | null; attachments: string[] }[]; credentials: unknown[]; transcript: { kind: string; command?: string; code?: number }[]; sessions: { gaps: number }[] };
    assert.deepEqual(
      r.messages.map((m) => [m.sha256, m.partial]),
      [
        [sha(MESSAGE_1), false],
        [sha(MESSAGE_2), false],
      ],
    );
    assert.equal(r.messages[0]!.subject, 'Quarterly report');
    const attached = Buffer.from(attachment().replace(/\r\n/g, ''), 'base64');
    assert.deepEqual(r.messages[0]!.attachments, [sha(attached)]);
    assert.deepEqual(r.credentials, [{ mechanism: 'PLAIN', username: 'alice', secret: 'Summer2024!', outcome: 'success' }]);
    const cmds = r.transcript.filter((e) => e.kind === 'command').map((e) => e.command);
    assert.deepEqual(cmds, ['EHLO', 'AUTH', 'MAIL', 'RCPT', 'DATA', 'MAIL', 'RCPT', 'DATA', 'QUIT']);
    const codes = r.transcript.filter((e) => e.kind === 'reply').map((e) => e.code);
    assert.deepEqual(codes, [220, 250, 235, 250, 250, 354, 250, 250, 250, 354, 250, 221]);
    assert.equal(r.sessions[0]!.gaps, 0);
  });

  for (const [i, v] of VARIANTS.slice(1).entries()) {
    // Byte-per-segment without shuffling has no randomness: one run is enough.
    for (const seed of v.sizer === perByte && !v.shuffle ? [11] : [11 + i, 101 + i]) {
      test(`${v.name} (seed ${seed}) gives the reference results`, async () => {
        assert.ok(reference, 'reference run first');
        assert.deepEqual(await observe(v, seed), reference);
      });
    }
  }
});

describe('capture bytes in any read chunking (whole pipeline)', () => {
  const inputs: [string, () => Uint8Array, string | false][] = [
    ['demo-smtp.pcap', () => readFileSync(fixture('pcaps', 'demo-smtp.pcap')), false],
    ['lab imap-session.pcapng', () => readFileSync(join(sharedDir ?? '', 'corpus', 'lab', 'imap-session.pcapng')), sharedDir === null ? SHARED_SKIP_REASON : false],
    ['lab smtp-auth-plain-pipelining.pcap', () => readFileSync(join(sharedDir ?? '', 'corpus', 'lab', 'smtp-auth-plain-pipelining.pcap')), sharedDir === null ? SHARED_SKIP_REASON : false],
  ];
  for (const [name, load, skip] of inputs) {
    test(`${name}: whole = byte by byte = random chunk sizes`, { skip }, async () => {
      const bytes = load();
      let ref: unknown;
      for (const c of CHUNKINGS) {
        const s = await analyzeBytes(bytes, undefined, c.split);
        const { run: _run, ...summary } = s; // run times differ
        const view = { summary: JSON.stringify({ ...summary, records: undefined }), records: s.records };
        if (ref === undefined) {
          ref = view;
          assert.ok(s.records.transcript.length > 0, 'the capture has a transcript');
        } else assert.deepEqual(view, ref, `chunking ${c.name}`);
      }
    });
  }
});
