import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { addressParser } from 'postal-mime';
import { parseAddressList } from './address-list.js';
import iconv from 'iconv-lite';
import { buildMessageHeaders, decodeHeaderBytes, decodeWindows1252, parseHeaderFields, parseReceived, parseRfc5322Date } from './headers.js';
import { Base64Decoder, IdentityDecoder, QuotedPrintableDecoder, type BodyDecoder, type ByteSink } from './transfer-decoders.js';

interface PmAddress {
  name: string;
  address?: string;
  group?: PmAddress[];
}
const flat = (list: PmAddress[]): { name: string; address: string }[] =>
  list.flatMap((a) => (a.group ? flat(a.group) : [{ name: a.name, address: a.address ?? '' }]));

describe('address lists', () => {
  const cases = [
    '"Martin, Alice" <alice@example.com>, bob@example.com',
    'Team: a@example.com, "B" <b@example.com>;, c@example.com',
    'undisclosed-recipients:;',
    'a@example.com (Alice Comment)',
    '=?utf-8?B?SsO8cmdlbg==?= <j@example.de>',
    'Bob Smith bob@example.com',
    '<only@angle.example>',
    'broken <a@b.example',
    '"quoted \\"inner\\" name" <q@example.com>',
    'no-address-here',
  ];
  for (const c of cases) {
    it(`agrees with postal-mime: ${c}`, () => {
      assert.deepEqual(parseAddressList(c), flat(addressParser(c) as PmAddress[]));
    });
  }
});

describe('header fields', () => {
  it('unfolds, keeps names as written, skips lines without colon', () => {
    const { fields, badLines } = parseHeaderFields('Subject: a\r\n b\r\n\tc\r\nX-Odd:v\r\nnot a header\r\n');
    assert.deepEqual(fields, [
      { name: 'Subject', value: 'a b\tc' },
      { name: 'X-Odd', value: 'v' },
    ]);
    assert.equal(badLines, 1);
  });

  it('parses dates leniently to UTC', () => {
    assert.equal(parseRfc5322Date('Mon, 14 Oct 2024 09:12:33 +0200'), '2024-10-14T07:12:33.000Z');
    assert.equal(parseRfc5322Date('14 Oct 24 09:12 EST'), '2024-10-14T14:12:00.000Z');
    assert.equal(parseRfc5322Date('Sat, 28 Nov 2026 04:47:20 +0000 (UTC)'), '2026-11-28T04:47:20.000Z');
    assert.equal(parseRfc5322Date('garbage'), null);
  });

  it('parses Received hops', () => {
    const h = parseReceived(
      'from bulk.spam.example (unknown [127.66.0.5])\tby mail.example-corp.com (Postfix) with ESMTP id D99FB16822D\tfor <no.such.user@branch.example-corp.com>; Sat, 28 Nov 2026 04:47:20 +0000 (UTC)',
    );
    assert.equal(h.from, 'bulk.spam.example');
    assert.equal(h.ip, '127.66.0.5');
    assert.equal(h.by, 'mail.example-corp.com');
    assert.equal(h.with, 'ESMTP');
    assert.equal(h.id, 'D99FB16822D');
    assert.equal(h.for, 'no.such.user@branch.example-corp.com');
    assert.equal(h.date, 'Sat, 28 Nov 2026 04:47:20 +0000 (UTC)');
    assert.equal(parseReceived('from x ([IPv6:2001:db8::1]) by y; Mon, 1 Jan 2024 00:00:00 +0000').ip, '2001:db8::1');
  });

  it('fills MessageHeaders', () => {
    const { fields } = parseHeaderFields(
      'Return-Path: <>\r\nReceived: from a by b; Mon, 1 Jan 2024 00:00:00 +0000\r\nReceived: from c by d\r\n' +
        'X-Originating-IP: [10.1.2.3]\r\nReferences: <a@x> <b@x>\r\nIn-Reply-To: <b@x>\r\nSubject: =?utf-8?Q?caf=C3=A9?=\r\n' +
        'Authentication-Results: mx; spf=fail\r\n',
    );
    const h = buildMessageHeaders(fields);
    assert.equal(h.return_path, '');
    assert.equal(h.received.length, 2);
    assert.equal(h.received[1]!.by, 'd');
    assert.equal(h.x_originating_ip, '10.1.2.3');
    assert.deepEqual(h.references, ['<a@x>', '<b@x>']);
    assert.equal(h.in_reply_to, '<b@x>');
    assert.equal(h.subject, 'café');
    assert.deepEqual(h.authentication_results, ['mx; spf=fail']);
    assert.equal(h.all.find((f) => f.name === 'Subject')!.value, 'café');
  });
});

/** Decodes `input` split at `splits` (a Buffer takes the decoders' fast paths, a plain Uint8Array not). */
function decodeAll(
  make: (s: ByteSink) => BodyDecoder,
  input: Uint8Array,
  splits: number[],
  atDelimiter = true,
): { out: Buffer; invalid: number } {
  const parts: Buffer[] = [];
  const d = make({ push: (b) => parts.push(Buffer.from(b)) });
  let p = 0;
  for (const s of [...splits, input.length]) {
    d.write(input, p, s);
    p = s;
  }
  d.finish(atDelimiter);
  return { out: Buffer.concat(parts), invalid: d.invalid };
}

describe('transfer decoders', () => {
  it('base64: same bytes for any split, whitespace and padding per line', () => {
    const raw = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 31 + 7) & 255));
    const enc = Buffer.from(raw.toString('base64').replace(/.{76}/g, '$&\r\n'));
    for (const splits of [[], [1], [2, 3, 77, 78, 79], Array.from({ length: 200 }, (_, i) => i * 17 + 5)]) {
      const r = decodeAll((s) => new Base64Decoder(s), enc, splits);
      assert.deepEqual(r.out, raw);
      assert.equal(r.invalid, 0);
    }
    const padded = Buffer.from('QQ==\r\nQkM=\r\n');
    assert.equal(decodeAll((s) => new Base64Decoder(s), padded, [5]).out.toString(), 'ABC');
    const bad = decodeAll((s) => new Base64Decoder(s), Buffer.from('QU*JD\r\n RE VG\t\r\n'), [3]);
    assert.equal(bad.out.toString(), 'ABCDEF');
    assert.equal(bad.invalid, 1);
  });

  it('base64: the fast path (Node buffers) and the per-byte path (plain arrays) agree on any input and split', () => {
    let x = 99;
    const rnd = (n: number): number => {
      // xorshift32
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return (x >>> 0) % n;
    };
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    for (let iter = 0; iter < 60; iter++) {
      // Long runs (past the fast path's 32 KiB) of lines of one length, with now and then a line
      // of another length, a bare LF, a space, '=' padding, a base64url digit or a stray byte.
      const lineLen = 4 * (1 + rnd(25)) - (iter % 5 === 0 ? 1 : 0);
      const parts: string[] = [];
      const total = 1000 + rnd(90000);
      let n = 0;
      while (n < total) {
        let len = rnd(50) === 0 ? 1 + rnd(90) : lineLen;
        let line = '';
        while (len-- > 0) line += alphabet[rnd(64)];
        const odd = iter % 3 === 0 ? rnd(400) : 1;
        if (odd === 0) line += ['=', '-', '_', ' ', '*', '\t', '\r', '=='][rnd(8)];
        // A line break inside a line (the fast path steps over regular lines without looking).
        if (iter % 3 === 0 && rnd(300) === 0) {
          const at = rnd(line.length + 1);
          line = line.slice(0, at) + (rnd(2) === 0 ? '\n' : '\r\n') + line.slice(at);
        }
        parts.push(line + (rnd(30) === 0 ? '\n' : '\r\n'));
        n += line.length + 2;
      }
      const enc = Buffer.from(parts.join(''), 'latin1');
      const splits = Array.from({ length: rnd(6) }, () => rnd(enc.length)).sort((a, b) => a - b);
      const fast = decodeAll((s) => new Base64Decoder(s), enc, splits);
      // A plain Uint8Array (not a Buffer) always takes the per-byte path.
      const slow = decodeAll((s) => new Base64Decoder(s), new Uint8Array(enc), splits);
      assert.deepEqual(fast.out, slow.out, `iteration ${iter}`);
      assert.equal(fast.invalid, slow.invalid, `iteration ${iter}`);
      if (iter % 3 !== 0 && iter % 5 !== 0) {
        // Clean input: also what Node decodes from the whole text at once.
        assert.deepEqual(fast.out, Buffer.from(enc.toString('latin1').replace(/\r?\n/g, ''), 'base64').subarray(0, fast.out.length));
      }
    }
  });

  it('quoted-printable: soft breaks, lowercase hex, invalid sequences kept, any split', () => {
    const input = Buffer.from('caf=e9 =3D=\r\nnext =ZZ =4\r\nend=\r\n');
    // Hard line break kept as CRLF (RFC 2045 6.7 rule 4); the final "=\r\n" is a soft break.
    const expected = Buffer.concat([Buffer.from('caf'), Buffer.from([0xe9]), Buffer.from(' =next =ZZ =4\r\nend')]);
    for (let cut = 0; cut <= input.length; cut++) {
      assert.deepEqual(decodeAll((s) => new QuotedPrintableDecoder(s), input, [cut]).out, expected, `cut ${cut}`);
    }
  });

  it('quoted-printable: hard line breaks kept as in the encoded text, the delimiter takes only its own', () => {
    const qp = (input: string, atDelimiter: boolean): string => {
      const buf = Buffer.from(input, 'latin1');
      const outs = [...Array(buf.length + 1).keys()].map(
        (cut) => decodeAll((s) => new QuotedPrintableDecoder(s), buf, [cut], atDelimiter).out.toString('latin1'),
      );
      for (const o of outs) assert.equal(o, outs[0], `same output for every split of ${JSON.stringify(input)}`);
      return outs[0]!;
    };
    // Body "a\r\n\r\n" followed by a delimiter: the last CRLF belongs to the delimiter (RFC 2046 5.1.1).
    assert.equal(qp('a\r\nb\r\n\r\n', true), 'a\r\nb\r\n');
    assert.equal(qp('a\r\nb\r\n\r\n', false), 'a\r\nb\r\n\r\n');
    assert.equal(qp('bare\nlf\n', true), 'bare\nlf');
    assert.equal(qp('bare\nlf\n', false), 'bare\nlf\n');
    // Escaped CR / LF are content, not line breaks.
    assert.equal(qp('x=0D=0A\r\n', true), 'x\r\n');
    assert.equal(qp('x=0D\r\ny', false), 'x\r\r\ny');
    // Soft breaks with LF, CRLF and extra CRs vanish; a "=" ending the body is a soft break.
    assert.equal(qp('so=\nft=\r\nbr=\r\r\neak=', false), 'softbreak');
    assert.equal(qp('a=\r\rb', false), 'a=\r\rb');
    // "=X" left dangling at the end stays literal; a lone CR at a delimiter is content.
    assert.equal(qp('end =4', true), 'end =4');
    assert.equal(qp('cr\r', true), 'cr\r');
    assert.equal(qp('', true), '');
  });

  it('identity (7bit / 8bit / binary): exact bytes, only the line break before the delimiter is dropped', () => {
    const id = (input: Buffer, atDelimiter: boolean): Buffer => {
      const outs = [...Array(input.length + 1).keys()].map((cut) => decodeAll((s) => new IdentityDecoder(s), input, [cut], atDelimiter).out);
      for (const o of outs) assert.deepEqual(o, outs[0]);
      return outs[0]!;
    };
    const body = Buffer.from('Hello\r\n\r\n \r\nmixed\nends\r\r\n\x00\xff\r\n', 'latin1');
    assert.deepEqual(id(body, false), body);
    assert.deepEqual(id(body, true), body.subarray(0, body.length - 2));
    assert.deepEqual(id(Buffer.from('a\n'), true), Buffer.from('a'));
    assert.deepEqual(id(Buffer.from('a\r\r'), true), Buffer.from('a\r\r'));
    assert.deepEqual(id(Buffer.from('a\r\r\n'), true), Buffer.from('a\r'));
  });
});

describe('raw 8-bit header bytes', () => {
  it('reads a non-UTF-8 header as windows-1252: 0x92 is a right single quote (arkime smtp-subject-windows.pcap)', () => {
    const raw = Uint8Array.from([...Buffer.from('Subject: See What'), 0x92, ...Buffer.from('s Next\r\n')]);
    const { text, eightBit } = decodeHeaderBytes(raw);
    assert.equal(eightBit, true);
    assert.equal(text, 'Subject: See What\u2019s Next\r\n');
  });

  it('keeps valid UTF-8 as UTF-8', () => {
    const { text, eightBit } = decodeHeaderBytes(Buffer.from('Subject: caf\u00e9 \u2019\r\n', 'utf8'));
    assert.equal(eightBit, false);
    assert.equal(text, 'Subject: caf\u00e9 \u2019\r\n');
  });

  it('agrees with iconv-lite windows-1252 on every assigned byte; unassigned bytes stay C1 controls (WHATWG)', () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    const ours = decodeWindows1252(all);
    const ref = iconv.decode(Buffer.from(all), 'windows-1252');
    assert.equal(ours.length, 256);
    for (let b = 0; b < 256; b++) {
      if ([0x81, 0x8d, 0x8f, 0x90, 0x9d].includes(b)) assert.equal(ours.charCodeAt(b), b);
      else assert.equal(ours[b], ref[b], `byte 0x${b.toString(16)}`);
    }
  });

  it('decodes inputs longer than one slice', () => {
    const big = new Uint8Array(20000).fill(0x80);
    assert.equal(decodeWindows1252(big), '\u20ac'.repeat(20000));
  });
});
