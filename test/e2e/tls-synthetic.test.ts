// TLS decryption end to end through the pipeline, on captures built here from real node:tls
// traffic on loopback: an RSA key exchange decrypted with the server's PEM key only, and a
// TLS 1.3 session whose key log travels inside the pcapng (Decryption Secrets Block).
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyze } from '../../src/pipeline/analyze.js';
import { makeSelfSignedCert, recordTls } from '../../src/tls/tls-test-support.js';
import type { RecordedTls } from '../../src/tls/tls-test-support.js';
import { TcpConversation, writePcapngSections } from '../helpers/pcap-writer.js';

const cert = makeSelfSignedCert('mail.tls-test.local');
const skip = typeof cert === 'string' ? cert : false;

const GREETING = Buffer.from('220 mail.tls-test.local ESMTP\r\n');
const plain = Buffer.from('\0mallory\0Winter2025!').toString('base64');
const CLIENT = Buffer.from(`EHLO WS-RSA-TEST\r\nAUTH PLAIN ${plain}\r\nQUIT\r\n`);

function conversation(rec: RecordedTls): TcpConversation {
  const conv = new TcpConversation({ ip: '10.1.2.3', port: 51515 }, { ip: '10.9.9.25', port: 465 }).handshake();
  for (const e of rec.events) {
    if (e.side === 'client') conv.clientSends(e.bytes);
    else conv.serverSends(e.bytes);
  }
  return conv.fin('client').fin('server');
}

function check(summary: Awaited<ReturnType<typeof analyze>>, decrypted: boolean): void {
  const r = summary.records!;
  assert.equal(r.sessions.length, 1);
  const s = r.sessions[0] as Record<string, any>;
  assert.equal(s.transport, 'tls');
  if (!decrypted) {
    assert.equal(s.tls.decryption, 'no-key');
    assert.equal(r.credentials.length, 0);
    return;
  }
  assert.equal(s.tls.decryption, 'decrypted', JSON.stringify(s.tls));
  const cmds = r.transcript.filter((t) => t.kind === 'command');
  assert.deepEqual(cmds.map((t) => t.command), ['EHLO', 'AUTH', 'QUIT']);
  assert.ok(cmds.every((t) => (t as { decrypted?: boolean }).decrypted === true));
  assert.equal(s.smtp.helo, 'WS-RSA-TEST');
  assert.equal(r.credentials.length, 1);
  assert.equal(r.credentials[0].username, 'mallory');
  assert.equal(r.credentials[0].secret, 'Winter2025!');
  assert.equal(r.credentials[0].cleartext_channel, false);
}

test('RSA key exchange (TLS 1.2 AES128-SHA256) on 465 decrypts with --rsa-key alone', { skip }, async () => {
  if (typeof cert === 'string') return;
  const rec = await recordTls({
    server: { key: cert.key, cert: cert.cert, ciphers: 'AES128-SHA256', maxVersion: 'TLSv1.2' },
    client: { ciphers: 'AES128-SHA256', maxVersion: 'TLSv1.2' },
    serverSends: [GREETING],
    clientSends: [CLIENT],
  });
  assert.match(rec.cipher, /RSA_WITH_AES_128_CBC_SHA256/);
  const dir = mkdtempSync(join(tmpdir(), 'ms-tls-'));
  try {
    const pcap = join(dir, 'rsa.pcap');
    writeFileSync(pcap, conversation(rec).pcap());
    const keyFile = join(dir, 'server.key');
    writeFileSync(keyFile, cert.key);
    check(await analyze(pcap, { outDir: null }), false);
    const s = await analyze(pcap, { outDir: null, rsaKeyFiles: [keyFile] });
    check(s, true);
    assert.equal((s.records!.sessions[0] as Record<string, any>).tls.version, 'TLS 1.2');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('TLS 1.3 with the key log in a pcapng Decryption Secrets Block decrypts with no flag', { skip }, async () => {
  if (typeof cert === 'string') return;
  const rec = await recordTls({
    server: { key: cert.key, cert: cert.cert, minVersion: 'TLSv1.3' },
    client: { minVersion: 'TLSv1.3', servername: 'mail.tls-test.local' },
    serverSends: [GREETING],
    clientSends: [CLIENT],
  });
  assert.equal(rec.protocol, 'TLSv1.3');
  const frames = conversation(rec).frames();
  const withDsb = writePcapngSections([
    {
      interfaces: [{ linkType: 1 }],
      blocks: [
        { type: 'dsb', secretsType: 0x544c534b, data: Buffer.from(rec.keylog, 'latin1') },
        ...frames.map((f) => ({ type: 'epb' as const, iface: 0, ts: f.ts, data: f.data })),
      ],
    },
  ]);
  const without = writePcapngSections([
    { interfaces: [{ linkType: 1 }], blocks: frames.map((f) => ({ type: 'epb' as const, iface: 0, ts: f.ts, data: f.data })) },
  ]);
  const dir = mkdtempSync(join(tmpdir(), 'ms-tls-'));
  try {
    writeFileSync(join(dir, 'a.pcapng'), withDsb);
    writeFileSync(join(dir, 'b.pcapng'), without);
    const s = await analyze(join(dir, 'a.pcapng'), { outDir: null });
    check(s, true);
    const tls = (s.records!.sessions[0] as Record<string, any>).tls;
    assert.equal(tls.version, 'TLS 1.3');
    assert.equal(tls.sni, 'mail.tls-test.local');
    const n = await analyze(join(dir, 'b.pcapng'), { outDir: null });
    check(n, false);
    const tn = (n.records!.sessions[0] as Record<string, any>).tls;
    assert.equal(tn.sni, 'mail.tls-test.local', 'metadata without a key');
    assert.match(tn.ja3_hash, /^[0-9a-f]{32}$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// Each protocol on its implicit-TLS port, decrypted with the key log the client wrote.
for (const p of [
  { name: 'POP3S (995)', port: 995, greeting: '+OK POP3 ready\r\n', client: 'USER bob\r\nPASS Tr0ub4dor&3\r\nQUIT\r\n', user: 'bob', secret: 'Tr0ub4dor&3', protocol: 'pop3' },
  { name: 'IMAPS (993)', port: 993, greeting: '* OK IMAP4rev1 ready\r\n', client: 'a1 LOGIN carol "C4rol#Secret"\r\na2 LOGOUT\r\n', user: 'carol', secret: 'C4rol#Secret', protocol: 'imap' },
]) {
  test(`${p.name}: TLS 1.2 ECDHE decrypted with the key log; the login is evidence`, { skip }, async () => {
    if (typeof cert === 'string') return;
    const rec = await recordTls({
      server: { key: cert.key, cert: cert.cert, maxVersion: 'TLSv1.2' },
      client: { maxVersion: 'TLSv1.2' },
      serverSends: [Buffer.from(p.greeting)],
      clientSends: [Buffer.from(p.client)],
    });
    const conv = new TcpConversation({ ip: '10.1.2.3', port: 51516 }, { ip: '10.9.9.25', port: p.port }).handshake();
    for (const e of rec.events) {
      if (e.side === 'client') conv.clientSends(e.bytes);
      else conv.serverSends(e.bytes);
    }
    conv.fin('client').fin('server');
    const dir = mkdtempSync(join(tmpdir(), 'ms-tls-'));
    try {
      writeFileSync(join(dir, 'x.pcap'), conv.pcap());
      writeFileSync(join(dir, 'x.keylog'), rec.keylog);
      const s = await analyze(join(dir, 'x.pcap'), { outDir: null, keyLogFiles: [join(dir, 'x.keylog')] });
      const r = s.records!;
      assert.equal(r.sessions.length, 1);
      const sess = r.sessions[0] as Record<string, any>;
      assert.equal(sess.protocol, p.protocol);
      assert.equal(sess.transport, 'tls');
      assert.equal(sess.tls.decryption, 'decrypted');
      assert.equal(sess.tls.version, 'TLS 1.2');
      assert.equal(r.credentials.length, 1);
      assert.equal(r.credentials[0].username, p.user);
      assert.equal(r.credentials[0].secret, p.secret);
      assert.equal(r.credentials[0].cleartext_channel, false);
      assert.ok(r.transcript.filter((t) => t.kind === 'command').every((t) => (t as { decrypted?: boolean }).decrypted === true));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
