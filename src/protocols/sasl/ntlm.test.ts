import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { SaslExchange } from './sasl-exchange.js';
import { parseNtlm } from './ntlm.js';

// ---- test-only crypto: MD4 (RFC 1320), which OpenSSL 3 no longer offers by default ----

function md4(msg: Uint8Array): Uint8Array {
  const len = msg.length;
  const padded = new Uint8Array(((len + 8) >> 6) * 64 + 64);
  padded.set(msg);
  padded[len] = 0x80;
  const bits = len * 8;
  const dv = new DataView(padded.buffer);
  dv.setUint32(padded.length - 8, bits >>> 0, true);
  dv.setUint32(padded.length - 4, Math.floor(bits / 2 ** 32), true);
  let a = 0x67452301, b = 0xefcdab89, c = 0x98badcfe, d = 0x10325476;
  const rotl = (x: number, s: number): number => (x << s) | (x >>> (32 - s));
  const F = (x: number, y: number, z: number): number => (x & y) | (~x & z);
  const G = (x: number, y: number, z: number): number => (x & y) | (x & z) | (y & z);
  const H = (x: number, y: number, z: number): number => x ^ y ^ z;
  const X = new Uint32Array(16);
  for (let off = 0; off < padded.length; off += 64) {
    for (let i = 0; i < 16; i++) X[i] = dv.getUint32(off + i * 4, true);
    const [aa, bb, cc, dd] = [a, b, c, d];
    const r1 = [3, 7, 11, 19];
    for (let i = 0; i < 16; i++) {
      const t = rotl((a + F(b, c, d) + X[i]!) | 0, r1[i % 4]!);
      [a, b, c, d] = [d, t, b, c];
    }
    const r2 = [3, 5, 9, 13];
    const o2 = [0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15];
    for (let i = 0; i < 16; i++) {
      const t = rotl((a + G(b, c, d) + X[o2[i]!]! + 0x5a827999) | 0, r2[i % 4]!);
      [a, b, c, d] = [d, t, b, c];
    }
    const r3 = [3, 9, 11, 15];
    const o3 = [0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15];
    for (let i = 0; i < 16; i++) {
      const t = rotl((a + H(b, c, d) + X[o3[i]!]! + 0x6ed9eba1) | 0, r3[i % 4]!);
      [a, b, c, d] = [d, t, b, c];
    }
    a = (a + aa) | 0; b = (b + bb) | 0; c = (c + cc) | 0; d = (d + dd) | 0;
  }
  const out = new Uint8Array(16);
  const ov = new DataView(out.buffer);
  ov.setUint32(0, a >>> 0, true); ov.setUint32(4, b >>> 0, true);
  ov.setUint32(8, c >>> 0, true); ov.setUint32(12, d >>> 0, true);
  return out;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const utf16 = (s: string): Buffer => Buffer.from(s, 'utf16le');

test('test MD4 matches RFC 1320 vectors', () => {
  assert.equal(hex(md4(new Uint8Array(0))), '31d6cfe0d16ae931b73c59d7e0c089c0');
  assert.equal(hex(md4(Buffer.from('abc'))), 'a448017aaf21d8525fc10ae87aa6729d');
  assert.equal(hex(md4(Buffer.from('12345678901234567890123456789012345678901234567890123456789012345678901234567890'))),
    'e33b4ddc9c38f2199c3e7b164fcc0536');
});

/** NTOWFv2 (MS-NLMP 3.3.2): HMAC_MD5(MD4(UNICODE(Passwd)), UNICODE(Uppercase(User) + UserDom)). */
function ntowfv2(password: string, user: string, domain: string): Buffer {
  return createHmac('md5', md4(utf16(password))).update(utf16(user.toUpperCase() + domain)).digest();
}

test('NTOWFv2 helper matches MS-NLMP 4.2.4.1.1', () => {
  assert.equal(ntowfv2('Password', 'User', 'Domain').toString('hex'), '0c868a403bfd7a93a3001ef22ef02e3f');
});

// ---- message builders (MS-NLMP 2.2.1) ----

interface Payload { at: number; bytes: Uint8Array }

function buildMessage(headerLen: number, write: (h: DataView) => void, fields: { at: number; bytes: Uint8Array }[]): Buffer {
  const total = headerLen + fields.reduce((n, f) => n + f.bytes.length, 0);
  const buf = Buffer.alloc(total);
  buf.write('NTLMSSP\0', 0, 'latin1');
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  write(dv);
  let off = headerLen;
  for (const f of fields) {
    dv.setUint16(f.at, f.bytes.length, true);
    dv.setUint16(f.at + 2, f.bytes.length, true);
    dv.setUint32(f.at + 4, off, true);
    buf.set(f.bytes, off);
    off += f.bytes.length;
  }
  return buf;
}

const FLAGS_UNICODE_ESS_VERSION = 0x00000001 | 0x00000200 | 0x00080000 | 0x02000000 | 0x20000000;

function type2(challenge: Buffer, flags = FLAGS_UNICODE_ESS_VERSION, target = 'DOMAIN'): Buffer {
  const fields: Payload[] = [{ at: 12, bytes: utf16(target) }, { at: 40, bytes: Buffer.from('0200060044004f004d00000000000000', 'hex') }];
  return buildMessage(56, (h) => {
    h.setUint32(8, 2, true);
    h.setUint32(20, flags, true);
    challenge.copy(Buffer.from(h.buffer, h.byteOffset + 24, 8));
    h.setUint8(48, 10); h.setUint8(49, 0); h.setUint16(50, 19041, true); h.setUint8(55, 15);
  }, fields);
}

function type3(o: { lm: Uint8Array; nt: Uint8Array; domain: string; user: string; ws: string; flags?: number; oem?: boolean }): Buffer {
  const flags = o.flags ?? FLAGS_UNICODE_ESS_VERSION;
  const enc = (s: string): Buffer => (o.oem ? Buffer.from(s, 'latin1') : utf16(s));
  const fields: Payload[] = [
    { at: 12, bytes: o.lm }, { at: 20, bytes: o.nt }, { at: 28, bytes: enc(o.domain) },
    { at: 36, bytes: enc(o.user) }, { at: 44, bytes: enc(o.ws) }, { at: 52, bytes: new Uint8Array(0) },
  ];
  return buildMessage(88, (h) => {
    h.setUint32(8, 3, true);
    h.setUint32(60, flags, true);
    h.setUint8(64, 10); h.setUint8(65, 0); h.setUint16(66, 19041, true); h.setUint8(71, 15);
  }, fields);
}

const TYPE1 = buildMessage(40, (h) => {
  h.setUint32(8, 1, true);
  h.setUint32(12, 0x00000001 | 0x00000002 | 0x00000200 | 0x00080000 | 0x02000000, true);
  h.setUint8(32, 10); h.setUint16(34, 19041, true); h.setUint8(39, 15);
}, []);

test('NTLMv2: type 3 parsed, mode 5600 line verifies against the password', () => {
  const password = 'Winter2025!';
  const user = 'alice';
  const domain = 'CORP';
  const serverChallenge = Buffer.from('1122334455667788', 'hex');
  // NTLMv2_CLIENT_CHALLENGE (MS-NLMP 2.2.2.7): RespType, HiRespType, reserved, time, client challenge, reserved, AV pairs.
  const blob = Buffer.concat([
    Buffer.from('0101000000000000', 'hex'),
    Buffer.from('0090d336b734c301', 'hex'),
    Buffer.from('aaaaaaaaaaaaaaaa', 'hex'),
    Buffer.from('00000000', 'hex'),
    Buffer.from('0200080043004f0052005000', 'hex'), // MsvAvNbDomainName "CORP"
    Buffer.from('0000000000000000', 'hex'), // MsvAvEOL + reserved
  ]);
  const key = ntowfv2(password, user, domain);
  const proof = createHmac('md5', key).update(Buffer.concat([serverChallenge, blob])).digest();
  const nt = Buffer.concat([proof, blob]);
  const lm = Buffer.alloc(24); // LMv2 omitted (zeros) as modern clients do with MsvAvTimestamp
  const msg3 = type3({ lm, nt, domain, user, ws: 'WS-0042' });

  // SMTP: AUTH NTLM <type1>, 334 <type2>, <type3>
  const x = new SaslExchange('NTLM', TYPE1.toString('base64'));
  x.serverChallenge(type2(serverChallenge).toString('base64'));
  x.clientResponse(msg3.toString('base64'));
  const r = x.result();
  assert.equal(r.username, 'alice');
  assert.equal(r.detail['ntlm_domain'], 'CORP');
  assert.equal(r.detail['ntlm_workstation'], 'WS-0042');
  assert.equal(r.detail['ntlm_response_kind'], 'v2');
  assert.equal(r.detail['ntlm_server_challenge'], '1122334455667788');
  assert.equal(r.detail['ntlm_target_name'], 'DOMAIN');
  assert.equal(r.detail['ntlm_version'], '10.0.19041 (ntlm rev 15)');
  assert.equal(r.detail['ntlm_server_version'], '10.0.19041 (ntlm rev 15)');
  assert.equal(r.detail['ntlm_encoding'], 'utf-16le');
  assert.equal(r.complete, true);
  assert.deepEqual(r.anomalies, []);
  assert.ok(r.hashcat);
  assert.equal(r.hashcat.mode, 5600);

  // Recompute NTProofStr from the line's own fields (what hashcat -m 5600 does per guess).
  const [u, empty, d, chal, ntproof, blobHex, ...rest] = r.hashcat.line.split(':');
  assert.equal(rest.length, 0);
  assert.equal(empty, '');
  const k2 = ntowfv2(password, u!, d!);
  const recomputed = createHmac('md5', k2).update(Buffer.concat([Buffer.from(chal!, 'hex'), Buffer.from(blobHex!, 'hex')])).digest('hex');
  assert.equal(recomputed, ntproof);
  // And a wrong password does not verify.
  const wrong = createHmac('md5', ntowfv2('winter2025!', u!, d!)).update(Buffer.concat([Buffer.from(chal!, 'hex'), Buffer.from(blobHex!, 'hex')])).digest('hex');
  assert.notEqual(wrong, ntproof);
});

test('NTLMv2 over IMAP: empty first continuation, then type 1, type 2, type 3', () => {
  const serverChallenge = Buffer.from('0123456789abcdef', 'hex');
  const blob = Buffer.concat([Buffer.from('0101000000000000', 'hex'), Buffer.alloc(8, 1), Buffer.alloc(8, 0xaa), Buffer.alloc(4), Buffer.alloc(4)]);
  const proof = createHmac('md5', ntowfv2('Password', 'User', 'Domain')).update(Buffer.concat([serverChallenge, blob])).digest();
  const x = new SaslExchange('ntlm');
  x.serverChallenge('');
  x.clientResponse(TYPE1.toString('base64'));
  x.serverChallenge(type2(serverChallenge).toString('base64'));
  x.clientResponse(type3({ lm: Buffer.alloc(0), nt: Buffer.concat([proof, blob]), domain: 'Domain', user: 'User', ws: 'COMPUTER' }).toString('base64'));
  const r = x.result();
  assert.equal(r.mechanism, 'NTLM');
  assert.equal(r.hashcat?.line, `User::Domain:0123456789abcdef:${proof.toString('hex')}:${blob.toString('hex')}`);
});

test('NTLMv1: MS-NLMP 4.2.2 responses give the mode 5500 line', () => {
  // MS-NLMP 4.2.2.2.1 NTLMv1 response and 4.2.2.2.2 LMv1 response for User/Domain/Password,
  // server challenge 0123456789abcdef.
  const nt = Buffer.from('67c43011f30298a2ad35ece64f16331c44bdbed927841f94', 'hex');
  const lm = Buffer.from('98def7b87f88aa5dafe2df779688a172def11c7d5ccdef13', 'hex');
  const x = new SaslExchange('NTLM', TYPE1.toString('base64'));
  x.serverChallenge(type2(Buffer.from('0123456789abcdef', 'hex'), 0x00000001 | 0x00000200).toString('base64'));
  x.clientResponse(type3({ lm, nt, domain: 'Domain', user: 'User', ws: 'COMPUTER', flags: 0x00000001 | 0x00000200 }).toString('base64'));
  const r = x.result();
  assert.equal(r.detail['ntlm_response_kind'], 'v1');
  assert.deepEqual(r.hashcat, {
    mode: 5500,
    line: 'User::Domain:98def7b87f88aa5dafe2df779688a172def11c7d5ccdef13:67c43011f30298a2ad35ece64f16331c44bdbed927841f94:0123456789abcdef',
  });
});

test('NTLMv1 with extended session security is recognised and keeps the LM field (client challenge)', () => {
  // MS-NLMP 4.2.3: NTLMv1 with client challenge aaaaaaaaaaaaaaaa.
  const lm = Buffer.from('aaaaaaaaaaaaaaaa00000000000000000000000000000000', 'hex');
  const nt = Buffer.from('7537f803ae367128ca458204bde7caf81e97ed2683267232', 'hex');
  const x = new SaslExchange('NTLM');
  x.serverChallenge(type2(Buffer.from('0123456789abcdef', 'hex')).toString('base64'));
  x.clientResponse(type3({ lm, nt, domain: 'Domain', user: 'User', ws: 'COMPUTER' }).toString('base64'));
  const r = x.result();
  assert.equal(r.detail['ntlm_response_kind'], 'v1-ess');
  assert.equal(r.hashcat?.mode, 5500);
  assert.equal(r.hashcat?.line, `User::Domain:${lm.toString('hex')}:${nt.toString('hex')}:0123456789abcdef`);
});

test('NTLM OEM strings (no UNICODE flag) are read as 8-bit text', () => {
  const m = parseNtlm(type3({ lm: Buffer.alloc(24, 1), nt: Buffer.alloc(24, 2), domain: 'DOM', user: 'bob', ws: 'PC', flags: 0x00000002, oem: true }));
  assert.ok(m.ok && m.message.type === 3);
  assert.equal(m.message.user, 'bob');
  assert.equal(m.message.domain, 'DOM');
  assert.equal(m.message.unicode, false);
});

test('NTLM anonymous AUTHENTICATE: no username, no hashcat line', () => {
  const x = new SaslExchange('NTLM');
  x.serverChallenge(type2(Buffer.alloc(8, 7)).toString('base64'));
  x.clientResponse(type3({ lm: Buffer.from([0]), nt: Buffer.alloc(0), domain: '', user: '', ws: 'PC' }).toString('base64'));
  const r = x.result();
  assert.equal(r.username, null);
  assert.equal(r.hashcat, null);
  assert.equal(r.detail['ntlm_response_kind'], 'anonymous');
});

test('NTLM hostile messages: truncated, out-of-range offsets, wrong direction never throw', () => {
  const good = type3({ lm: Buffer.alloc(24, 1), nt: Buffer.alloc(24, 2), domain: 'D', user: 'U', ws: 'W' });
  for (let cut = 1; cut < good.length; cut += 3) {
    const x = new SaslExchange('NTLM');
    x.serverChallenge(type2(Buffer.alloc(8, 1)).toString('base64'));
    x.clientResponse(good.subarray(0, cut).toString('base64'));
    const r = x.result();
    assert.ok(Array.isArray(r.anomalies));
    if (cut < 52) assert.ok(r.anomalies.includes('sasl_malformed_ntlm'), `cut ${cut}`);
  }
  // Field offset far past the end.
  const bad = Buffer.from(good);
  bad.writeUInt32LE(0xfffffff0, 40);
  const p = parseNtlm(bad);
  assert.ok(p.ok && p.message.type === 3 && p.message.truncated && p.message.user === '');
  // CHALLENGE from the client / AUTHENTICATE from the server.
  const x = new SaslExchange('NTLM');
  x.serverChallenge(good.toString('base64'));
  x.clientResponse(type2(Buffer.alloc(8)).toString('base64'));
  assert.deepEqual(x.result().anomalies, ['sasl_ntlm_unexpected_type']);
  // Not NTLM at all.
  const y = new SaslExchange('NTLM', Buffer.from('hello world, not ntlm').toString('base64'));
  assert.ok(y.result().anomalies.includes('sasl_malformed_ntlm'));
});
