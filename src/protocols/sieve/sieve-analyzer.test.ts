import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { SieveAnalyzer } from './sieve-analyzer.js';
import { SIEVE_ANOMALIES } from './anomaly-codes.js';
import { SIEVE_SPEC } from './sieve-spec.js';
import type { SieveSessionFacts } from './sieve-facts.js';
import { FakeContext, sha256 } from '../../../test/helpers/fake-context.js';
import type { FakeContextOptions } from '../../../test/helpers/fake-context.js';
import { CHUNKINGS, runDialogue } from '../../../test/helpers/chunkings.js';
import type { DialogueStep } from '../../../test/helpers/chunkings.js';
import { SHARED_SKIP_REASON, sharedDir } from '../../../test/helpers/paths.js';

// #region harness

/** Plays a dialogue under every chunking, asserts identical observable results, returns the whole-chunk run. */
function play(steps: readonly DialogueStep[], opts: FakeContextOptions = {}): { ctx: FakeContext; a: SieveAnalyzer; facts: SieveSessionFacts } {
  let ref: unknown;
  let out: { ctx: FakeContext; a: SieveAnalyzer } | null = null;
  for (const c of CHUNKINGS) {
    const ctx = new FakeContext(opts);
    const a = new SieveAnalyzer(ctx);
    runDialogue(a, steps, c.split);
    const snap = { s: ctx.snapshot(a), extras: ctx.extras.map((e) => ({ ...e.record, f: e.first.frame, l: e.last.frame })), art: ctx.artifacts.map((x) => x.sha256) };
    if (out === null) {
      ref = snap;
      out = { ctx, a };
    } else {
      assert.deepEqual(snap, ref, `chunking ${c.name} differs from whole`);
    }
  }
  const o = out!;
  const known = new Set(SIEVE_ANOMALIES.map((x) => x.code).concat(['line_too_long', 'reply_too_many_lines']));
  for (const code of o.ctx.anomalyCodes()) assert.ok(known.has(code) || code.startsWith('sasl_'), `uncatalogued anomaly ${code}`);
  return { ...o, facts: (o.a.summary().facts as { sieve: SieveSessionFacts }).sieve };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Rec = Record<string, any>;
const scripts = (ctx: FakeContext): Rec[] => ctx.extras.filter((e) => e.stream === 'sieve_scripts').map((e) => e.record as Rec);

const GREETING = '"IMPLEMENTATION" "Test Sieve"\r\n"SASL" "PLAIN LOGIN"\r\n"SIEVE" "fileinto vacation copy"\r\n"STARTTLS"\r\nOK "ready"\r\n';
const AUTH_OK: DialogueStep[] = [
  ['server', GREETING],
  ['client', 'AUTHENTICATE "PLAIN" "AGJvYgBUcjB1YjRkb3ImMw=="\r\n'],
  ['server', 'OK "Logged in."\r\n'],
];

// #endregion

// #region lab corpus

const LAB = sharedDir === null ? null : join(sharedDir, 'corpus', 'lab');
const skip = LAB === null || !existsSync(join(LAB, 'sieve-forward-rule.truth.json')) ? SHARED_SKIP_REASON : false;

test('lab sieve-forward-rule dialogue (from the truth transcript): script saved verbatim, redirect, credentials, active', { skip }, () => {
  const truth = JSON.parse(readFileSync(join(LAB!, 'sieve-forward-rule.truth.json'), 'utf8'));
  const script = readFileSync(join(LAB!, truth.script.file));
  const sess = truth.sessions[0];
  // Consecutive lines of one side become one write; the literal placeholder is the script itself.
  const steps: [('client' | 'server'), string][] = [];
  for (const [dir, line] of sess.client_transcript as [string, string][]) {
    const side = dir === 'S' ? 'server' : 'client';
    const text = /^<literal \d+ bytes>$/.test(line) ? script.toString('latin1').replace(/\r?\n$/, '') : line;
    const last = steps[steps.length - 1];
    if (last !== undefined && last[0] === side) last[1] += `${text}\r\n`;
    else steps.push([side, `${text}\r\n`]);
  }
  const { ctx, facts } = play(steps);
  assert.equal(sha256(script), truth.script.sha256);
  const recs = scripts(ctx);
  const put = recs.find((r) => r.command === 'PUTSCRIPT')!;
  assert.equal(put.name, truth.script.name);
  assert.equal(put.size, truth.script.size);
  assert.equal(put.sha256, truth.script.sha256);
  assert.equal(put.outcome, 'ok');
  assert.equal(put.reply, sess.replies.putscript);
  assert.equal(put.active, truth.script.active_on_server);
  assert.equal(put.username, sess.auth.username);
  assert.deepEqual(put.requires, ['copy']);
  const redirects = put.actions.filter((a: Rec) => a.action === 'redirect');
  assert.deepEqual(redirects.map((a: Rec) => [a.targets, a.copy]), [[[truth.script.redirect_target], true]]);
  // The bytes handed to saveArtifact are the script, byte for byte (PUTSCRIPT and GETSCRIPT).
  assert.equal(ctx.artifacts.length, 2);
  for (const a of ctx.artifacts) assert.ok(a.bytes.equals(script));
  const get = recs.find((r) => r.command === 'GETSCRIPT')!;
  assert.equal(get.sha256, truth.script.sha256);
  assert.equal(get.outcome, 'ok');
  // Credentials.
  assert.equal(ctx.credentials.length, 1);
  const c = ctx.credentials[0].entry;
  assert.deepEqual([c.mechanism, c.username, c.secret, c.outcome, c.reply], [sess.auth.mechanism, sess.auth.username, sess.auth.password, 'success', sess.auth.reply]);
  // Transcript: every command, one reply per command plus the greeting, the literal as data.
  assert.deepEqual(ctx.entries('command').map((e) => e.lines[0]), sess.commands);
  assert.equal(ctx.entries('reply').length, sess.commands.length + 1);
  assert.deepEqual(ctx.entries('data').map((e) => e.bytes), [truth.script.size, truth.script.size]);
  assert.deepEqual(ctx.entries('reply')[0].lines, sess.greeting);
  // Facts.
  assert.equal(facts.implementation, 'Dovecot (Debian) Pigeonhole');
  assert.deepEqual(facts.sasl_mechanisms, ['PLAIN', 'LOGIN', 'CRAM-MD5']);
  assert.ok(facts.sieve_extensions.includes('copy'));
  assert.equal(facts.starttls.offered, true);
  assert.equal(facts.active_script, truth.script.name);
  assert.deepEqual(facts.listed_scripts, [{ name: 'roundcube', active: true }]);
  assert.equal(facts.username, 'bob');
  assert.equal(facts.logout, true);
  assert.deepEqual(ctx.anomalies, []);
});

// #endregion

test('AUTHENTICATE "LOGIN" with quoted challenges and a literal response; failed attempt first', () => {
  const { ctx, facts } = play([
    ['server', GREETING],
    ['client', 'AUTHENTICATE "PLAIN" "AGJvYgB3cm9uZw=="\r\n'],
    ['server', 'NO "Authentication failed."\r\n'],
    ['client', 'AUTHENTICATE "LOGIN"\r\n'],
    ['server', '"VXNlcm5hbWU6"\r\n'],
    ['client', '"Ym9i"\r\n'],
    ['server', '{12}\r\nUGFzc3dvcmQ6\r\n'],
    ['client', '{16+}\r\nVHIwdWI0ZG9yJjM=\r\n'],
    ['server', 'OK "Logged in."\r\n'],
    ['client', 'LOGOUT\r\n'],
    ['server', 'OK "bye"\r\n'],
  ]);
  const creds = ctx.credentials.map((c) => [c.entry.mechanism, c.entry.username, c.entry.secret, c.entry.outcome]);
  assert.deepEqual(creds, [
    ['PLAIN', 'bob', 'wrong', 'failure'],
    ['LOGIN', 'bob', 'Tr0ub4dor&3', 'success'],
  ]);
  assert.equal(ctx.entries('auth').length, 4);
  assert.deepEqual(facts.auth.map((a) => a.outcome), ['failure', 'success']);
  assert.equal(facts.username, 'bob');
});

test('PUTSCRIPT refused, CHECKSCRIPT, SETACTIVE of another script, RENAMESCRIPT, DELETESCRIPT', () => {
  const bad = 'redirect "x@evil.example"\r\n';
  // A quoted string cannot hold CRLF (RFC 5804 §4): one-line script.
  const good = 'require "fileinto"; if header :contains "subject" "invoice" { fileinto "Inv"; }';
  const { ctx, facts } = play([
    ...AUTH_OK,
    ['client', `CHECKSCRIPT {${bad.length}+}\r\n${bad}\r\n`],
    ['server', 'NO "line 2: error: expected ;"\r\n'],
    ['client', `PUTSCRIPT "bad" {${bad.length}+}\r\n${bad}\r\n`],
    ['server', 'NO (QUOTA/MAXSCRIPTS) "Too many scripts"\r\n'],
    ['client', `PUTSCRIPT "good" "${good.replace(/"/g, '\\"')}"\r\n`],
    ['server', 'OK (WARNINGS) "line 1: warning"\r\n'],
    ['client', 'SETACTIVE "other"\r\n'],
    ['server', 'OK\r\n'],
    ['client', 'RENAMESCRIPT "good" "better"\r\n'],
    ['server', 'OK\r\n'],
    ['client', 'DELETESCRIPT "old"\r\n'],
    ['server', 'NO (ACTIVE) "is active"\r\n'],
    ['client', 'XYZZY\r\n'],
    ['server', 'NO "unknown"\r\n'],
  ]);
  const recs = scripts(ctx);
  assert.deepEqual(recs.map((r) => [r.command, r.name, r.outcome, r.active]), [
    ['CHECKSCRIPT', null, 'no', null],
    ['PUTSCRIPT', 'bad', 'no', false],
    ['PUTSCRIPT', 'good', 'ok', false],
  ]);
  assert.equal(recs[1].reply, 'NO (QUOTA/MAXSCRIPTS) "Too many scripts"');
  assert.ok(recs[0].parse_issues.length > 0, 'missing ";" is reported');
  assert.deepEqual(recs[2].actions, [{ action: 'fileinto', line: 1, condition: 'header :contains "subject" "invoice"', folder: 'Inv', copy: false, create: false }]);
  assert.ok(ctx.artifacts.some((a) => a.bytes.toString('latin1') === good), 'quoted-string script unescaped');
  assert.equal(facts.active_script, 'other');
  assert.deepEqual(facts.renamed_scripts.map((r) => [r.from, r.to, r.outcome]), [['good', 'better', 'ok']]);
  assert.deepEqual(facts.deleted_scripts.map((r) => [r.name, r.outcome]), [['old', 'no']]);
  assert.deepEqual(facts.unknown_commands, ['XYZZY']);
  assert.ok(ctx.anomalyCodes().includes('sieve_unknown_command'));
  assert.ok(ctx.anomalyCodes().includes('sieve_script_parse_issues'));
});

test('SETACTIVE after PUTSCRIPT makes it active; no evidence leaves active null', () => {
  const s = 'keep;\r\n';
  const one = play([...AUTH_OK, ['client', `PUTSCRIPT "a" {${s.length}+}\r\n${s}\r\n`], ['server', 'OK\r\n'], ['client', 'SETACTIVE "a"\r\n'], ['server', 'OK\r\n']]);
  assert.equal(scripts(one.ctx)[0].active, true);
  const two = play([...AUTH_OK, ['client', `PUTSCRIPT "a" {${s.length}+}\r\n${s}\r\n`], ['server', 'OK\r\n']]);
  assert.equal(scripts(two.ctx)[0].active, null);
  assert.equal(two.facts.active_script, null);
});

test('STARTTLS: tls entry, encrypted from the OK, bytes counted, transport starttls', () => {
  const { ctx, a, facts } = play([
    ['server', GREETING],
    ['client', 'STARTTLS\r\n'],
    ['server', 'OK "Begin TLS negotiation now."\r\n'],
    ['client', Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5])],
    ['server', Buffer.from([0x16, 0x03, 0x03, 0x00, 0x02, 9, 9])],
  ]);
  assert.equal(ctx.entries('tls').length, 1);
  assert.equal(ctx.encryptedAt?.frame, 4);
  assert.equal(a.summary().transport, 'starttls');
  assert.deepEqual(facts.encrypted_bytes, { client: 10, server: 7 });
  assert.deepEqual(ctx.anomalies, []);
});

test('gap inside a PUTSCRIPT literal: partial script saved, missing bytes, anomaly; parsing resumes', () => {
  const s = 'redirect "a@b.example";\r\n'; // 25 bytes
  const { ctx } = play([
    ...AUTH_OK,
    ['client', `PUTSCRIPT "x" {${s.length + 10}+}\r\n${s}`],
    ['gap', 'client', 10],
    ['client', '\r\n'],
    ['server', 'OK\r\n'],
    ['client', 'LOGOUT\r\n'],
    ['server', 'OK\r\n'],
  ]);
  const r = scripts(ctx)[0];
  assert.equal(r.partial, true);
  assert.equal(r.missing_bytes, 10);
  assert.equal(r.size, s.length + 10);
  assert.deepEqual(r.actions[0].targets, ['a@b.example']);
  assert.ok(ctx.anomalyCodes().includes('sieve_script_gap'));
  assert.equal(ctx.entries('command').at(-1)?.command, 'LOGOUT');
});

test('connection ends inside a PUTSCRIPT literal: partial record with outcome unknown', () => {
  const { ctx } = play([...AUTH_OK, ['client', 'PUTSCRIPT "x" {100+}\r\nredirect "a@b.example";']]);
  const r = scripts(ctx)[0];
  assert.equal(r.outcome, 'unknown');
  assert.equal(r.partial, true);
  assert.equal(r.missing_bytes, 100 - 'redirect "a@b.example";'.length);
  assert.deepEqual(r.actions[0].targets, ['a@b.example']);
});

test('midstream capture: unparsed bytes until a command line, then normal parsing', () => {
  const { ctx } = play(
    [
      ['client', 'ect "x@y";\r\n}\r\n'],
      ['server', '"roundcube" ACTIVE\r\nOK "Listscripts completed."\r\n'],
      ['client', 'GETSCRIPT "a"\r\n'],
      ['server', '{5}\r\nkeep;\r\nOK\r\n'],
    ],
    { sawHandshake: false },
  );
  assert.ok(ctx.anomalyCodes().includes('sieve_midstream'));
  assert.deepEqual(scripts(ctx).map((r) => [r.command, r.name, r.outcome]), [['GETSCRIPT', 'a', 'ok']]);
});

test('hostile input never throws and stays bounded', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.constantFrom<'client' | 'server'>('client', 'server'), fc.oneof(fc.uint8Array({ maxLength: 80 }), fc.constantFrom('{5+}\r\n', '{3}\r\n', 'OK\r\n', 'NO "x"\r\n', '"a" ACTIVE\r\n', 'PUTSCRIPT "a" {4+}\r\n', 'AUTHENTICATE "LOGIN"\r\n', '"YQ=="\r\n', 'STARTTLS\r\n', '{99999999999999999}\r\n').map((s) => Buffer.from(s, 'latin1')))), { maxLength: 30 }),
      (steps) => {
        const ctx = new FakeContext();
        const a = new SieveAnalyzer(ctx);
        runDialogue(a, steps as DialogueStep[]);
        a.summary();
      },
    ),
    { numRuns: 300 },
  );
});

test('sniff: ManageSieve greeting yes; SMTP/IMAP/POP3 greetings no', () => {
  const b = (s: string) => Buffer.from(s, 'latin1');
  assert.equal(SIEVE_SPEC.sniff(b(''), b('"IMPLEMENTATION" "Dovecot Pigeonhole"\r\n')), 'yes');
  assert.equal(SIEVE_SPEC.sniff(b(''), b('"SIEVE" "fileinto"\r\n')), 'yes');
  assert.equal(SIEVE_SPEC.sniff(b(''), b('"IMPL')), 'maybe');
  assert.equal(SIEVE_SPEC.sniff(b(''), b('220 mx ESMTP\r\n')), 'no');
  assert.equal(SIEVE_SPEC.sniff(b(''), b('* OK IMAP4rev1\r\n')), 'no');
  assert.equal(SIEVE_SPEC.sniff(b(''), b('+OK POP3\r\n')), 'no');
  assert.equal(SIEVE_SPEC.sniff(b('PUTSCRIPT "x" {5+}\r\n'), b('')), 'yes');
  assert.equal(SIEVE_SPEC.sniff(b('EHLO x\r\n'), b('')), 'no');
  assert.deepEqual(SIEVE_SPEC.ports, [4190]);
});
