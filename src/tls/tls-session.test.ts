import assert from 'node:assert/strict';
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { MailsleuthError } from '../core/errors.js';
import { TLS_ANOMALIES } from './anomaly-codes.js';
import { ja3, ja4, parseClientHello } from './handshake-messages.js';
import { DSB_TLS_KEY_LOG, TlsKeyStore } from './key-store.js';
import { hkdfExpandLabel, nextTrafficSecret, tlsPrf } from './record-crypto.js';
import { looksLikeTls, TlsSession } from './tls-session.js';
import { atFrame } from './tls-test-support.js';

const u16 = (v: number): number[] => [v >> 8, v & 0xff];
const u24 = (v: number): number[] => [v >> 16, (v >> 8) & 0xff, v & 0xff];
const vec1 = (b: number[]): number[] => [b.length, ...b];
const vec2 = (b: number[]): number[] => [...u16(b.length), ...b];
const hsMsg = (type: number, body: number[]): number[] => [type, ...u24(body.length), ...body];
const record = (type: number, body: number[] | Uint8Array): Uint8Array => Uint8Array.from([type, 3, 3, ...u16(body.length), ...body]);
const ext = (type: number, body: number[]): number[] => [...u16(type), ...vec2(body)];

const CLIENT_RANDOM = Array.from({ length: 32 }, (_, i) => i + 1);
const SERVER_RANDOM = Array.from({ length: 32 }, (_, i) => 0x80 + i);

function clientHello(extra: number[] = []): number[] {
  const exts = [
    ...ext(0, vec2([0, ...vec2([...Buffer.from('mail.example.org')])])),
    ...ext(0x0a0a, []), // GREASE
    ...ext(10, vec2([...u16(29), ...u16(23)])),
    ...ext(11, vec1([0])),
    ...ext(13, vec2([...u16(0x0804), ...u16(0x0403)])),
    ...ext(16, vec2(vec1([...Buffer.from('imap')]))),
    ...ext(43, vec1([...u16(0x0304), ...u16(0x0303)])),
    ...extra,
  ];
  return hsMsg(1, [...u16(0x0303), ...CLIENT_RANDOM, ...vec1([]), ...vec2([...u16(0x2a2a), ...u16(0x1301), ...u16(0xc02f)]), ...vec1([0]), ...vec2(exts)]);
}

function serverHello13(): number[] {
  return hsMsg(2, [...u16(0x0303), ...SERVER_RANDOM, ...vec1([]), ...u16(0x1301), 0, ...vec2(ext(43, u16(0x0304)))]);
}

/** Seals one TLS 1.3 record with TLS_AES_128_GCM_SHA256 (RFC 8446 §5.2), the way a peer would. */
function seal13(secret: Uint8Array, seq: number, innerType: number, data: number[] | Uint8Array): Uint8Array {
  const key = hkdfExpandLabel('sha256', secret, 'key', new Uint8Array(0), 16);
  const iv = hkdfExpandLabel('sha256', secret, 'iv', new Uint8Array(0), 12);
  const nonce = Uint8Array.from(iv);
  nonce[11]! ^= seq & 0xff;
  nonce[10]! ^= (seq >> 8) & 0xff;
  const inner = Uint8Array.from([...data, innerType, 0, 0]);
  const len = inner.length + 16;
  const c = createCipheriv('aes-128-gcm', key, nonce);
  c.setAAD(Uint8Array.from([23, 3, 3, ...u16(len)]));
  const ct = Buffer.concat([c.update(inner), c.final(), c.getAuthTag()]);
  return record(23, ct);
}

const S = {
  chts: randomBytes(32),
  shts: randomBytes(32),
  cts0: randomBytes(32),
  sts0: randomBytes(32),
};
const hex = (b: Uint8Array | number[]): string => Buffer.from(b).toString('hex');
const CR = hex(CLIENT_RANDOM);

/** A synthetic TLS 1.3 session with a KeyUpdate from each side. */
function synthetic13(): { side: 'client' | 'server'; bytes: Uint8Array }[] {
  const sts1 = nextTrafficSecret('sha256', S.sts0);
  const cts1 = nextTrafficSecret('sha256', S.cts0);
  return [
    { side: 'client', bytes: record(22, clientHello()) },
    { side: 'server', bytes: record(22, serverHello13()) },
    { side: 'server', bytes: record(20, [1]) },
    { side: 'server', bytes: seal13(S.shts, 0, 22, [...hsMsg(8, vec2([])), ...hsMsg(20, Array(32).fill(9))]) },
    { side: 'client', bytes: record(20, [1]) },
    { side: 'client', bytes: seal13(S.chts, 0, 22, hsMsg(20, Array(32).fill(7))) },
    { side: 'server', bytes: seal13(S.sts0, 0, 23, [...Buffer.from('* OK ready\r\n')]) },
    { side: 'client', bytes: seal13(S.cts0, 0, 23, [...Buffer.from('a1 LOGIN u p\r\n')]) },
    // KeyUpdate(update_requested) from the client, then the server's KeyUpdate (RFC 8446 §4.6.3)
    { side: 'client', bytes: seal13(S.cts0, 1, 22, hsMsg(24, [1])) },
    { side: 'client', bytes: seal13(cts1, 0, 23, [...Buffer.from('a2 LOGOUT\r\n')]) },
    { side: 'server', bytes: seal13(S.sts0, 1, 22, hsMsg(24, [0])) },
    { side: 'server', bytes: seal13(sts1, 0, 23, [...Buffer.from('a1 OK\r\n')]) },
  ];
}

function run(events: { side: 'client' | 'server'; bytes: Uint8Array }[], keys: TlsKeyStore, chunk = 0) {
  const out = { client: '', server: '' };
  const anomalies: string[] = [];
  const s = new TlsSession({ keys, onPlaintext: (side, b) => (out[side] += Buffer.from(b).toString('latin1')), onAnomaly: (c) => anomalies.push(c) });
  let f = 1;
  for (const e of events) {
    if (chunk === 0) s.push(e.side, e.bytes, atFrame(f++));
    else for (let i = 0; i < e.bytes.length; i += chunk) s.push(e.side, e.bytes.subarray(i, i + chunk), atFrame(f++));
  }
  return { out, anomalies, info: s.info(), session: s };
}

function fullKeys(): TlsKeyStore {
  const k = new TlsKeyStore();
  k.addKeyLog(
    [
      `CLIENT_HANDSHAKE_TRAFFIC_SECRET ${CR} ${hex(S.chts)}`,
      `SERVER_HANDSHAKE_TRAFFIC_SECRET ${CR} ${hex(S.shts)}`,
      `CLIENT_TRAFFIC_SECRET_0 ${CR} ${hex(S.cts0)}`,
      `SERVER_TRAFFIC_SECRET_0 ${CR} ${hex(S.sts0)}`,
    ].join('\n'),
    'unit',
  );
  return k;
}

describe('TLS 1.3 key schedule and KeyUpdate', () => {
  it('HKDF-Expand-Label matches the RFC 8448 §3 vector (server handshake key)', () => {
    const secret = Buffer.from('b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38', 'hex');
    assert.equal(hex(hkdfExpandLabel('sha256', secret, 'key', new Uint8Array(0), 16)), '3fce516009c21727d0f2e4e86ee403bc');
    assert.equal(hex(hkdfExpandLabel('sha256', secret, 'iv', new Uint8Array(0), 12)), '5d313eb2671276ee13000b30');
  });

  it('decrypts both directions across a KeyUpdate from each side, record by record and byte by byte', () => {
    for (const chunk of [0, 1, 7]) {
      const r = run(synthetic13(), fullKeys(), chunk);
      assert.deepEqual(r.anomalies, []);
      assert.equal(r.out.client, 'a1 LOGIN u p\r\na2 LOGOUT\r\n');
      assert.equal(r.out.server, '* OK ready\r\na1 OK\r\n');
      assert.equal(r.info.decryption, 'decrypted');
      assert.equal(r.info.version, 'TLS 1.3');
      assert.equal(r.info.cipher_suite, 'TLS_AES_128_GCM_SHA256');
      assert.equal(r.info.sni, 'mail.example.org');
      assert.deepEqual(r.info.alpn, ['imap']);
    }
  });

  it('with only the *_TRAFFIC_SECRET_0 lines, application data is still recovered', () => {
    const k = new TlsKeyStore();
    k.addKeyLog(`CLIENT_TRAFFIC_SECRET_0 ${CR} ${hex(S.cts0)}\nSERVER_TRAFFIC_SECRET_0 ${CR} ${hex(S.sts0)}\n`, 'unit');
    const r = run(synthetic13(), k);
    assert.equal(r.out.client, 'a1 LOGIN u p\r\na2 LOGOUT\r\n');
    assert.equal(r.out.server, '* OK ready\r\na1 OK\r\n');
  });

  it('a gap stops that direction with tls_gap; the other keeps decrypting', () => {
    const ev = synthetic13();
    const s = new TlsSession({ keys: fullKeys(), onPlaintext: (side, b) => out.push(`${side}:${Buffer.from(b).toString()}`), onAnomaly: (c) => codes.push(c) });
    const out: string[] = [];
    const codes: string[] = [];
    ev.slice(0, 8).forEach((e, i) => s.push(e.side, e.bytes, atFrame(i + 1)));
    s.gap('client', 100, atFrame(20));
    ev.slice(8).forEach((e, i) => s.push(e.side, e.bytes, atFrame(i + 30)));
    assert.deepEqual(codes, ['tls_gap']);
    assert.deepEqual(out, ['server:* OK ready\r\n', 'client:a1 LOGIN u p\r\n', 'server:a1 OK\r\n']);
  });
});

describe('handshake metadata', () => {
  it('JA3 drops GREASE and hashes with MD5; JA4 follows the FoxIO layout', () => {
    const ch = parseClientHello(Uint8Array.from(clientHello().slice(4)));
    const j = ja3(ch);
    assert.equal(j.text, '771,4865-49199,0-10-11-13-16-43,29-23,0');
    assert.equal(j.hash, createHash('md5').update(j.text).digest('hex'));
    const sha12 = (s: string): string => createHash('sha256').update(s).digest('hex').slice(0, 12);
    assert.equal(ja4(ch), `t13d0206ip_${sha12('1301,c02f')}_${sha12('000a,000b,000d,002b_0804,0403')}`);
  });

  it('a truncated ClientHello is a named anomaly, not a crash', () => {
    const codes: string[] = [];
    const s = new TlsSession({ keys: new TlsKeyStore(), onPlaintext: () => assert.fail('no plaintext'), onAnomaly: (c) => codes.push(c) });
    const ch = clientHello();
    s.push('client', record(22, [1, ...u24(10), ...ch.slice(4, 14)]), atFrame(1));
    s.push('client', record(22, ch.slice(0, 20)), atFrame(2));
    s.end(atFrame(3));
    assert.deepEqual(codes, ['tls_bad_handshake', 'tls_truncated_record']);
  });
});

describe('TlsKeyStore', () => {
  it('parses NSS key log lines and counts bad ones', () => {
    const k = new TlsKeyStore();
    const r = k.addKeyLog(`# comment\n\nCLIENT_RANDOM ${CR} ${'ab'.repeat(48)}\r\nCLIENT_RANDOM zz ${'ab'.repeat(48)}\nBOGUS ${CR} ${'ab'.repeat(32)}\nEXPORTER_SECRET ${CR} ${'cd'.repeat(32)}\n`, 'f');
    assert.deepEqual(r, { lines: 2, bad: 2 });
    assert.equal(hex(k.lookup(CR.toUpperCase())!.masterSecret!), 'ab'.repeat(48));
    assert.equal(k.size, 1);
    const d = k.addDecryptionSecretsBlock(DSB_TLS_KEY_LOG, Buffer.from(`SERVER_TRAFFIC_SECRET_0 ${CR} ${'ee'.repeat(32)}\n`));
    assert.deepEqual(d, { lines: 1, bad: 0 });
    assert.equal(hex(k.lookup(CR)!.serverTrafficSecret0!), 'ee'.repeat(32));
    assert.deepEqual(k.addDecryptionSecretsBlock(0x12345678, Buffer.from('x')), { lines: 0, bad: 0 });
  });

  it('rejects a PEM that is not an RSA private key with a USAGE error', () => {
    const k = new TlsKeyStore();
    assert.throws(() => k.addRsaPrivateKeyPem('not a key', 'x.pem'), (e: unknown) => e instanceof MailsleuthError && e.code === 'USAGE' && !e.message.includes('\n'));
  });

  it('TLS 1.2 PRF matches the widely used P_SHA256 test vector', () => {
    // https://mailarchive.ietf.org/arch/msg/tls/fzVCzk-z3FShgGJ6DOXqM1ydxms/
    const secret = Buffer.from('9bbe436ba940f017b17652849a71db35', 'hex');
    const seed = Buffer.from('a0ba9f936cda311827a6f796ffd5198c', 'hex');
    const out = tlsPrf(0x0303, 'sha256', secret, 'test label', seed, 100);
    assert.equal(hex(out.subarray(0, 16)), 'e3f229ba727be17b8d122620557cd453');
  });
});

describe('hostile input', () => {
  it('looksLikeTls', () => {
    assert.equal(looksLikeTls(Uint8Array.from([0x16, 3, 1, 0, 10])), true);
    assert.equal(looksLikeTls(Uint8Array.from([0x16, 3, 5])), false);
    assert.equal(looksLikeTls(Buffer.from('EHLO x\r\n')), false);
  });

  it('absurd record and handshake lengths stop that direction with a named anomaly', () => {
    const codes: string[] = [];
    const s = new TlsSession({ keys: new TlsKeyStore(), onPlaintext: () => undefined, onAnomaly: (c) => codes.push(c) });
    s.push('client', Uint8Array.from([22, 3, 1, 0xff, 0xff, 1, 2, 3]), atFrame(1));
    s.push('client', Uint8Array.from([22, 3, 1, 0, 4, 1, 0xff, 0xff, 0xff]), atFrame(2));
    s.push('server', Uint8Array.from([22, 3, 3, 0, 4, 2, 0xff, 0xff, 0xff]), atFrame(3));
    s.push('server', Uint8Array.from([99, 3, 3, 0, 1, 0]), atFrame(4));
    assert.deepEqual(codes, ['tls_record_too_large', 'tls_handshake_too_large']);
    const t = new TlsSession({ keys: new TlsKeyStore(), onPlaintext: () => undefined, onAnomaly: (c) => codes.push(c) });
    t.push('server', Buffer.from('220 hello\r\n'), atFrame(5));
    assert.equal(codes.at(-1), 'tls_bad_record_header');
    for (const a of new Set(codes)) assert.ok(TLS_ANOMALIES.some((x) => x.code === a), `${a} is catalogued`);
  });

  it('random bytes and mutated sessions never throw', () => {
    const base = synthetic13();
    fc.assert(
      fc.property(
        fc.array(fc.record({ client: fc.boolean(), bytes: fc.uint8Array({ maxLength: 300 }) }), { maxLength: 20 }),
        fc.nat(),
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 1, max: 64 }),
        (randomEvents, where, flip, chunk) => {
          const ev = base.map((e) => ({ side: e.side, bytes: Uint8Array.from(e.bytes) }));
          const total = ev.reduce((n, e) => n + e.bytes.length, 0);
          let p = where % total;
          for (const e of ev) {
            if (p < e.bytes.length) {
              e.bytes[p] = flip;
              break;
            }
            p -= e.bytes.length;
          }
          const cut = ev.slice(0, 1 + (where % ev.length));
          run(cut, fullKeys(), chunk).session.end(atFrame(999));
          run(randomEvents.map((r) => ({ side: r.client ? ('client' as const) : ('server' as const), bytes: r.bytes })), fullKeys(), chunk);
          const withHeader = randomEvents.map((r) => ({ side: r.client ? ('client' as const) : ('server' as const), bytes: Uint8Array.from([22, 3, 3, ...u16(r.bytes.length), ...r.bytes]) }));
          run(withHeader, fullKeys(), chunk);
        },
      ),
      { numRuns: 200 },
    );
  });
});
