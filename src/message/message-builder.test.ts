import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import PostalMime from 'postal-mime';
import { DEFAULT_LIMITS } from '../core/limits.js';
import type { AddressRecord, MimePartRecord } from '../core/records.js';
import { fixture, sharedDir, SHARED_SKIP_REASON } from '../../test/helpers/paths.js';
import { MessageBuilder } from './message-builder.js';
import { IdentityDecoder, QuotedPrintableDecoder } from './transfer-decoders.js';
import type { MessageBuilderOptions, MessageBuildResult } from './message-builder-types.js';

const LIMITS: MessageBuilderOptions['limits'] = {
  maxMessageBytes: DEFAULT_LIMITS.maxMessageBytes,
  maxInMemoryMessageBytes: DEFAULT_LIMITS.maxInMemoryMessageBytes,
  maxMimeDepth: DEFAULT_LIMITS.maxMimeDepth,
  maxMimeParts: DEFAULT_LIMITS.maxMimeParts,
  maxHeaderBytes: DEFAULT_LIMITS.maxHeaderBytes,
};

function sha256(b: Uint8Array | ArrayBuffer): string {
  return createHash('sha256').update(b instanceof Uint8Array ? b : new Uint8Array(b)).digest('hex');
}

/** Deterministic PRNG (mulberry32). */
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

type Chunking = 'whole' | 'bytes' | { seed: number };

function chunksOf(buf: Uint8Array, how: Chunking): Uint8Array[] {
  if (how === 'whole') return [buf];
  if (how === 'bytes') return Array.from({ length: buf.length }, (_, i) => buf.subarray(i, i + 1));
  const r = rng(how.seed);
  const out: Uint8Array[] = [];
  for (let i = 0; i < buf.length; ) {
    const n = 1 + Math.floor(r() * 300);
    out.push(buf.subarray(i, i + n));
    i += n;
  }
  return out;
}

function build(buf: Uint8Array, how: Chunking = 'whole', opts?: Partial<MessageBuilderOptions>): MessageBuildResult {
  const b = new MessageBuilder({ emlPath: null, attachmentsDir: null, limits: LIMITS, ...opts });
  for (const c of chunksOf(buf, how)) {
    // Hand over a scratch copy that is clobbered afterwards: the builder must not keep borrowed bytes.
    const scratch = new Uint8Array(c);
    b.write(scratch);
    scratch.fill(0x41);
  }
  return b.end(true);
}

/** Decodes one line-oriented part of raw again, from its recorded byte range, as a delimiter-ended body. */
function decodedBytes(raw: Buffer, part: MimePartRecord): Buffer {
  const chunks: Buffer[] = [];
  const sink = { push: (b: Uint8Array): void => void chunks.push(Buffer.from(b)) };
  const d = part.transfer_encoding === 'quoted-printable' ? new QuotedPrintableDecoder(sink) : new IdentityDecoder(sink);
  d.write(raw, part.body_start, part.body_end);
  d.finish(false);
  return Buffer.concat(chunks);
}

interface PmAddress {
  name: string;
  address?: string;
  group?: PmAddress[];
}

function flatten(list: PmAddress | PmAddress[] | undefined): AddressRecord[] {
  const out: AddressRecord[] = [];
  const walk = (a: PmAddress): void => {
    if (a.group) a.group.forEach(walk);
    else out.push({ name: a.name, address: a.address ?? '' });
  };
  if (list) (Array.isArray(list) ? list : [list]).forEach(walk);
  return out;
}

function messageFiles(): string[] {
  const files: string[] = [];
  if (sharedDir) {
    const walk = (dir: string): void => {
      for (const name of readdirSync(dir)) {
        const p = join(dir, name);
        if (statSync(p).isDirectory()) walk(p);
        else if (name.endsWith('.eml') || name.endsWith('extract_files.mail')) files.push(p);
      }
    };
    walk(join(sharedDir, 'corpus'));
  }
  return files;
}

function fixtureFiles(): string[] {
  const dir = fixture('eml');
  return readdirSync(dir)
    .filter((n) => n.endsWith('.eml'))
    .map((n) => join(dir, n));
}

const LF = 0x0a;
const CR = 0x0d;

/**
 * postal-mime's form of a line-oriented part (7bit / 8bit / quoted-printable), for the oracle
 * comparison only. We keep the exact bytes (CRLF stays CRLF; the line break before a delimiter
 * belongs to the delimiter, RFC 2046 section 5.1.1), which Zeek's extracted files confirm
 * (zeek-extracted.test.ts). postal-mime instead reads such parts line by line and ends every
 * line with a bare LF: trailing CRs of a line are dropped, the line the delimiter's CRLF ends
 * gets its LF, an unterminated last line gets one too, a quoted-printable line ending in a soft
 * break "=" gets none. Line breaks are rewritten on the encoded side (so a "=0D" escape stays a
 * CR), then decoded with our decoder, then the last line's LF is added as postal-mime does.
 * base64 and binary parts are compared byte-exact (postal-mime keeps their bytes).
 */
function postalMimeLineForm(raw: Buffer, part: MimePartRecord): Buffer {
  // body_end stops before the delimiter's line break when the part ended at a delimiter.
  const atDelimiter = part.body_end < raw.length && (raw[part.body_end] === LF || raw[part.body_end] === CR);
  const enc = raw.toString('latin1', part.body_start, part.body_end).replace(/\r*\n/g, '\n').replace(/\r+$/, '');
  const qp = part.transfer_encoding === 'quoted-printable';
  const softEnd = qp && enc.endsWith('=');
  const lastLineOpen = atDelimiter || (enc.length > 0 && !enc.endsWith('\n'));
  const decoded = decodedBytes(Buffer.from(enc, 'latin1'), { ...part, body_start: 0, body_end: enc.length });
  return lastLineOpen && !softEnd ? Buffer.concat([decoded, Buffer.from('\n')]) : decoded;
}

const LINE_ENCODINGS = new Set(['7bit', '8bit', 'quoted-printable']);

async function assertAgreesWithPostalMime(file: string): Promise<MessageBuildResult> {
  const buf = readFileSync(file);
  const ours = build(buf);
  const pm = await PostalMime.parse(buf);
  const h = ours.headers;
  assert.equal(h.subject ?? undefined, pm.subject, 'subject');
  assert.equal(h.message_id ?? undefined, pm.messageId, 'message-id');
  assert.deepEqual(h.from.slice(0, 1), flatten(pm.from as PmAddress | undefined).slice(0, 1), 'from');
  assert.deepEqual(h.to, flatten(pm.to as PmAddress[] | undefined), 'to');
  assert.deepEqual(h.cc, flatten(pm.cc as PmAddress[] | undefined), 'cc');
  assert.deepEqual(h.reply_to, flatten(pm.replyTo as PmAddress[] | undefined), 'reply-to');
  assert.equal(ours.attachments.length, pm.attachments.length, 'attachment count');
  pm.attachments.forEach((a, i) => {
    const o = ours.attachments[i]!;
    assert.equal(o.filename, a.filename, `filename of attachment ${i}`);
    assert.equal(o.media_type, a.mimeType, `mime type of attachment ${i}`);
    // postal-mime rewrites calendar parts as normalised text; other contents are compared exactly.
    if (a.mimeType !== 'text/calendar' && a.mimeType !== 'application/ics') {
      const part = ours.parts.find((p) => p.path === o.part)!;
      const pmBytes = Buffer.from(a.content as ArrayBuffer);
      if (LINE_ENCODINGS.has(part.transfer_encoding)) {
        // Line-oriented: compare in postal-mime's LF form (see postalMimeLineForm).
        // Our streamed bytes are those of the recorded range decoded in one go (no line-ending change).
        assert.equal(o.sha256, sha256(decodedBytes(buf, part)), `decoded bytes of attachment ${i}`);
        assert.deepEqual(postalMimeLineForm(buf, part), pmBytes, `content of attachment ${i} (${a.filename}), LF form`);
      } else {
        assert.equal(o.sha256, sha256(pmBytes), `sha256 of attachment ${i} (${a.filename})`);
        assert.equal(o.size, pmBytes.byteLength, `size of attachment ${i}`);
      }
    }
  });
  assert.equal(ours.size, buf.length);
  assert.equal(ours.sha256, sha256(buf));
  return ours;
}

describe('MessageBuilder agrees with postal-mime', () => {
  it('on every corpus message', { skip: sharedDir ? false : SHARED_SKIP_REASON }, async () => {
    const files = messageFiles();
    assert.ok(files.length >= 10, `corpus messages found: ${files.length}`);
    for (const f of files) {
      await assertAgreesWithPostalMime(f).catch((err: unknown) => {
        throw new Error(`${f}: ${String(err)}`, { cause: err });
      });
    }
  });

  it('on every edge-case fixture', async () => {
    const files = fixtureFiles();
    assert.ok(files.length >= 10);
    for (const f of files) {
      await assertAgreesWithPostalMime(f).catch((err: unknown) => {
        throw new Error(`${f}: ${String(err)}`, { cause: err });
      });
    }
  });
});

describe('MessageBuilder streaming', () => {
  it('gives identical results whole, byte by byte and split at seeded random points', () => {
    const files = [...fixtureFiles(), ...messageFiles()];
    for (const f of files) {
      const buf = readFileSync(f);
      const whole = build(buf, 'whole');
      assert.deepEqual(build(buf, 'bytes'), whole, `${f} byte by byte`);
      for (const seed of [1, 2, 3]) assert.deepEqual(build(buf, { seed }), whole, `${f} seed ${seed}`);
    }
  });

  it('writes the verbatim .eml and the decoded attachments named by hash', () => {
    const dir = mkdtempSync(join(tmpdir(), 'msg-test-'));
    try {
      const att = join(dir, 'attachments');
      rmSync(att, { force: true, recursive: true });
      mkdirSync(att);
      for (const f of fixtureFiles()) {
        const buf = readFileSync(f);
        const eml = join(dir, 'm.eml');
        // Small in-memory limit: the .eml is spooled to disk in blocks.
        const r = build(buf, { seed: 7 }, { emlPath: eml, attachmentsDir: att, limits: { ...LIMITS, maxInMemoryMessageBytes: 300 } });
        assert.deepEqual(readFileSync(eml), buf, `${f}: .eml bytes`);
        assert.equal(existsSync(`${eml}.tmp`), false);
        for (const a of r.attachments) {
          assert.equal(a.path, `attachments/${a.sha256}`);
          assert.equal(sha256(readFileSync(join(dir, a.path))), a.sha256);
        }
      }
      const names = readdirSync(att);
      assert.ok(names.length > 5);
      for (const n of names) assert.match(n, /^[0-9a-f]{64}$/, 'no temp file or message-provided name left');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('finds the lab attachments of smtp-plain-auth-login.eml', { skip: sharedDir ? false : SHARED_SKIP_REASON }, () => {
    const lab = join(sharedDir!, 'corpus', 'lab');
    const r = build(readFileSync(join(lab, 'smtp-plain-auth-login.eml')), { seed: 11 });
    const expected = ['INV-2024-4471.pdf', 'payroll_2024_Q3.zip'].map((n) => ({
      filename: n,
      sha256: sha256(readFileSync(join(lab, 'attachments', n))),
    }));
    assert.deepEqual(
      r.attachments.map((a) => ({ filename: a.filename, sha256: a.sha256 })),
      expected,
    );
  });
});


describe('MessageBuilder gaps and limits', () => {
  const nested = (): Buffer => readFileSync(fixture('eml', 'nested-multipart.eml'));

  it('a gap inside an attachment: partial, exact missing_bytes, later boundaries still found', () => {
    const buf = nested();
    const full = build(buf);
    const png = full.parts.find((p) => p.content_type === 'image/png')!;
    const cutAt = png.body_start + 100;
    const cutLen = 250;
    const b = new MessageBuilder({ emlPath: null, attachmentsDir: null, limits: LIMITS });
    b.write(buf.subarray(0, cutAt));
    b.gap(cutLen);
    b.write(buf.subarray(cutAt + cutLen));
    const r = b.end(true);
    assert.equal(r.partial, true);
    assert.equal(r.missing_bytes, cutLen);
    assert.equal(r.size, buf.length - cutLen);
    assert.ok(r.anomalies.includes('message_partial'));
    assert.deepEqual(r.parts.map((p) => p.path), full.parts.map((p) => p.path));
    const a = r.attachments.find((x) => x.media_type === 'image/png')!;
    assert.equal(a.partial, true);
    const other = r.attachments.find((x) => x.filename === 'data.bin')!;
    assert.equal(other.partial, false);
    assert.equal(other.sha256, full.attachments.find((x) => x.filename === 'data.bin')!.sha256);
  });

  it('a gap that swallows a closing boundary: the delimiter right after it is still found', () => {
    const buf = nested();
    const full = build(buf);
    const data = full.parts.find((p) => p.path === '2')!;
    // Cut from inside the png body to the start of the "--outer" line before part 2
    // (the "--rel--" line is lost).
    const png = full.parts.find((p) => p.path === '1.2')!;
    const from = png.body_end - 10;
    const to = data.header_start - '--outer\r\n'.length;
    assert.equal(buf.subarray(to, data.header_start).toString('latin1'), '--outer\r\n');
    const b = new MessageBuilder({ emlPath: null, attachmentsDir: null, limits: LIMITS });
    b.write(buf.subarray(0, from));
    b.gap(to - from);
    b.write(buf.subarray(to));
    const r = b.end(true);
    assert.equal(r.missing_bytes, to - from);
    assert.equal(r.partial, true);
    assert.deepEqual(r.parts.map((p) => p.path), full.parts.map((p) => p.path));
    assert.equal(r.attachments.find((a) => a.part === '1.2')!.partial, true);
    const after = r.attachments.find((a) => a.part === '2')!;
    assert.equal(after.partial, false);
    assert.equal(after.sha256, full.attachments.find((a) => a.part === '2')!.sha256);
  });

  it('end(false) marks open parts partial', () => {
    const buf = nested();
    const full = build(buf);
    const cut = full.parts.find((p) => p.path === '2')!.body_start + 20;
    const b = new MessageBuilder({ emlPath: null, attachmentsDir: null, limits: LIMITS });
    b.write(buf.subarray(0, cut));
    const r = b.end(false);
    assert.equal(r.partial, true);
    assert.equal(r.size, cut);
    assert.equal(r.attachments.find((a) => a.part === '2')!.partial, true);
    assert.equal(r.attachments.find((a) => a.part === '1.2')!.partial, false);
  });

  it('past maxMessageBytes: stores and hashes only the allowed prefix', () => {
    const buf = nested();
    const max = 1000;
    const r = build(buf, { seed: 5 }, { limits: { ...LIMITS, maxMessageBytes: max } });
    assert.equal(r.size, max);
    assert.equal(r.sha256, sha256(buf.subarray(0, max)));
    assert.equal(r.missing_bytes, buf.length - max);
    assert.equal(r.partial, true);
    assert.ok(r.anomalies.includes('message_too_large'));
  });
});

describe('MessageBuilder excerpts (a part the client asked for)', () => {
  const end = (text: string, complete: boolean, excerpt?: 'head' | 'content', gap = 0): MessageBuildResult => {
    const b = new MessageBuilder({ emlPath: null, attachmentsDir: null, limits: LIMITS });
    const buf = Buffer.from(text, 'latin1');
    b.write(buf.subarray(0, 10));
    if (gap > 0) b.gap(gap);
    b.write(buf.subarray(10));
    return b.end(complete, excerpt);
  };
  const head = 'From: a@example.org\r\nSubject: only the head\r\n\r\n';
  const text = 'Hello Bob,\r\nthe wire is ready.\r\n';

  it('a header excerpt that came in full is partial, raises no anomaly, keeps its headers', () => {
    const r = end(head, true, 'head');
    assert.equal(r.partial, true);
    assert.equal(r.missing_bytes, 0);
    assert.deepEqual(r.anomalies, []);
    assert.equal(r.headers.subject, 'only the head');
  });

  it('a content excerpt (no header block) drops the MIME findings about its missing header', () => {
    const asMessage = end(text, true);
    assert.ok(asMessage.anomalies.some((c) => c.startsWith('mime_')), 'parsed as a message, the text has header anomalies');
    const r = end(text, true, 'content');
    assert.equal(r.partial, true);
    assert.deepEqual(r.anomalies, []);
    assert.equal(r.size, text.length);
  });

  it('an excerpt cut short or with a hole still raises message_partial', () => {
    assert.deepEqual(end(head, false, 'head').anomalies, ['message_partial']);
    const holed = end(head, true, 'head', 7);
    assert.equal(holed.missing_bytes, 7);
    assert.ok(holed.anomalies.includes('message_partial'));
    assert.ok(end(text, false, 'content').anomalies.includes('message_partial'));
  });

  it('a whole message is not partial; an unfinished one is, with the anomaly', () => {
    assert.equal(end(head, true).partial, false);
    assert.deepEqual(end(head, true).anomalies, []);
    assert.deepEqual(end(head, false).anomalies, ['message_partial']);
  });
});

describe('MessageBuilder on hostile input', () => {
  const small = { ...LIMITS, maxMimeDepth: 20, maxMimeParts: 100, maxHeaderBytes: 64 * 1024 };

  it('10,000-deep multipart', () => {
    let s = 'Subject: deep\r\n';
    for (let i = 0; i < 10_000; i++) s += `Content-Type: multipart/mixed; boundary="b${i}"\r\n\r\n--b${i}\r\n`;
    s += 'Content-Type: text/plain\r\n\r\nbottom\r\n';
    const r = build(Buffer.from(s), { seed: 3 }, { limits: small });
    assert.ok(r.anomalies.includes('mime_too_deep'));
    assert.ok(r.parts.length <= small.maxMimeDepth + 2);
    assert.equal(r.size, s.length);
  });

  it('many parts are capped', () => {
    let s = 'Content-Type: multipart/mixed; boundary=x\r\n\r\n';
    for (let i = 0; i < 1000; i++) s += '--x\r\nContent-Type: application/octet-stream\r\n\r\nAAAA\r\n';
    s += '--x--\r\n';
    const r = build(Buffer.from(s), 'whole', { limits: small });
    assert.ok(r.anomalies.includes('mime_too_many_parts'));
    assert.equal(r.parts.length, small.maxMimeParts);
  });

  it('1 MB header line is cut at maxHeaderBytes', () => {
    const s = `Subject: ${'A'.repeat(1024 * 1024)}\r\nFrom: a@b.example\r\n\r\nbody\r\n`;
    const r = build(Buffer.from(s), { seed: 9 }, { limits: small });
    assert.ok(r.anomalies.includes('mime_header_too_large'));
    assert.ok((r.headers.subject ?? '').length <= small.maxHeaderBytes);
    assert.equal(r.size, s.length);
  });

  it('boundary of 70+ characters, found across chunk splits', () => {
    const bd = 'Z'.repeat(120);
    const s = `Content-Type: multipart/mixed; boundary="${bd}"\r\n\r\n--${bd}\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nQUJD\r\n--${bd}--\r\n`;
    for (const how of ['whole', 'bytes', { seed: 4 }] as Chunking[]) {
      const r = build(Buffer.from(s), how);
      assert.equal(r.attachments.length, 1);
      assert.equal(r.attachments[0]!.size, 3);
      assert.equal(r.anomalies.length, 0);
    }
  });

  it('binary garbage never throws', () => {
    const r = rng(42);
    for (let n = 0; n < 20; n++) {
      const buf = new Uint8Array(5000);
      for (let i = 0; i < buf.length; i++) {
        const x = r();
        buf[i] = x < 0.1 ? 0x0a : x < 0.15 ? 0x2d : x < 0.2 ? 0x0d : Math.floor(r() * 256);
      }
      const head = Buffer.from('Content-Type: multipart/mixed; boundary="-"\r\n\r\n');
      const res = build(Buffer.concat([head, buf]), { seed: n }, { limits: small });
      assert.equal(res.size, head.length + buf.length);
      assert.ok(res.parts.length <= small.maxMimeParts);
    }
  });
});
