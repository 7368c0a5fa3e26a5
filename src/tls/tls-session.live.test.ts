import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TlsKeyStore } from './key-store.js';
import { TlsSession, type TlsSessionInfo } from './tls-session.js';
import { atFrame, makeSelfSignedCert, payload, recordTls, type RecordedTls, type TestCert } from './tls-test-support.js';

interface Replay {
  client: Buffer;
  server: Buffer;
  anomalies: { code: string; detail: string }[];
  info: TlsSessionInfo;
  clientRecords: number;
}

/** Pushes the recorded streams into a TlsSession, in arrival order. */
function replay(rec: RecordedTls, keys: TlsKeyStore): Replay {
  const out = { client: [] as Uint8Array[], server: [] as Uint8Array[] };
  const anomalies: { code: string; detail: string }[] = [];
  let clientRecords = 0;
  const s = new TlsSession({
    keys,
    onPlaintext: (side, bytes) => {
      out[side].push(bytes.slice());
      if (side === 'client') clientRecords++;
    },
    onAnomaly: (code, detail) => anomalies.push({ code, detail }),
  });
  let frame = 1;
  for (const e of rec.events) s.push(e.side, e.bytes, atFrame(frame++));
  s.end(atFrame(frame));
  return { client: Buffer.concat(out.client), server: Buffer.concat(out.server), anomalies, info: s.info(), clientRecords };
}

const made = makeSelfSignedCert();
const skip = typeof made === 'string' ? made : false;
const cert = typeof made === 'string' ? null : (made as TestCert);

const SERVER_SENDS = [Buffer.from('220 mail.test.local ESMTP ready\r\n'), payload(50_000, 7)];
const CLIENT_SENDS = [Buffer.from('EHLO client.test\r\n'), payload(40_000, 3), Buffer.from('QUIT\r\n')];
const CLIENT_ALL = Buffer.concat(CLIENT_SENDS);
const SERVER_ALL = Buffer.concat(SERVER_SENDS);

const TLS13 = ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256'];
const TLS12: [string, string][] = [
  ['ECDHE-RSA-AES128-GCM-SHA256', 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256'],
  ['ECDHE-RSA-AES256-GCM-SHA384', 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384'],
  ['ECDHE-RSA-CHACHA20-POLY1305', 'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256'],
  ['ECDHE-RSA-AES128-SHA', 'TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA'],
  ['ECDHE-RSA-AES256-SHA384', 'TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384'],
  ['AES128-SHA256', 'TLS_RSA_WITH_AES_128_CBC_SHA256'],
  ['AES256-GCM-SHA384', 'TLS_RSA_WITH_AES_256_GCM_SHA384'],
];

function assertDecrypted(r: Replay, suite: string, version: string): void {
  assert.deepEqual(r.anomalies, []);
  assert.equal(r.info.decryption, 'decrypted', r.info.decryption_detail ?? '');
  assert.equal(r.info.version, version);
  assert.equal(r.info.cipher_suite, suite);
  assert.ok(r.client.equals(CLIENT_ALL), `client plaintext ${r.client.length} bytes, expected ${CLIENT_ALL.length}`);
  assert.ok(r.server.equals(SERVER_ALL), `server plaintext ${r.server.length} bytes, expected ${SERVER_ALL.length}`);
  assert.ok(r.clientRecords >= 3, 'the 40 kB message spans several records');
  assert.equal(r.info.sni, 'mail.test.local');
  assert.equal(r.info.certificates.length, 1);
  assert.match(r.info.certificates[0]!.subject, /CN=mail\.test\.local/);
  assert.deepEqual(r.info.certificates[0]!.san, ['DNS:mail.test.local']);
}

describe('TlsSession on live node:tls traffic', { skip }, () => {
  const rec13 = new Map<string, RecordedTls>();

  for (const suite of TLS13) {
    it(`TLS 1.3 ${suite} decrypts both directions with the key log`, async () => {
      const rec = await recordTls({
        server: { key: cert!.key, cert: cert!.cert, minVersion: 'TLSv1.3', ciphers: suite },
        client: { servername: 'mail.test.local', minVersion: 'TLSv1.3', ciphers: suite, ALPNProtocols: ['smtp'] },
        serverSends: SERVER_SENDS,
        clientSends: CLIENT_SENDS,
      });
      rec13.set(suite, rec);
      assert.equal(rec.cipher, suite);
      const keys = new TlsKeyStore();
      const added = keys.addKeyLog(rec.keylog, 'test');
      assert.equal(added.bad, 0);
      assert.ok(added.lines >= 4);
      const r = replay(rec, keys);
      assertDecrypted(r, suite, 'TLS 1.3');
      assert.deepEqual(r.info.alpn, ['smtp']);
      assert.match(r.info.ja4 ?? '', /^t13d\d{4}sp_[0-9a-f]{12}_[0-9a-f]{12}$/);
      assert.match(r.info.ja3_hash ?? '', /^[0-9a-f]{32}$/);
    });
  }

  for (const [openssl, iana] of TLS12) {
    it(`TLS 1.2 ${openssl} decrypts both directions with the key log`, async () => {
      const rec = await recordTls({
        server: { key: cert!.key, cert: cert!.cert, maxVersion: 'TLSv1.2', ciphers: openssl },
        client: { servername: 'mail.test.local', maxVersion: 'TLSv1.2', ciphers: openssl },
        serverSends: SERVER_SENDS,
        clientSends: CLIENT_SENDS,
      });
      assert.equal(rec.cipher, iana);
      const keys = new TlsKeyStore();
      keys.addKeyLog(rec.keylog, 'test');
      assertDecrypted(replay(rec, keys), iana, 'TLS 1.2');
      if (iana.startsWith('TLS_RSA_')) {
        // RSA key exchange: the server's private key alone is enough (extended master secret included).
        const rsa = new TlsKeyStore();
        rsa.addRsaPrivateKeyPem(cert!.key, 'server.key');
        assertDecrypted(replay(rec, rsa), iana, 'TLS 1.2');
        // A different RSA key does not match the certificate: no key, metadata kept.
        const other = makeSelfSignedCert('other.test', 1024);
        if (typeof other !== 'string') {
          const wrong = new TlsKeyStore();
          wrong.addRsaPrivateKeyPem(other.key, 'other.key');
          const w = replay(rec, wrong);
          assert.equal(w.info.decryption, 'no-key');
          assert.equal(w.client.length, 0);
          assert.deepEqual(w.anomalies.map((a) => a.code), ['tls_no_key']);
        }
      }
    });
  }

  it('without keys: metadata only, no-key; with a wrong key log: failed', async () => {
    const rec = rec13.get('TLS_AES_128_GCM_SHA256');
    assert.ok(rec, 'depends on the TLS 1.3 AES-128 test');
    const none = replay(rec, new TlsKeyStore());
    assert.equal(none.info.decryption, 'no-key');
    assert.equal(none.info.sni, 'mail.test.local');
    assert.equal(none.info.version, 'TLS 1.3');
    assert.equal(none.info.certificates.length, 0, 'TLS 1.3 certificates are encrypted');
    assert.equal(none.client.length + none.server.length, 0);
    assert.deepEqual(none.anomalies.map((a) => a.code), ['tls_no_key']);
    // Flip one byte of every secret: the first protected record fails authentication.
    const bad = rec.keylog.replace(/ ([0-9a-f]{2})([0-9a-f]+)$/gm, (_m, a: string, b: string) => ` ${(parseInt(a, 16) ^ 1).toString(16).padStart(2, '0')}${b}`);
    const keys = new TlsKeyStore();
    keys.addKeyLog(bad, 'bad');
    const w = replay(rec, keys);
    assert.equal(w.info.decryption, 'failed');
    assert.ok(w.anomalies.some((a) => a.code === 'tls_decrypt_failed'));
    assert.equal(w.client.length + w.server.length, 0);
  });

  it('TLS 1.2 without keys still records certificates; a wrong master secret fails the CBC MAC check', async () => {
    const rec = await recordTls({
      server: { key: cert!.key, cert: cert!.cert, maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-SHA' },
      client: { servername: 'mail.test.local', maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-SHA' },
      serverSends: SERVER_SENDS,
      clientSends: CLIENT_SENDS,
    });
    const none = replay(rec, new TlsKeyStore());
    assert.equal(none.info.decryption, 'no-key');
    assert.equal(none.info.certificates.length, 1);
    assert.match(none.info.certificates[0]!.sha256, /^[0-9a-f]{64}$/);
    const keys = new TlsKeyStore();
    keys.addKeyLog(rec.keylog.replace(/ ([0-9a-f]{2})([0-9a-f]{94})$/gm, (_m, a: string, b: string) => ` ${(parseInt(a, 16) ^ 1).toString(16).padStart(2, '0')}${b}`), 'bad');
    const w = replay(rec, keys);
    assert.equal(w.info.decryption, 'failed');
    assert.ok(w.anomalies.some((a) => a.code === 'tls_bad_record_mac'));
    assert.equal(w.client.length + w.server.length, 0);
  });

  it('TLS 1.2 session resumption (ticket) decrypts with the key log and with the RSA key alone', async () => {
    const ticketKeys = Buffer.alloc(48, 7);
    const server = { key: cert!.key, cert: cert!.cert, maxVersion: 'TLSv1.2' as const, ciphers: 'AES128-GCM-SHA256', ticketKeys };
    const client = { servername: 'mail.test.local', maxVersion: 'TLSv1.2' as const, ciphers: 'AES128-GCM-SHA256' };
    const first = await recordTls({ server, client, serverSends: SERVER_SENDS, clientSends: CLIENT_SENDS });
    assert.ok(first.session, 'a session to resume');
    const second = await recordTls({ server, client: { ...client, session: first.session }, serverSends: SERVER_SENDS, clientSends: CLIENT_SENDS });
    const keys = new TlsKeyStore();
    keys.addKeyLog(second.keylog, 'second');
    const k = replay(second, keys);
    assert.equal(k.info.resumed, true);
    assert.deepEqual(k.anomalies, []);
    assert.ok(k.client.equals(CLIENT_ALL) && k.server.equals(SERVER_ALL));
    assert.equal(k.info.certificates.length, 0, 'an abbreviated handshake has no Certificate');
    // RSA key only: the first (full) handshake gives the master secret, remembered for its ticket.
    const rsa = new TlsKeyStore();
    rsa.addRsaPrivateKeyPem(cert!.key, 'server.key');
    assert.equal(replay(first, rsa).info.decryption, 'decrypted');
    const r = replay(second, rsa);
    assert.equal(r.info.resumed, true);
    assert.equal(r.info.decryption, 'decrypted', r.info.decryption_detail ?? '');
    assert.ok(r.client.equals(CLIENT_ALL) && r.server.equals(SERVER_ALL));
    // Without the first session the resumed one has no key.
    assert.equal(replay(second, (() => { const x = new TlsKeyStore(); x.addRsaPrivateKeyPem(cert!.key, 'k'); return x; })()).info.decryption, 'no-key');
  });
});

