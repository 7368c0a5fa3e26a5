/**
 * SASL exchanges from the shared corpus: the lab captures' ground truth (client transcripts and the
 * credentials the lab used) and the public captures' tshark TSVs (plus Arkime's expected user).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { SaslExchange } from './sasl-exchange.js';
import { sharedDir, SHARED_SKIP_REASON } from '../../../test/helpers/paths.js';

const skip = sharedDir === null ? { skip: SHARED_SKIP_REASON } : {};
const corpus = (...p: string[]): string => join(sharedDir ?? '', 'corpus', ...p);
const fromB64 = (s: string): string => Buffer.from(s, 'base64').toString('utf8');

type Line = [side: 'C' | 'S', text: string];

interface Replayed {
  mechanism: string;
  exchange: SaslExchange;
}

/**
 * Finds the SASL command in a client transcript and replays its steps, stripping the framing the
 * way a protocol analyzer would (SMTP "334 ", POP3/IMAP "+ ", IMAP tag, ManageSieve quoting).
 */
function replay(lines: Line[]): Replayed | null {
  for (let i = 0; i < lines.length; i++) {
    const [side, text] = lines[i]!;
    if (side !== 'C') continue;
    let m = /^(?:AUTH|[A-Za-z0-9.]+ AUTHENTICATE) (\S+)(?: (\S+))?$/i.exec(text);
    if (!m) m = /^AUTHENTICATE "([^"]+)"(?: "([^"]*)")?$/i.exec(text); // ManageSieve (RFC 5804)
    if (!m) continue;
    const mechanism = m[1]!;
    const x = new SaslExchange(mechanism, m[2] ?? null);
    for (let j = i + 1; j < lines.length; j++) {
      const [s, t] = lines[j]!;
      if (s === 'C') x.clientResponse(t);
      else if (/^334(?: |$)/.test(t)) x.serverChallenge(t.slice(4));
      else if (t === '+' || t.startsWith('+ ')) x.serverChallenge(t.slice(2));
      else if (t.startsWith('* ')) continue; // IMAP untagged data before the tagged result
      else break;
    }
    return { mechanism, exchange: x };
  }
  return null;
}

interface TruthAuth {
  mechanism: string;
  username: string;
  password: string;
  authzid?: string;
}

test('lab ground truth: every cleartext-transcript SASL login decodes to the lab credentials', skip, () => {
  const dir = corpus('lab');
  let checked = 0;
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.truth.json')).sort()) {
    const truth = JSON.parse(readFileSync(join(dir, f), 'utf8')) as { sessions?: { auth?: TruthAuth | null; client_transcript?: Line[] }[] };
    for (const s of truth.sessions ?? []) {
      if (!s.auth || !s.client_transcript) continue;
      const r = replay(s.client_transcript);
      if (r === null) continue; // e.g. IMAP LOGIN or POP3 USER/PASS: not SASL
      const res = r.exchange.result();
      const what = `${f} ${r.mechanism}`;
      assert.equal(res.username, s.auth.username, what);
      assert.equal(res.secret, s.auth.password, what);
      assert.equal(res.complete, true, what);
      assert.equal(res.cancelled, false, what);
      assert.deepEqual(res.anomalies, [], what);
      if (s.auth.authzid !== undefined) assert.equal(res.authzid, s.auth.authzid === '' ? null : s.auth.authzid, what);
      checked++;
    }
  }
  // smtp-plain-auth-login (LOGIN), backscatter x2 (POP3 PLAIN), imap-starttls-keylog (IMAP SASL-IR),
  // sieve-forward-rule (ManageSieve), smtp-auth-plain-pipelining and smtp-starttls-keylog (SMTP PLAIN).
  assert.ok(checked >= 7, `only ${checked} exchanges found`);
});

test('lab auth-bruteforce: every guessed password comes back out of an AUTH LOGIN exchange', skip, () => {
  const truth = JSON.parse(readFileSync(corpus('lab', 'auth-bruteforce.truth.json'), 'utf8')) as {
    sessions: { attempts?: { mechanism?: string; username: string; password: string }[] }[];
  };
  let n = 0;
  for (const a of truth.sessions.flatMap((s) => s.attempts ?? []).filter((a) => a.mechanism === 'LOGIN')) {
    const x = new SaslExchange('LOGIN');
    x.serverChallenge('VXNlcm5hbWU6');
    x.clientResponse(Buffer.from(a.username).toString('base64'));
    x.serverChallenge('UGFzc3dvcmQ6');
    x.clientResponse(Buffer.from(a.password).toString('base64'));
    assert.equal(x.result().username, a.username);
    assert.equal(x.result().secret, a.password);
    n++;
  }
  assert.ok(n >= 20);
});

function findFiles(dir: string, suffix: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) findFiles(p, suffix, out);
    else if (name.endsWith(suffix)) out.push(p);
  }
  return out;
}

test('public captures: SMTP AUTH as dissected by tshark (smtp.auth.username / smtp.auth.password)', skip, () => {
  let exchanges = 0;
  for (const file of findFiles(corpus('public'), '.tshark.smtp.tsv').sort()) {
    const rows = readFileSync(file, 'utf8').split('\n').slice(1).filter((l) => l.length > 0).map((l) => l.split('\t'));
    let x: SaslExchange | null = null;
    let wantUser: string | null = null;
    let wantPass: string | null = null;
    const finish = (): void => {
      if (x === null) return;
      const r = x.result();
      if (wantUser !== null) assert.equal(r.username, wantUser, file);
      if (wantPass !== null) assert.equal(r.secret, wantPass, file);
      exchanges++;
      x = null;
      wantUser = wantPass = null;
    };
    for (const [, , cmd, param, code, rsp, user, pass] of rows) {
      if (cmd === 'AUTH') {
        finish();
        const [mech, ir] = (param ?? '').split(' ');
        if (mech?.toUpperCase() !== 'LOGIN') continue; // PLAIN is checked against Arkime below
        x = new SaslExchange(mech, ir ?? null);
        continue;
      }
      if (x === null) continue;
      if (code === '334') x.serverChallenge(rsp ?? '');
      else if (user) {
        x.clientResponse(user);
        wantUser = fromB64(user);
      } else if (pass) {
        x.clientResponse(pass);
        wantPass = fromB64(pass);
      } else if (code) finish();
    }
    finish();
  }
  assert.ok(exchanges >= 8, `only ${exchanges} AUTH LOGIN exchanges`);
});

test('public captures: AUTH PLAIN initial responses match Arkime\'s expected user', skip, () => {
  const cases: [string, string][] = [['arkime/smtp-data-250.pcap', '12345678@aol.com']];
  for (const [cap, expectedUser] of cases) {
    const tsv = readFileSync(corpus('public', `${cap}.tshark.smtp.tsv`), 'utf8');
    const arkime = readFileSync(corpus('public', `${cap}.arkime-expected.test`), 'utf8');
    assert.ok(arkime.includes(`"${expectedUser}"`), 'Arkime expectation changed');
    const m = /\tAUTH\tPLAIN (\S+)/.exec(tsv);
    assert.ok(m);
    const r = new SaslExchange('PLAIN', m[1]!).result();
    assert.equal(r.username, expectedUser);
    assert.equal(r.complete, true);
    assert.equal(r.secret, 'passwd');
  }
});

test('public captures: POP3 AUTH XOAUTH2 (suricata-verify pop3-auth-01)', skip, () => {
  const rows = readFileSync(corpus('public', 'suricata-verify', 'pop3-auth-01', 'input.pcap.tshark.pop.tsv'), 'utf8')
    .split('\n').map((l) => l.split('\t'));
  const at = rows.findIndex((r) => r[2] === 'AUTH' && r[3] === 'XOAUTH2');
  assert.ok(at > 0);
  // tshark shows the SASL response as a (bogus) command on the next client row.
  const response = rows.slice(at + 1).find((r) => (r[2] ?? '').length > 0)![2]!;
  const x = new SaslExchange('XOAUTH2');
  x.serverChallenge('');
  x.clientResponse(response);
  const r = x.result();
  assert.equal(r.username, 'joe.speedboat');
  // Independent reading of the same bytes: Node's base64 decoder and the XOAUTH2 layout.
  const token = /auth=Bearer ([^\x01]+)\x01\x01$/.exec(Buffer.from(response, 'base64').toString('latin1'))![1];
  assert.equal(r.secret, token);
  assert.match(r.secret ?? '', /^A+$/);
  assert.equal(r.detail['auth_scheme'], 'Bearer');
  assert.equal(r.complete, true);
});
