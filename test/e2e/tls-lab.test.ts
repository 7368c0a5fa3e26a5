// End to end through analyze() on the lab TLS captures (STARTTLS for IMAP and SMTP, TLS 1.3 and
// 1.2, implicit TLS on 465), with and without their NSS key logs, checked against the lab truth
// files, the lab server certificate and (when installed) tshark's own decryption.
import test from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { analyze } from '../../src/pipeline/analyze.js';
import { SHARED_SKIP_REASON, sharedDir } from '../helpers/paths.js';

const LAB = sharedDir === null ? null : join(sharedDir, 'corpus', 'lab');
const skip = LAB === null || !existsSync(join(LAB, 'imap-starttls-keylog.pcap')) ? SHARED_SKIP_REASON : false;
const HAVE_TSHARK = spawnSync('tshark', ['-v'], { stdio: 'ignore' }).status === 0;

type Rec = Record<string, any>;

interface Lab {
  truth: Rec;
  session: Rec;
  records: Rec;
}

async function run(name: string, withKey: boolean): Promise<Lab> {
  const base = join(LAB!, name);
  const truth = JSON.parse(readFileSync(`${base}.truth.json`, 'utf8'));
  const summary = await analyze(`${base}.pcap`, { outDir: null, keyLogFiles: withKey ? [`${base}.keylog`] : [] });
  const records = (summary as unknown as { records: Rec }).records;
  const sessions = records.sessions.filter((s: Rec) => s.protocol === truth.sessions[0].protocol);
  assert.equal(sessions.length, 1, `${name}: one ${truth.sessions[0].protocol} session`);
  return { truth, session: sessions[0], records };
}

/** "TLSv1.3" (truth, OpenSSL spelling) → "TLS 1.3" (ours). */
function truthVersion(s: Rec): string {
  const info = (s.client_transcript ?? []).find((l: string[]) => l[0] === 'info' && l[1].startsWith('SSL connection using'));
  const v: string = s.tls_version ?? info?.[1].replace(/^SSL connection using (TLSv[0-9.]+).*$/, '$1');
  return v.replace('TLSv', 'TLS ');
}

/** Client lines the truth lists (cleartext then encrypted), in order; data placeholders dropped. */
function expectCommands(lab: Lab): void {
  const s = lab.truth.sessions[0];
  const client = lab.records.transcript.filter((t: Rec) => t.session_id === lab.session.session_id && t.side === 'client' && (t.kind === 'command' || t.kind === 'auth'));
  let i = 0;
  const want = [
    ...(s.cleartext_commands ?? []).map((c: string) => [c, false] as const),
    ...s.encrypted_commands.map((c: string) => [c, true] as const),
  ].filter(([c]) => !c.startsWith('<') && c !== '.');
  for (const [line, enc] of want) {
    // The truth omits the tag of curl's final LOGOUT ("not echoed"); match the untagged tail then.
    while (i < client.length && client[i].lines[0] !== line && !client[i].lines[0]?.endsWith(` ${line}`)) i++;
    assert.ok(i < client.length, `${lab.truth.scenario}: "${line}" in the transcript, in order`);
    assert.equal(client[i].decrypted === true, enc, `${lab.truth.scenario}: "${line}" decrypted=${enc}`);
    i++;
  }
}

function expectCredential(lab: Lab): void {
  const a = lab.truth.sessions[0].auth;
  const creds = lab.records.credentials.filter((c: Rec) => c.session_id === lab.session.session_id);
  assert.equal(creds.length, 1);
  const c = creds[0];
  assert.equal(c.username, a.username);
  assert.equal(c.outcome, 'success');
  assert.equal(c.cleartext_channel, false, 'sent inside TLS');
  assert.equal(c.decrypted, true);
  if (c.mechanism === 'CRAM-MD5') assert.ok(c.hashcat !== null, 'CRAM-MD5: crackable line, no password');
  else assert.equal(c.secret, a.password);
}

function expectedMessageHashes(truth: Rec): string[] {
  const s = truth.sessions[0];
  if (s.fetched_sha256) return [s.fetched_sha256];
  return (s.transactions ?? []).map((t: Rec) => t.message.sha256);
}

/** Commands tshark sees after decrypting with the same key log: frame → command verb. */
function tsharkCommands(name: string): { frame: number; verb: string }[] {
  const base = join(LAB!, name);
  const r = spawnSync('tshark', ['-r', `${base}.pcap`, '-o', `tls.keylog_file:${base}.keylog`, '-Y', 'imap or smtp or pop', '-T', 'fields', '-e', 'frame.number', '-e', 'imap.request.command', '-e', 'smtp.req.command', '-e', 'pop.request.command'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout
    .split('\n')
    .map((l) => l.split('\t'))
    .filter((f) => f.length > 1 && f.slice(1).some((x) => x !== ''))
    .map((f) => ({ frame: Number(f[0]), verb: f.slice(1).find((x) => x !== '')!.toUpperCase() }));
}

function tsharkCipher(name: string): string | null {
  const r = spawnSync('tshark', ['-r', join(LAB!, `${name}.pcap`), '-Y', 'tls.handshake.type==2', '-T', 'fields', '-e', 'tls.handshake.ciphersuite'], { encoding: 'utf8' });
  const v = r.stdout.trim().split('\n')[0];
  return v ? v : null;
}

const CASES = [
  { name: 'imap-starttls-keylog', transport: 'starttls', smtp: false },
  { name: 'smtp-starttls-keylog', transport: 'starttls', smtp: true },
  { name: 'smtp-starttls-tls12-keylog', transport: 'starttls', smtp: true },
  { name: 'smtps-implicit-tls-keylog', transport: 'tls', smtp: true },
] as const;

for (const c of CASES) {
  test(`${c.name}: decrypted with the key log; commands, credential, message hashes as the truth says`, { skip }, async () => {
    const lab = await run(c.name, true);
    const tls = lab.session.tls;
    assert.equal(lab.session.transport, c.transport);
    assert.equal(tls.decryption, 'decrypted', tls.decryption_detail ?? '');
    assert.equal(tls.version, truthVersion(lab.truth.sessions[0]));
    const info = (lab.truth.sessions[0].client_transcript ?? []).find((l: string[]) => l[0] === 'info' && l[1].startsWith('SSL connection using'));
    if (info) assert.equal(tls.cipher_suite, info[1].split(' / ')[1]);
    expectCommands(lab);
    expectCredential(lab);
    const ours = lab.records.messages.filter((m: Rec) => m.session_id === lab.session.session_id);
    assert.deepEqual(ours.map((m: Rec) => m.sha256).sort(), expectedMessageHashes(lab.truth).sort());
    for (const m of ours) assert.equal(m.partial, false);
    assert.deepEqual(lab.records.anomalies.filter((a: Rec) => a.code.includes('starttls') || a.code.includes('stls')), []);
  });

  test(`${c.name}: every command tshark decrypts is in our transcript, in the same frame`, { skip: skip || (HAVE_TSHARK ? false : 'tshark not installed') }, async () => {
    const lab = await run(c.name, true);
    const ours = lab.records.transcript.filter((t: Rec) => t.side === 'client' && (t.kind === 'command' || t.kind === 'auth'));
    const seen = tsharkCommands(c.name);
    assert.ok(seen.length >= 4, 'tshark decrypted the session');
    for (const t of seen) {
      // tshark: SMTP verbs cut to 4 characters ("STAR"), IMAP "UID FETCH" shown as "FETCH".
      const hit = ours.find((e: Rec) => {
        if (e.frame !== t.frame || e.command == null) return false;
        const v = String(e.command).toUpperCase();
        return v === t.verb || v.startsWith(t.verb) || v === `UID ${t.verb}`;
      });
      assert.ok(hit, `${c.name}: frame ${t.frame} ${t.verb} (tshark) has a transcript entry`);
    }
    if (tls12(c.name)) {
      const cs = tsharkCipher(c.name);
      if (cs !== null) assert.equal(Number(cs), cipherId(lab.session.tls.cipher_suite));
    }
  });

  test(`${c.name}: without the key log the session says no-key and keeps its handshake metadata`, { skip }, async () => {
    const lab = await run(c.name, false);
    const tls = lab.session.tls;
    assert.equal(lab.session.transport, c.transport);
    assert.equal(tls.decryption, 'no-key');
    assert.equal(tls.version, truthVersion(lab.truth.sessions[0]));
    assert.match(tls.client_random, /^[0-9a-f]{64}$/);
    assert.match(tls.ja3_hash, /^[0-9a-f]{32}$/);
    assert.equal(tls.sni, null, 'curl connected to 127.0.0.1: no SNI on the wire');
    assert.equal(lab.records.transcript.some((t: Rec) => t.decrypted === true), false);
    assert.equal(lab.records.credentials.length, 0);
    assert.equal(lab.records.messages.length, 0);
    if (tls.version === 'TLS 1.2') {
      // TLS 1.2 certificates are in clear: the lab server certificate, byte for byte.
      const cert = new X509Certificate(readFileSync(join(LAB!, 'tls', 'server.crt')));
      assert.equal(tls.certificates[0]?.sha256, cert.fingerprint256.replace(/:/g, '').toLowerCase());
      assert.equal(tls.certificates[0]?.subject.includes('mail.example-corp.com'), true);
    } else {
      assert.deepEqual(tls.certificates, [], 'TLS 1.3 certificates are encrypted');
    }
  });
}

function tls12(name: string): boolean {
  return name.includes('tls12');
}

/** IANA id of the suite names we use for TLS 1.2 in the lab (checked against tshark). */
function cipherId(name: string): number {
  const ids: Record<string, number> = { TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 0xc030, TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 0xc02f };
  return ids[name] ?? -1;
}
