import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import type { At } from '../../core/types.js';
import type { SmtpSessionFacts } from '../../core/records.js';
import type { AnalyzerContext, MessageSink } from '../analyzer.js';
import { resolveLimits } from '../../core/limits.js';
import { SmtpAnalyzer } from './smtp-analyzer.js';
import { SMTP_ANOMALIES } from './anomaly-codes.js';
import { FakeContext, messageBytes, sha256 } from '../../../test/helpers/fake-context.js';
import type { FakeContextOptions } from '../../../test/helpers/fake-context.js';
import { CHUNKINGS, runDialogue } from '../../../test/helpers/chunkings.js';
import type { DialogueStep } from '../../../test/helpers/chunkings.js';
import { SHARED_SKIP_REASON, sharedDir } from '../../../test/helpers/paths.js';

// #region harness

/**
 * Plays the dialogue under every chunking (whole, byte by byte, random splits), asserts the
 * observable results are identical, and returns the whole-chunk run for further checks.
 */
function play(steps: readonly DialogueStep[], opts: FakeContextOptions = {}): { ctx: FakeContext; a: SmtpAnalyzer; facts: SmtpSessionFacts } {
  let ref: unknown;
  let out: { ctx: FakeContext; a: SmtpAnalyzer } | null = null;
  for (const c of CHUNKINGS) {
    const ctx = new FakeContext(opts);
    const a = new SmtpAnalyzer(ctx);
    runDialogue(a, steps, c.split);
    const snap = ctx.snapshot(a);
    if (out === null) {
      ref = snap;
      out = { ctx, a };
    } else {
      assert.deepEqual(snap, ref, `chunking ${c.name} differs from whole`);
    }
  }
  const o = out!;
  for (const m of o.ctx.messages) assert.deepEqual(m.violations, [], `sink contract (${m.id})`);
  // Every anomaly code raised is in a catalog (ours, the framer's, or the SASL module's).
  const known = new Set(SMTP_ANOMALIES.map((x) => x.code).concat(['line_too_long']));
  for (const code of o.ctx.anomalyCodes()) assert.ok(known.has(code) || code.startsWith('sasl_'), `uncatalogued anomaly ${code}`);
  return { ...o, facts: (o.a.summary().facts as { smtp: SmtpSessionFacts }).smtp };
}

/** RFC 5321 §4.5.2 transparency as a client applies it, plus the terminator. */
function stuff(message: Buffer | string): string {
  const s = typeof message === 'string' ? message : message.toString('latin1');
  return s.replace(/(^|\r\n)\./g, '$1..') + '.\r\n';
}

function commands(ctx: FakeContext): string[] {
  return ctx.entries('command').map((e) => e.lines[0]);
}

const EHLO_REPLY = '250-mx.example\r\n250-PIPELINING\r\n250-CHUNKING\r\n250-BINARYMIME\r\n250-STARTTLS\r\n250 AUTH PLAIN LOGIN CRAM-MD5\r\n';

// #endregion

// #region corpus (real sessions from the mail lab)

const LAB = sharedDir === null ? null : join(sharedDir, 'corpus', 'lab');
const skip = LAB === null || !existsSync(join(LAB, 'smtp-plain-auth-login.truth.json')) ? SHARED_SKIP_REASON : false;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Truth = any;

function truth(name: string): Truth {
  return JSON.parse(readFileSync(join(LAB!, `${name}.truth.json`), 'utf8'));
}

function eml(file: string): Buffer {
  return readFileSync(join(LAB!, file));
}

/**
 * Turns a truth `client_transcript` ([S|C, line]) into dialogue steps: consecutive lines of one
 * side become one TCP write; the DATA body (listed line by line, or as a "<message data ...>"
 * placeholder) is replaced by the exact .eml, dot-stuffed, with its terminator.
 */
function fromTranscript(tr: [string, string][], emls: Buffer[]): DialogueStep[] {
  const steps: DialogueStep[] = [];
  let m = 0;
  let inBody = false;
  let lastCommand = '';
  const add = (side: 'client' | 'server', data: string): void => {
    const last = steps[steps.length - 1];
    if (last !== undefined && last[0] === side) steps[steps.length - 1] = [side, (last[1] as string) + data];
    else steps.push([side, data]);
  };
  for (const [s, line] of tr) {
    if (s === 'S') {
      if (lastCommand === 'DATA' && line.startsWith('354')) inBody = true;
      add('server', `${line}\r\n`);
      continue;
    }
    if (inBody) {
      if (line === '.' || line.startsWith('<message data')) {
        const wire = stuff(emls[m++]);
        const declared = /<message data (\d+) bytes/.exec(line);
        if (declared) assert.equal(wire.length - 3, Number(declared[1]), 'stuffing matches the wire size in the truth');
        add('client', wire);
        inBody = false;
      }
      continue;
    }
    lastCommand = line.toUpperCase();
    add('client', `${line}\r\n`);
  }
  assert.equal(m, emls.length, 'every .eml was used');
  return steps;
}

test('corpus smtp-plain-auth-login: AUTH LOGIN, multipart message byte-exact', { skip }, () => {
  const t = truth('smtp-plain-auth-login');
  const s = t.sessions[0];
  const tx = s.transactions[0];
  const { ctx, facts, a } = play(fromTranscript(s.client_transcript, [eml(tx.message.eml_file)]));
  assert.deepEqual(commands(ctx), s.commands);
  assert.equal(facts.helo, s.ehlo);
  assert.equal(facts.helo_command, 'EHLO');
  assert.equal(facts.starttls.offered, true);
  assert.equal(facts.starttls.requested, false);
  assert.equal(ctx.credentials.length, 1);
  const cred = ctx.credentials[0].entry;
  assert.equal(cred.mechanism, s.auth.mechanism);
  assert.equal(cred.username, s.auth.username);
  assert.equal(cred.secret, s.auth.password);
  assert.equal(cred.outcome, 'success');
  assert.equal(cred.reply, '235 2.7.0 Authentication successful');
  // SASL lines: two client responses (kind auth) and two 334 challenges (replies).
  assert.deepEqual(ctx.entries('auth').map((e) => e.lines[0]), [s.auth.base64_username, s.auth.base64_password]);
  assert.equal(ctx.entries('reply').filter((e) => e.code === 334).length, 2);
  assert.equal(ctx.messages.length, 1);
  const m = ctx.messages[0];
  assert.equal(messageBytes(m).length, tx.message.size);
  assert.equal(sha256(messageBytes(m)), tx.message.sha256);
  assert.deepEqual(m.open.envelope, { mail_from: tx.mail_from, rcpt_to: tx.rcpt_to.map((r: Truth) => r.addr) });
  assert.equal(m.closed?.delivery.queue_id, tx.queue_ids[0]);
  assert.equal(m.closed?.delivery.final_reply_code, 250);
  assert.ok(m.writeCalls <= 3, `body written in large runs (${m.writeCalls} writes)`);
  const rec = facts.transactions[0];
  assert.deepEqual(rec.rcpt_to.map((r) => [r.address, r.reply_code]), tx.rcpt_to.map((r: Truth) => [r.addr, r.reply]));
  assert.equal(rec.outcome, 'accepted');
  assert.equal(rec.queue_id, tx.queue_ids[0]);
  assert.equal(rec.message_id, m.id);
  assert.equal(facts.quit, true);
  assert.deepEqual(ctx.anomalies, []);
  assert.equal(a.summary().transport, 'cleartext');
});

test('corpus smtp-auth-plain-pipelining: AUTH PLAIN initial response, two pipelined transactions', { skip }, () => {
  const t = truth('smtp-auth-plain-pipelining');
  const s = t.sessions[0];
  const emls = s.transactions.map((x: Truth) => eml(x.message.eml_file));
  const { ctx, facts } = play(fromTranscript(s.client_transcript, emls));
  assert.equal(facts.banner, s.banner[0].slice(4));
  assert.deepEqual(facts.capabilities, s.ehlo_reply.slice(1).map((l: string) => l.slice(4)));
  const cred = ctx.credentials[0].entry;
  assert.deepEqual([cred.mechanism, cred.username, cred.secret, cred.outcome], ['PLAIN', 'bob', 'Tr0ub4dor&3', 'success']);
  assert.equal(ctx.messages.length, 2);
  s.transactions.forEach((tx: Truth, i: number) => {
    const m = ctx.messages[i];
    assert.equal(sha256(messageBytes(m)), tx.message.sha256, `message ${i + 1}`);
    assert.equal(m.closed?.delivery.queue_id, tx.queue_ids[0]);
    assert.equal(m.closed?.delivery.final_reply_text, tx.end_of_data_reply[0].slice(4));
    // The envelope holds only the recipients the server accepted.
    assert.deepEqual(m.open.envelope?.rcpt_to, tx.rcpt_to.filter((r: Truth) => r.reply === 250).map((r: Truth) => r.addr));
    const rec = facts.transactions[i];
    assert.deepEqual(
      rec.rcpt_to.map((r) => [r.address, r.reply_code, `${r.reply_code} ${r.reply_text}`]),
      tx.rcpt_to.map((r: Truth) => [r.addr, r.reply, r.reply_text[0]]),
    );
    assert.equal(rec.mail_reply_code, 250);
    assert.equal(rec.data_reply_code, 354);
  });
  assert.deepEqual(ctx.anomalies, []);
});

test('corpus vrfy-expn-enum: VRFY/EXPN/RCPT probing then RSET (replies from the truth)', { skip }, () => {
  const s = truth('vrfy-expn-enum').sessions[0];
  const r = s.results;
  const steps: DialogueStep[] = [['server', '220 mail.example-corp.com ESMTP Postfix (Debian/GNU)\r\n']];
  let vi = 0;
  let ei = 0;
  let ri = 0;
  for (const c of s.commands as string[]) {
    steps.push(['client', `${c}\r\n`]);
    const verb = c.split(' ')[0].toUpperCase();
    const reply =
      verb === 'EHLO' ? EHLO_REPLY
      : verb === 'VRFY' ? `${r.vrfy[vi].reply} ${r.vrfy[vi++].text}\r\n`
      : verb === 'EXPN' ? `${r.expn[ei].reply} ${r.expn[ei++].text}\r\n`
      : verb === 'RCPT' ? `${r.rcpt[ri].reply} ${r.rcpt[ri++].text}\r\n`
      : verb === 'MAIL' ? '250 2.1.0 Ok\r\n'
      : verb === 'RSET' ? '250 2.0.0 Ok\r\n'
      : '221 2.0.0 Bye\r\n';
    steps.push(['server', reply]);
  }
  const { ctx, facts } = play(steps);
  assert.deepEqual(commands(ctx), s.commands);
  assert.equal(facts.helo, s.ehlo);
  assert.deepEqual(facts.vrfy, r.vrfy.map((v: Truth) => ({ argument: v.arg, reply_code: v.reply })));
  assert.deepEqual(facts.expn, r.expn.map((v: Truth) => ({ argument: v.arg, reply_code: v.reply })));
  assert.equal(facts.transactions.length, 1);
  const tx = facts.transactions[0];
  assert.equal(tx.mail_from, s.mail_from);
  assert.deepEqual(tx.rcpt_to.map((x) => [x.address, x.reply_code, x.accepted]), r.rcpt.map((x: Truth) => [x.addr, x.reply, x.reply === 250]));
  assert.equal(tx.outcome, 'reset');
  assert.equal(ctx.messages.length, 0);
});

test('corpus bec-lookalike: lower-case smtplib commands, SIZE param, 820 wire bytes', { skip }, () => {
  const t = truth('bec-lookalike');
  const s = t.sessions[0];
  const tx = s.transactions[0];
  const body = eml(tx.message.eml_file);
  const steps: DialogueStep[] = [['server', '220 mail.example-corp.com ESMTP Postfix (Debian/GNU)\r\n']];
  for (const c of s.commands as string[]) {
    if (c.startsWith('<data')) {
      steps.push(['client', stuff(body)]);
      steps.push(['server', '250 2.0.0 Ok: queued as 4F1C2168233\r\n']);
      continue;
    }
    steps.push(['client', `${c}\r\n`]);
    const verb = c.split(' ')[0].toUpperCase();
    steps.push(['server', verb === 'EHLO' ? EHLO_REPLY : verb === 'DATA' ? '354 End data with <CR><LF>.<CR><LF>\r\n' : verb === 'QUIT' ? '221 2.0.0 Bye\r\n' : '250 2.1.0 Ok\r\n']);
  }
  const { ctx, facts } = play(steps);
  const data = ctx.entries('data');
  assert.equal(data.length, 1);
  assert.equal(`<data ${data[0].bytes} bytes>`, s.commands.find((c: string) => c.startsWith('<data')));
  assert.equal(sha256(messageBytes(ctx.messages[0])), tx.message.sha256);
  assert.equal(facts.helo, s.ehlo);
  assert.equal(facts.transactions[0].mail_from, tx.mail_from);
  assert.equal(facts.transactions[0].mail_params, 'size=817');
  assert.equal(facts.transactions[0].queue_id, '4F1C2168233');
  assert.deepEqual(ctx.messages[0].open.envelope, { mail_from: t.envelope_from, rcpt_to: ['alice@example-corp.com'] });
  assert.equal(ctx.credentials.length, 0);
});

test('corpus backscatter leg 1: spoofed sender accepted, queue id', { skip }, () => {
  const s = truth('backscatter').sessions[0];
  const tx = s.transactions[0];
  const { ctx, facts } = play(fromTranscript(s.client_transcript, [eml(tx.message.eml_file)]));
  assert.deepEqual(commands(ctx), s.commands);
  assert.equal(sha256(messageBytes(ctx.messages[0])), tx.message.sha256);
  assert.equal(facts.transactions[0].queue_id, tx.queue_ids[0]);
  assert.equal(facts.transactions[0].mail_from, tx.mail_from);
  assert.equal(facts.transactions[0].rcpt_to[0].address, tx.rcpt_to[0].addr);
});

test('corpus auth-bruteforce: 21 AUTH LOGIN sessions, outcomes from the replies', { skip }, () => {
  const s = truth('auth-bruteforce').sessions.find((x: Truth) => x.protocol === 'smtp');
  const b64 = (x: string): string => Buffer.from(x).toString('base64');
  for (const at of s.attempts as Truth[]) {
    const { ctx, facts } = play([
      ['server', '220 mail.example-corp.com ESMTP Postfix (Debian/GNU)\r\n'],
      ['client', 'EHLO kali\r\n'],
      ['server', EHLO_REPLY],
      ['client', 'AUTH LOGIN\r\n'],
      ['server', '334 VXNlcm5hbWU6\r\n'],
      ['client', `${b64(at.username)}\r\n`],
      ['server', '334 UGFzc3dvcmQ6\r\n'],
      ['client', `${b64(at.password)}\r\n`],
      ['server', `${at.reply}\r\n`],
      ['client', 'QUIT\r\n'],
      ['server', '221 2.0.0 Bye\r\n'],
    ]);
    const c = ctx.credentials[0].entry;
    assert.deepEqual([c.username, c.secret, c.outcome], [at.username, at.password, at.success ? 'success' : 'failure'], `attempt ${at.n}`);
    assert.equal(c.reply, at.reply);
    assert.equal(facts.auth[0].outcome, at.success ? 'success' : 'failure');
  }
});

// #endregion

// #region synthetic scenarios

const GREET: DialogueStep = ['server', '220 mx.example ESMTP\r\n'];

test('pipelining: MAIL+RCPT+RCPT+DATA in one write, replies in one write, QUIT pipelined after the dot', () => {
  const body = 'Subject: hi\r\n\r\n.leading dot\r\n.\r\n...\r\nend\r\n';
  const { ctx, facts } = play([
    GREET,
    ['client', 'EHLO client.example\r\n'],
    ['server', EHLO_REPLY],
    ['client', 'MAIL FROM:<a@x.example> BODY=8BITMIME\r\nRCPT TO:<b@y.example> NOTIFY=NEVER\r\nRCPT TO:<c@y.example>\r\nDATA\r\n'],
    ['server', '250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n450 4.2.0 <c@y.example>: greylisted\r\n354 go\r\n'],
    ['client', `${stuff(body)}QUIT\r\n`],
    ['server', '250 2.0.0 Ok: queued as 9A8B7C\r\n221 2.0.0 Bye\r\n'],
  ]);
  const m = ctx.messages[0];
  assert.equal(messageBytes(m).toString('latin1'), body);
  assert.deepEqual(m.open.envelope, { mail_from: 'a@x.example', rcpt_to: ['b@y.example'] });
  assert.equal(m.closed?.delivery.queue_id, '9A8B7C');
  assert.equal(m.closed?.delivery.body_type, '8BITMIME');
  assert.deepEqual(commands(ctx).at(-1), 'QUIT');
  const tx = facts.transactions[0];
  assert.deepEqual(tx.rcpt_to.map((r) => [r.reply_code, r.accepted, r.params]), [[250, true, 'NOTIFY=NEVER'], [450, false, null]]);
  assert.equal(ctx.entries('reply').at(-1)?.code, 221);
  assert.deepEqual(ctx.anomalies, []);
  // The data entry counts wire bytes (stuffing and terminator included).
  assert.equal(ctx.entries('data')[0].bytes, stuff(body).length);
});

test('DATA body sent before the 354 (client does not wait): message opened on the first body byte', () => {
  const { ctx } = play([
    GREET,
    ['client', 'HELO h\r\n'],
    ['server', '250 mx\r\n'],
    ['client', 'MAIL FROM:<>\r\nRCPT TO:<b@y>\r\nDATA\r\nSubject: x\r\n\r\nbody\r\n.\r\n'],
    ['server', '250 ok\r\n250 ok\r\n354 go\r\n250 ok queued\r\n'],
  ]);
  const m = ctx.messages[0];
  assert.equal(messageBytes(m).toString(), 'Subject: x\r\n\r\nbody\r\n');
  assert.equal(m.open.envelope?.mail_from, '');
  assert.deepEqual(m.open.envelope?.rcpt_to, ['b@y']);
  assert.equal(m.closed?.delivery.final_reply_code, 250);
  assert.equal(m.closed?.delivery.queue_id, null);
  assert.equal(m.closed?.delivery.final_reply_text, 'ok queued');
});

test('DATA refused with 554 when no recipient was accepted: no message, transaction rejected', () => {
  const { ctx, facts } = play([
    GREET,
    ['client', 'EHLO h\r\nMAIL FROM:<a@x>\r\nRCPT TO:<nobody@y>\r\nDATA\r\n'],
    ['server', `${EHLO_REPLY}250 ok\r\n550 5.1.1 unknown\r\n554 5.5.1 Error: no valid recipients\r\n`],
    ['client', 'RSET\r\nQUIT\r\n'],
    ['server', '250 ok\r\n221 bye\r\n'],
  ]);
  assert.equal(ctx.messages.length, 0);
  assert.equal(facts.transactions[0].outcome, 'rejected');
  assert.equal(facts.transactions[0].data_reply_code, 554);
  assert.deepEqual(commands(ctx), ['EHLO h', 'MAIL FROM:<a@x>', 'RCPT TO:<nobody@y>', 'DATA', 'RSET', 'QUIT']);
  assert.deepEqual(ctx.anomalies, []);
});

test('BDAT: BINARYMIME, two pipelined chunks joined, LAST, chunk sizes recorded', () => {
  const c1 = Buffer.from('Subject: b\r\n\r\n\x00\x01\r\n.\r\n', 'latin1');
  const c2 = Buffer.from('\xff\xfe tail', 'latin1');
  const { ctx, facts } = play([
    GREET,
    ['client', 'EHLO h\r\n'],
    ['server', EHLO_REPLY],
    ['client', Buffer.concat([
      Buffer.from(`MAIL FROM:<a@x> BODY=BINARYMIME\r\nRCPT TO:<b@y>\r\nBDAT ${c1.length}\r\n`),
      c1,
      Buffer.from(`BDAT ${c2.length} LAST\r\n`),
      c2,
      Buffer.from('QUIT\r\n'),
    ])],
    ['server', '250 ok\r\n250 ok\r\n250 2.0.0 chunk ok\r\n250 2.0.0 Ok: queued as BD1\r\n221 bye\r\n'],
  ]);
  const m = ctx.messages[0];
  assert.equal(m.open.transport, 'smtp-bdat');
  assert.deepEqual(messageBytes(m), Buffer.concat([c1, c2]));
  assert.equal(m.ended?.complete, true);
  assert.deepEqual(m.closed?.delivery.bdat_chunks, [String(c1.length), String(c2.length)]);
  assert.equal(m.closed?.delivery.body_type, 'BINARYMIME');
  assert.equal(m.closed?.delivery.queue_id, 'BD1');
  const tx = facts.transactions[0];
  assert.deepEqual(tx.bdat_chunks, [c1.length, c2.length]);
  assert.equal(tx.body_command, 'BDAT');
  assert.equal(tx.outcome, 'accepted');
  assert.deepEqual(ctx.entries('data').map((e) => [e.command, e.bytes]), [['BDAT', c1.length], ['BDAT', c2.length]]);
  assert.equal(commands(ctx).at(-1), 'QUIT');
  assert.equal(ctx.entries('reply').at(-1)?.code, 221);
});

test('BDAT without LAST then RSET: message closed partial, transaction reset; BDAT 0 LAST works', () => {
  const { ctx, facts } = play([
    GREET,
    ['client', 'EHLO h\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nBDAT 4\r\nabcdRSET\r\n'],
    ['server', `${EHLO_REPLY}250 ok\r\n250 ok\r\n250 ok\r\n250 reset\r\n`],
    ['client', 'MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nBDAT 3\r\nxyzBDAT 0 LAST\r\n'],
    ['server', '250 ok\r\n250 ok\r\n250 ok\r\n250 queued as Q2\r\n'],
  ]);
  assert.equal(ctx.messages.length, 2);
  assert.equal(messageBytes(ctx.messages[0]).toString(), 'abcd');
  assert.equal(ctx.messages[0].ended?.complete, false);
  assert.equal(facts.transactions[0].outcome, 'reset');
  assert.equal(messageBytes(ctx.messages[1]).toString(), 'xyz');
  assert.equal(ctx.messages[1].ended?.complete, true);
  assert.equal(facts.transactions[1].queue_id, 'Q2');
});

test('STARTTLS accepted: tls entry, markEncrypted, the rest counted not parsed', () => {
  const hello = Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5, 0x0d, 0x0a]);
  const { ctx, facts, a } = play([
    GREET,
    ['client', 'EHLO h\r\n'],
    ['server', EHLO_REPLY],
    ['client', 'STARTTLS\r\n'],
    ['server', '220 2.0.0 Ready to start TLS\r\n'],
    ['client', hello],
    ['server', hello],
    ['client', 'EHLO not-parsed\r\n'],
  ]);
  assert.equal(ctx.encryptedAt?.frame, 6);
  assert.equal(ctx.cleartext, false);
  assert.deepEqual(facts.starttls, { offered: true, requested: true, accepted: true, frame: 6 });
  assert.equal(facts.encrypted_from_frame, 6);
  assert.deepEqual(facts.encrypted_bytes, { client: hello.length + 17, server: hello.length });
  assert.equal(ctx.transcripts.at(-1)?.entry.kind, 'tls');
  assert.deepEqual(commands(ctx), ['EHLO h', 'STARTTLS']);
  assert.equal(a.summary().transport, 'starttls');
  assert.deepEqual(ctx.anomalies, []);
});

test('STARTTLS command injection (commands after STARTTLS before the 220) is flagged', () => {
  const { ctx } = play([
    GREET,
    ['client', 'EHLO h\r\n'],
    ['server', EHLO_REPLY],
    ['client', 'STARTTLS\r\nMAIL FROM:<evil@x>\r\n'],
    ['server', '220 go ahead\r\n250 injected\r\n'],
  ]);
  // Once for the client's cleartext command, once for the server bytes after its 220.
  assert.deepEqual(ctx.anomalyCodes(), ['smtp_starttls_injection', 'smtp_starttls_injection']);
  assert.deepEqual(commands(ctx), ['EHLO h', 'STARTTLS', 'MAIL FROM:<evil@x>']);
});

test('STARTTLS refused (454): the session stays cleartext and parsed', () => {
  const { ctx, facts, a } = play([
    GREET,
    ['client', 'EHLO h\r\nSTARTTLS\r\n'],
    ['server', `${EHLO_REPLY}454 4.7.0 TLS not available\r\n`],
    ['client', 'QUIT\r\n'],
    ['server', '221 bye\r\n'],
  ]);
  assert.deepEqual(facts.starttls, { offered: true, requested: true, accepted: false, frame: null });
  assert.equal(ctx.encryptedAt, null);
  assert.equal(a.summary().transport, 'cleartext');
  assert.deepEqual(commands(ctx), ['EHLO h', 'STARTTLS', 'QUIT']);
});

test('AUTH: LOGIN failure, CRAM-MD5 success (hashcat line), PLAIN cancelled with "*"', () => {
  const challenge = Buffer.from('<1896.697170952@postoffice.example.net>').toString('base64');
  const digest = createHmac('md5', 'tanstaaftanstaaf').update('<1896.697170952@postoffice.example.net>').digest('hex');
  const resp = Buffer.from(`tim ${digest}`).toString('base64');
  const { ctx, facts } = play([
    GREET,
    ['client', 'EHLO h\r\n'],
    ['server', EHLO_REPLY],
    ['client', 'AUTH LOGIN\r\n'],
    ['server', '334 VXNlcm5hbWU6\r\n'],
    ['client', 'YWxpY2U=\r\n'],
    ['server', '334 UGFzc3dvcmQ6\r\n'],
    ['client', 'd3Jvbmc=\r\n'],
    ['server', '535 5.7.8 Error: authentication failed\r\n'],
    ['client', 'AUTH CRAM-MD5\r\n'],
    ['server', `334 ${challenge}\r\n`],
    ['client', `${resp}\r\n`],
    ['server', '235 2.7.0 Authentication successful\r\n'],
    ['client', 'AUTH PLAIN\r\n'],
    ['server', '334 \r\n'],
    ['client', '*\r\n'],
    ['server', '501 5.7.0 Authentication aborted\r\n'],
    ['client', 'NOOP\r\n'],
    ['server', '250 ok\r\n'],
  ]);
  const c = ctx.credentials.map((x) => x.entry);
  assert.equal(c.length, 3);
  assert.deepEqual([c[0].mechanism, c[0].username, c[0].secret, c[0].outcome], ['LOGIN', 'alice', 'wrong', 'failure']);
  assert.deepEqual([c[1].mechanism, c[1].username, c[1].outcome], ['CRAM-MD5', 'tim', 'success']);
  assert.equal(c[1].hashcat?.mode, 10200);
  assert.deepEqual([c[2].mechanism, c[2].outcome, c[2].detail?.cancelled], ['PLAIN', 'failure', 'true']);
  assert.deepEqual(ctx.credentials.map((x) => [x.first.frame, x.last.frame]), [[5, 10], [11, 14], [15, 18]]);
  assert.deepEqual(facts.auth.map((x) => x.outcome), ['failure', 'success', 'failure']);
  // The NOOP after the cancelled exchange is a command again, matched to its reply.
  assert.equal(commands(ctx).at(-1), 'NOOP');
  assert.deepEqual(ctx.entries('auth').map((e) => e.lines[0]), ['YWxpY2U=', 'd3Jvbmc=', resp, '*']);
});

// #region sequence errors and lost replies (corpus harness findings)

test('refused DATA and refused nested MAIL keep the server transaction (Zeek mail-transactions-invalid)', () => {
  const { ctx, facts } = play([
    GREET,
    ['client', 'EHLO h\r\n'],
    ['server', EHLO_REPLY],
    ['client', 'MAIL FROM:<bob@x>\r\n'],
    ['server', '250 OK\r\n'],
    ['client', 'DATA\r\n'],
    ['server', '503 valid RCPT command must precede DATA\r\n'],
    ['client', 'Hello (1)\r\n'],
    ['server', '500 unrecognized command\r\n'],
    ['client', 'MAIL FROM:<bob@x>\r\n'],
    ['server', '503 sender already given\r\n'],
    ['client', 'RCPT TO:<alice@y>\r\n'],
    ['server', '250 Accepted\r\n'],
    ['client', 'DATA\r\n'],
    ['server', '354 go\r\n'],
    ['client', 'Hello (2)\r\n.\r\n'],
    ['server', '250 OK id=Q1\r\n'],
  ]);
  // One delivered transaction with the sender the server kept; the refused MAIL is its own record.
  assert.deepEqual(
    facts.transactions.map((t) => [t.index, t.mail_from, t.rcpt_to.map((r) => r.address), t.outcome, t.mail_reply_code]),
    [
      [1, 'bob@x', ['alice@y'], 'accepted', 250],
      [2, 'bob@x', [], 'rejected', 503],
    ],
  );
  assert.equal(ctx.messages.length, 1);
  assert.deepEqual(ctx.messages[0].open.envelope, { mail_from: 'bob@x', rcpt_to: ['alice@y'] });
  assert.equal(messageBytes(ctx.messages[0]).toString(), 'Hello (2)\r\n');
  assert.equal(ctx.messages[0].closed?.delivery.queue_id, 'Q1');
  // The state machine followed the server: DATA without RCPT, then a nested MAIL.
  assert.deepEqual(ctx.anomalyCodes(), ['smtp_data_without_rcpt', 'smtp_unknown_command', 'smtp_nested_mail_transaction']);
});

test('refused DATA then RSET / QUIT: the kept transaction ends rejected with the refusal', () => {
  const { facts } = play([
    GREET,
    ['client', 'EHLO h\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n'],
    ['server', `${EHLO_REPLY}250 ok\r\n250 ok\r\n451 4.3.0 try later\r\n`],
    ['client', 'RSET\r\nMAIL FROM:<c@x>\r\nRCPT TO:<d@y>\r\nDATA\r\n'],
    ['server', '250 reset\r\n250 ok\r\n250 ok\r\n554 no\r\n'],
    ['client', 'QUIT\r\n'],
    ['server', '221 bye\r\n'],
  ]);
  assert.deepEqual(
    facts.transactions.map((t) => [t.mail_from, t.outcome, t.data_reply_code, t.final_reply_code, t.final_reply_text]),
    [
      ['a@x', 'rejected', 451, 451, '4.3.0 try later'],
      ['c@x', 'rejected', 554, 554, 'no'],
    ],
  );
});

test('pipelined RCPT/DATA after a refused nested MAIL go to the transaction the server holds', () => {
  const { ctx, facts } = play([
    GREET,
    ['client', 'EHLO h\r\nMAIL FROM:<bob@x>\r\n'],
    ['server', `${EHLO_REPLY}250 ok\r\n`],
    ['client', 'MAIL FROM:<eve@x>\r\nRCPT TO:<alice@y>\r\nDATA\r\n'],
    ['server', '503 sender already given\r\n250 ok\r\n354 go\r\n'],
    ['client', 'body\r\n.\r\n'],
    ['server', '250 queued\r\n'],
  ]);
  assert.deepEqual(
    facts.transactions.map((t) => [t.mail_from, t.rcpt_to.map((r) => [r.address, r.reply_code]), t.outcome]),
    [
      ['bob@x', [['alice@y', 250]], 'accepted'],
      ['eve@x', [], 'rejected'],
    ],
  );
  assert.deepEqual(ctx.messages[0].open.envelope, { mail_from: 'bob@x', rcpt_to: ['alice@y'] });
  assert.equal(messageBytes(ctx.messages[0]).toString(), 'body\r\n');
});

test('nested MAIL accepted: the earlier transaction ends, the new one carries on', () => {
  const { facts } = play([
    GREET,
    ['client', 'EHLO h\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nMAIL FROM:<c@x>\r\nRCPT TO:<d@y>\r\nDATA\r\n'],
    ['server', `${EHLO_REPLY}250 ok\r\n250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n`],
    ['client', 'x\r\n.\r\n'],
    ['server', '250 queued\r\n'],
  ]);
  assert.deepEqual(
    facts.transactions.map((t) => [t.mail_from, t.rcpt_to.map((r) => r.address), t.outcome]),
    [
      ['a@x', ['b@y'], 'incomplete'],
      ['c@x', ['d@y'], 'accepted'],
    ],
  );
});

test('refused EHLO mid-envelope keeps the transaction; accepted EHLO resets it (suricata-verify smtp-rejected-ehlo-preserves-envelope)', () => {
  const { ctx, facts } = play([
    GREET,
    ['client', 'helo client.example.com\r\n'],
    ['server', '250 mail.example.com\r\n'],
    ['client', 'mail from:<alice@example.com>\r\n'],
    ['server', '250 2.1.0 Ok\r\n'],
    ['client', 'ehlo\r\n'],
    ['server', '501 Syntax: EHLO hostname\r\n'],
    ['client', 'rcpt to:<bob@example.com>\r\n'],
    ['server', '250 2.1.5 Ok\r\n'],
    ['client', 'data\r\n'],
    ['server', '354 End data with <CR><LF>.<CR><LF>\r\n'],
    ['client', 'From: alice@example.com\r\nTo: bob@example.com\r\n\r\nhi\r\n.\r\n'],
    ['server', '250 2.0.0 Ok: queued as 4AB12\r\n'],
    ['client', 'MAIL FROM:<carol@example.com>\r\n'],
    ['server', '250 2.1.0 Ok\r\n'],
    ['client', 'EHLO again.example.com\r\n'],
    ['server', '250 mail.example.com\r\n'],
    ['client', 'RCPT TO:<dave@example.com>\r\n'],
    ['server', '503 5.5.1 Error: need MAIL command\r\n'],
    ['client', 'QUIT\r\n'],
    ['server', '221 2.0.0 Bye\r\n'],
  ]);
  assert.deepEqual(
    facts.transactions.map((t) => [t.mail_from, t.rcpt_to.map((r) => r.address), t.outcome, t.queue_id]),
    [
      ['alice@example.com', ['bob@example.com'], 'accepted', '4AB12'],
      // RFC 5321 §4.1.4: the accepted EHLO ended carol's transaction; the RCPT after it has no MAIL.
      ['carol@example.com', [], 'reset', null],
      [null, ['dave@example.com'], 'incomplete', null],
    ],
  );
  assert.equal(ctx.messages.length, 1);
  assert.deepEqual(ctx.messages[0].open.envelope, { mail_from: 'alice@example.com', rcpt_to: ['bob@example.com'] });
  // The nameless EHLO is in the transcript, not among the names.
  assert.deepEqual(facts.helo_names, ['client.example.com', 'again.example.com']);
  assert.equal(facts.helo, 'client.example.com');
  assert.equal(facts.helo_command, 'HELO');
  assert.ok(commands(ctx).includes('ehlo'));
  // The refused EHLO did not disturb the state machine: RCPT after it is in sequence.
  assert.deepEqual(ctx.anomalyCodes(), ['smtp_rcpt_without_mail']);
});

test('malformed BDAT ("BDAT 5 X") takes its reply slot, reads no chunk; the pipelined DATA transaction is intact (suricata-verify smtp-bdat-bad-tail-reply-queue)', () => {
  const { ctx, facts } = play([
    GREET,
    ['client', 'EHLO client.example.com\r\n'],
    ['server', '250-mail.example.com\r\n250-8BITMIME\r\n250 CHUNKING\r\n'],
    ['client', 'BDAT 5 X\r\nMAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n'],
    ['server', '501 5.5.4 Syntax: BDAT count [LAST]\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n'],
    ['client', 'From: alice@example.com\r\nTo: bob@example.com\r\nSubject: after the rejected chunk\r\n\r\nStill inspected.\r\n.\r\n'],
    ['server', '250 2.0.0 Ok: queued as ABCDEF\r\n'],
    ['client', 'QUIT\r\n'],
    ['server', '221 2.0.0 Bye\r\n'],
  ]);
  assert.deepEqual(commands(ctx), ['EHLO client.example.com', 'BDAT 5 X', 'MAIL FROM:<alice@example.com>', 'RCPT TO:<bob@example.com>', 'DATA', 'QUIT']);
  assert.deepEqual(
    facts.transactions.map((t) => [t.mail_from, t.mail_reply_code, t.rcpt_to.map((r) => [r.address, r.reply_code]), t.body_command, t.bdat_chunks, t.outcome, t.queue_id]),
    [['alice@example.com', 250, [['bob@example.com', 250]], 'DATA', [], 'accepted', 'ABCDEF']],
  );
  assert.equal(ctx.messages.length, 1);
  assert.equal(ctx.messages[0].open.transport, 'smtp-data');
  assert.deepEqual(ctx.messages[0].open.envelope, { mail_from: 'alice@example.com', rcpt_to: ['bob@example.com'] });
  assert.match(messageBytes(ctx.messages[0]).toString(), /^From: alice@example\.com\r\n/);
  assert.equal(ctx.messages[0].ended?.complete, true);
  // One anomaly, for the malformed command: no sequence error, no reply shifted.
  assert.deepEqual(ctx.anomalyCodes(), ['smtp_bdat_bad_size']);
});

test('a 4090-character EHLO name is kept whole (suricata-verify smtp-long-command)', () => {
  const name = `O${'BLAHO'.repeat(817)}BLAH`;
  assert.equal(name.length, 4090);
  const { ctx, facts } = play([
    GREET,
    ['client', `EHLO ${name}\r\n`],
    ['server', EHLO_REPLY],
    ['client', 'QUIT\r\n'],
    ['server', '221 bye\r\n'],
  ]);
  assert.equal(facts.helo, name);
  assert.deepEqual(facts.helo_names, [name]);
  assert.deepEqual(commands(ctx), [`EHLO ${name}`, 'QUIT']);
  assert.deepEqual(ctx.anomalyCodes(), []);
});

test('334 answers only AUTH: a greeting without CRLF swallowed the EHLO reply (suricata bug 6053)', () => {
  const { ctx, facts } = play([
    ['server', `220 mx ESMTP ${'A'.repeat(3000)}Z`],
    ['client', 'EHLO h\r\n'],
    ['server', '250-mx.example\r\n'],
    ['client', 'AUTH LOGIN\r\n'],
    ['server', '334 VXNlcm5hbWU6\r\n'],
    ['client', 'Z2FsdW50\r\n'],
    ['server', '334 UGFzc3dvcmQ6\r\n'],
    ['client', 'VjF2MXRyMG4=\r\n'],
    ['server', '235 ok, go ahead\r\n'],
    ['client', 'NOOP\r\n'],
    ['server', '250 ok\r\n'],
  ]);
  assert.deepEqual(ctx.entries('auth').map((e) => e.lines[0]), ['Z2FsdW50', 'VjF2MXRyMG4=']);
  assert.deepEqual(commands(ctx), ['EHLO h', 'AUTH LOGIN', 'NOOP']);
  const c = ctx.credentials.map((x) => x.entry);
  assert.deepEqual(c.map((x) => [x.mechanism, x.username, x.secret, x.outcome]), [['LOGIN', 'galunt', 'V1v1tr0n', 'success']]);
  assert.deepEqual(facts.capabilities, []);
  assert.deepEqual(ctx.anomalyCodes(), ['smtp_command_before_greeting', 'smtp_reply_skipped']);
  assert.deepEqual(facts.unknown_commands, []);
});

test('a 334 or 354 with no AUTH / DATA waiting is recorded, not paired with the next command', () => {
  const { ctx, facts } = play([
    GREET,
    ['client', 'EHLO h\r\n'],
    ['server', `334 stray\r\n${EHLO_REPLY}`],
    ['client', 'VRFY a\r\n'],
    ['server', '354 stray\r\n252 a\r\n'],
  ]);
  assert.equal(facts.capabilities.length, 5);
  assert.deepEqual(facts.vrfy, [{ argument: 'a', reply_code: 252 }]);
  assert.deepEqual(ctx.anomalyCodes(), ['smtp_unexpected_reply', 'smtp_unexpected_reply']);
  assert.equal(ctx.entries('reply').length, 5);
});

test('AUTH LOGIN with no server replies captured: base64 lines inferred as SASL (suricata bug 5989)', () => {
  const { ctx, facts } = play([
    GREET,
    ['client', 'EHLO h\r\n'],
    ['client', 'AUTH LOGIN\r\n'],
    ['client', 'Z2FsdW50\r\n'],
    ['client', 'VjF2MXRyMG4=\r\n'],
    ['client', 'MAIL FROM:<a@x>\r\n'],
    ['client', 'RCPT TO:<b@y>\r\n'],
    ['client', 'QUIT\r\n'],
  ]);
  assert.deepEqual(ctx.entries('auth').map((e) => e.lines[0]), ['Z2FsdW50', 'VjF2MXRyMG4=']);
  assert.deepEqual(commands(ctx), ['EHLO h', 'AUTH LOGIN', 'MAIL FROM:<a@x>', 'RCPT TO:<b@y>', 'QUIT']);
  const c = ctx.credentials.map((x) => x.entry);
  assert.deepEqual(c.map((x) => [x.mechanism, x.username, x.secret, x.outcome]), [['LOGIN', 'galunt', 'V1v1tr0n', 'unknown']]);
  assert.deepEqual(ctx.anomalyCodes(), ['smtp_sasl_inferred']);
  assert.deepEqual(facts.unknown_commands, []);
});

test('SASL inference is bounded: PLAIN with an initial response, verbs, and a third LOGIN line stay commands', () => {
  const ir = Buffer.from('\0tim\0pw').toString('base64');
  const { ctx } = play([
    GREET,
    ['client', `EHLO h\r\nAUTH PLAIN ${ir}\r\nZm9vYmFy\r\n`],
    ['client', 'AUTH LOGIN\r\nRSET\r\ndXNlcg==\r\ncGFzcw==\r\nZXh0cmE=\r\n'],
  ]);
  // PLAIN with an initial response expects nothing more; RSET is a verb even though it is base64.
  assert.deepEqual(commands(ctx), ['EHLO h', `AUTH PLAIN ${ir}`, 'Zm9vYmFy', 'AUTH LOGIN', 'RSET', 'ZXh0cmE=']);
  assert.deepEqual(ctx.entries('auth').map((e) => e.lines[0]), ['dXNlcg==', 'cGFzcw==']);
  const c = ctx.credentials.map((x) => x.entry);
  assert.deepEqual(c.map((x) => [x.mechanism, x.username, x.secret]), [['PLAIN', 'tim', 'pw'], ['LOGIN', 'user', 'pass']]);
});

test('server gap over the second 334 (pcapplusplus Smtp.pcap): password inferred, 235 still answers AUTH', () => {
  const { ctx, facts } = play([
    GREET,
    ['client', 'EHLO h\r\n'],
    ['server', EHLO_REPLY],
    ['client', 'AUTH LOGIN\r\n'],
    ['server', '334 VXNlcm5hbWU6\r\n'],
    ['client', 'Z3VycGFydGFwQHBhdHJpb3RzLmlu\r\n'],
    ['gap', 'server', 18],
    ['client', 'cHVuamFiQDEyMw==\r\n'],
    ['server', '235 ok\r\n'],
    ['client', 'QUIT\r\n'],
    ['server', '221 bye\r\n'],
  ]);
  assert.deepEqual(ctx.entries('auth').map((e) => e.lines[0]), ['Z3VycGFydGFwQHBhdHJpb3RzLmlu', 'cHVuamFiQDEyMw==']);
  const c = ctx.credentials.map((x) => x.entry);
  assert.deepEqual(c.map((x) => [x.username, x.secret, x.outcome]), [['gurpartap@patriots.in', 'punjab@123', 'success']]);
  assert.deepEqual(facts.auth.map((x) => x.outcome), ['success']);
  assert.deepEqual(ctx.anomalyCodes(), ['smtp_sasl_inferred']);
  assert.equal(facts.quit, true);
});

test('server gap that also swallowed the 235: the next command takes its own reply, AUTH outcome unknown', () => {
  const { ctx, facts } = play([
    GREET,
    ['client', 'EHLO h\r\n'],
    ['server', EHLO_REPLY],
    ['client', 'AUTH LOGIN\r\n'],
    ['server', '334 VXNlcm5hbWU6\r\n'],
    ['client', 'dXNlcg==\r\n'],
    ['gap', 'server', 40],
    ['client', 'cGFzcw==\r\n'],
    ['client', 'MAIL FROM:<a@x>\r\n'],
    ['server', '250 sender ok\r\n'],
    ['client', 'RCPT TO:<b@y>\r\n'],
    ['server', '550 no such user\r\n'],
  ]);
  assert.deepEqual(ctx.credentials.map((x) => [x.entry.username, x.entry.secret, x.entry.outcome, x.last.frame]), [['user', 'pass', 'unknown', 10]]);
  const tx = facts.transactions[0];
  assert.equal(tx.mail_reply_code, 250);
  assert.deepEqual(tx.rcpt_to.map((r) => [r.address, r.reply_code]), [['b@y', 550]]);
});

test('a 334 that arrives after an inferred response answers it, not the next command', () => {
  const { ctx } = play([
    GREET,
    ['client', 'EHLO h\r\n'],
    ['server', EHLO_REPLY],
    ['client', 'AUTH LOGIN\r\ndXNlcg==\r\n'],
    ['server', '334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n'],
    ['client', 'cGFzcw==\r\n'],
    ['server', '235 ok\r\n'],
    ['client', 'NOOP\r\n'],
    ['server', '250 ok\r\n'],
  ]);
  assert.deepEqual(ctx.entries('auth').map((e) => e.lines[0]), ['dXNlcg==', 'cGFzcw==']);
  assert.deepEqual(ctx.credentials.map((x) => [x.entry.username, x.entry.secret, x.entry.outcome]), [['user', 'pass', 'success']]);
  assert.equal(commands(ctx).at(-1), 'NOOP');
  assert.equal(ctx.entries('reply').at(-1)?.code, 250);
});

// #endregion

test('VRFY / EXPN / RSET / NOOP / HELP / XCLIENT / unknown commands', () => {
  const { ctx, facts } = play([
    GREET,
    ['client', 'HELO h\r\n'],
    ['server', '250 mx\r\n'],
    ['client', 'VRFY root\r\nEXPN staff\r\nNOOP\r\nHELP\r\nRSET\r\nXCLIENT NAME=spike.example ADDR=192.0.2.7\r\nXYZZY plugh\r\n'],
    ['server', '252 2.0.0 root\r\n502 5.5.1 no\r\n250 ok\r\n214-help\r\n214 end\r\n250 ok\r\n220 ok\r\n500 5.5.2 unrecognized\r\n'],
  ]);
  assert.deepEqual(facts.vrfy, [{ argument: 'root', reply_code: 252 }]);
  assert.deepEqual(facts.expn, [{ argument: 'staff', reply_code: 502 }]);
  assert.deepEqual(facts.xclient, ['NAME=spike.example', 'ADDR=192.0.2.7']);
  assert.deepEqual(facts.unknown_commands, ['XYZZY plugh']);
  assert.deepEqual(ctx.anomalyCodes(), ['smtp_unknown_command']);
  assert.deepEqual(ctx.entries('reply').find((e) => e.code === 214)?.lines, ['214-help', '214 end']);
  assert.equal(ctx.entries('command').length, 8);
  assert.equal(facts.helo_command, 'HELO');
});

test('gap inside DATA: sink.gap, resync on CRLF.CRLF, final reply still matched', () => {
  const { ctx } = play([
    GREET,
    ['client', 'EHLO h\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n'],
    ['server', `${EHLO_REPLY}250 ok\r\n250 ok\r\n354 go\r\n`],
    ['client', 'Subject: g\r\n\r\nfirst part\r\n'],
    ['gap', 'client', 1000],
    ['client', 'ost part\r\n.\r\n'],
    ['server', '250 2.0.0 Ok: queued as GAP1\r\n'],
    ['client', 'QUIT\r\n'],
    ['server', '221 bye\r\n'],
  ]);
  const m = ctx.messages[0];
  assert.equal(messageBytes(m).toString(), 'Subject: g\r\n\r\nfirst part\r\nost part\r\n');
  assert.equal(m.gaps, 1);
  assert.equal(m.missingBytes, 1000);
  assert.equal(m.closed?.delivery.queue_id, 'GAP1');
  assert.deepEqual(ctx.entries('gap').map((e) => [e.side, e.bytes]), [['client', 1000]]);
  assert.equal(commands(ctx).at(-1), 'QUIT');
});

test('gap that swallowed the terminator: the next server reply ends the message as partial', () => {
  const { ctx, facts } = play([
    GREET,
    ['client', 'EHLO h\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n'],
    ['server', `${EHLO_REPLY}250 ok\r\n250 ok\r\n354 go\r\n`],
    ['client', 'Subject: g\r\n\r\nbody\r\n'],
    ['gap', 'client', 50],
    ['server', '250 2.0.0 Ok: queued as LOST1\r\n'],
    ['client', 'QUIT\r\n'],
    ['server', '221 bye\r\n'],
  ]);
  const m = ctx.messages[0];
  assert.equal(m.ended?.complete, false);
  assert.equal(m.closed?.delivery.queue_id, 'LOST1');
  assert.ok(ctx.anomalyCodes().includes('smtp_data_unterminated'));
  assert.equal(facts.transactions[0].queue_id, 'LOST1');
  assert.equal(commands(ctx).at(-1), 'QUIT');
  assert.equal(ctx.entries('reply').at(-1)?.code, 221);
});

test('server gap: queue cleared, resync on the next reply line, no false pairing', () => {
  const { ctx, facts } = play([
    GREET,
    ['client', 'EHLO h\r\nVRFY a\r\nVRFY b\r\n'],
    ['server', '250-mx\r\n250-PIPE'],
    ['gap', 'server', 40],
    ['server', 'LINING\r\n252 b\r\n'],
    ['client', 'VRFY c\r\n'],
    ['server', '550 c unknown\r\n'],
  ]);
  assert.deepEqual(facts.vrfy, [
    { argument: 'a', reply_code: null },
    { argument: 'b', reply_code: null },
    { argument: 'c', reply_code: 550 },
  ]);
  assert.deepEqual(ctx.entries('unparsed').map((e) => e.lines[0]), ['LINING']);
});

test('mid-stream start inside a DATA body: unparsed until the reply, then commands parse', () => {
  const { ctx, facts } = play(
    [
      ['client', 'ody line\r\nmore body\r\n.\r\n'],
      ['server', '250 2.0.0 Ok: queued as MID1\r\n'],
      ['client', 'MAIL FROM:<a@x>\r\n'],
      ['server', '250 ok\r\n'],
      ['client', 'QUIT\r\n'],
      ['server', '221 bye\r\n'],
    ],
    { sawHandshake: false },
  );
  assert.deepEqual(ctx.entries('unparsed').map((e) => [e.side, e.bytes]), [['client', 24]]);
  assert.ok(ctx.anomalyCodes().includes('smtp_midstream'));
  assert.deepEqual(commands(ctx), ['MAIL FROM:<a@x>', 'QUIT']);
  assert.equal(facts.transactions[0].mail_reply_code, 250);
  assert.equal(facts.banner, null);
});

test('mid-stream start at a 354: the body is recovered as a message', () => {
  const { ctx } = play(
    [
      ['server', '354 End data with <CR><LF>.<CR><LF>\r\n'],
      ['client', 'Subject: m\r\n\r\nhello\r\n.\r\n'],
      ['server', '250 2.0.0 Ok: queued as MID2\r\n'],
    ],
    { sawHandshake: false },
  );
  assert.equal(messageBytes(ctx.messages[0]).toString(), 'Subject: m\r\n\r\nhello\r\n');
  assert.equal(ctx.messages[0].closed?.delivery.queue_id, 'MID2');
});

test('500-line reply is one entry bounded by maxReplyLines', () => {
  let big = '';
  for (let i = 0; i < 499; i++) big += `250-line ${i}\r\n`;
  big += '250 last\r\n';
  const { ctx } = play([GREET, ['client', 'EHLO h\r\n'], ['server', big], ['client', 'QUIT\r\n'], ['server', '221 bye\r\n']], { limits: { maxReplyLines: 100 } });
  const r = ctx.entries('reply')[1];
  assert.equal(r.lines.length, 100);
  assert.equal(r.lines[0], '250-line 0');
  assert.deepEqual(ctx.anomalyCodes(), ['reply_too_many_lines']);
  assert.equal(ctx.entries('reply')[2].code, 221);
});

test('commands before the greeting (early talker) and connection dropped mid-DATA', () => {
  const { ctx, facts } = play([
    ['client', 'EHLO bot\r\n'],
    GREET,
    ['server', '250 mx\r\n'],
    ['client', 'MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n'],
    ['server', '250 ok\r\n250 ok\r\n354 go\r\n'],
    ['client', 'Subject: cut\r\n\r\npart'],
  ]);
  assert.equal(facts.banner, 'mx.example ESMTP');
  assert.ok(ctx.anomalyCodes().includes('smtp_command_before_greeting'));
  assert.equal(facts.helo, 'bot');
  const m = ctx.messages[0];
  assert.equal(messageBytes(m).toString(), 'Subject: cut\r\n\r\npart');
  assert.equal(m.ended?.complete, false);
  assert.equal(m.closed?.delivery.final_reply_code, null);
  assert.equal(facts.transactions[0].outcome, 'aborted');
});

test('LMTP: one reply per accepted recipient after DATA', () => {
  const { ctx, facts } = play([
    ['server', '220 lmtp ready\r\n'],
    ['client', 'LHLO h\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nRCPT TO:<c@y>\r\nDATA\r\n'],
    ['server', '250 ok\r\n250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n'],
    ['client', 'x\r\n.\r\nQUIT\r\n'],
    ['server', '250 2.0.0 <b@y> Saved\r\n452 4.2.2 <c@y> Over quota\r\n221 bye\r\n'],
  ]);
  assert.equal(ctx.messages[0].closed?.delivery.final_reply_code, 250);
  assert.equal(facts.helo_command, 'LHLO');
  assert.ok(!ctx.anomalyCodes().includes('smtp_unmatched_reply'));
});

test('limits: maxRecipients and maxPendingCommands degrade with named anomalies', () => {
  let cmds = 'EHLO h\r\nMAIL FROM:<a@x>\r\n';
  let replies = `${EHLO_REPLY}250 ok\r\n`;
  for (let i = 0; i < 6; i++) {
    cmds += `RCPT TO:<r${i}@y>\r\n`;
    replies += '250 ok\r\n';
  }
  const { ctx, facts } = play(
    [GREET, ['client', cmds], ['server', replies], ['client', 'QUIT\r\n'], ['server', '221 bye\r\n']],
    { limits: { maxRecipients: 3, maxPendingCommands: 4 } },
  );
  assert.deepEqual(facts.transactions[0].rcpt_to.map((r) => [r.address, r.reply_code]), [['r0@y', 250], ['r1@y', 250], ['r2@y', null]]);
  assert.equal(facts.capabilities.length, 5);
  // EHLO, MAIL, r0, r1 are queued; the four surplus replies have no command.
  assert.deepEqual(ctx.anomalyCodes().sort(), [
    'smtp_pipeline_overflow',
    'smtp_too_many_recipients',
    'smtp_unmatched_reply',
    'smtp_unmatched_reply',
    'smtp_unmatched_reply',
    'smtp_unmatched_reply',
  ]);
  // Later commands pair normally again; QUIT gets its 221.
  assert.equal(ctx.entries('reply').at(-1)?.code, 221);
  assert.equal(facts.quit, true);
});

test('random bytes never throw (fast-check), sink contract kept', () => {
  const chunk = fc.oneof(
    fc.uint8Array({ maxLength: 40 }),
    fc.constantFrom('DATA\r\n', 'BDAT 5\r\n', 'BDAT x LAST\r\n', '.\r\n', 'AUTH LOGIN\r\n', '334 \r\n', '354 go\r\n', '250-a\r\n', '250 ok\r\n', 'STARTTLS\r\n', '220 x\r\n', 'MAIL FROM:<a>\r\n', '\r\n.\r\n', '\n.\n').map((s) => Buffer.from(s)),
  );
  const step = fc.oneof(
    fc.tuple(fc.constantFrom('client' as const, 'server' as const), chunk),
    fc.tuple(fc.constant('gap' as const), fc.constantFrom('client' as const, 'server' as const), fc.integer({ min: 1, max: 5000 })),
  );
  fc.assert(
    fc.property(fc.array(step, { maxLength: 25 }), fc.boolean(), (steps, hs) => {
      const ctx = new FakeContext({ sawHandshake: hs, limits: { maxLineBytes: 64, maxPendingCommands: 8 } });
      const a = new SmtpAnalyzer(ctx);
      runDialogue(a, steps as DialogueStep[]);
      a.summary();
      for (const m of ctx.messages) {
        assert.deepEqual(m.violations, []);
        assert.notEqual(m.closed, null, 'every message closed at connection end');
      }
    }),
    { numRuns: 400 },
  );
});

test('DATA path throughput through the analyzer (measured, reported)', () => {
  const line = 'QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0\r\n';
  const seg = Buffer.from(line.repeat(Math.floor(65536 / line.length)), 'latin1');
  let written = 0;
  const sink: MessageSink = {
    id: 'bench',
    write: (b) => {
      written += b.length;
    },
    gap() {},
    endBytes() {},
    close() {},
  };
  const ctx: AnalyzerContext = {
    conn: new FakeContext().conn,
    sessionId: 's',
    limits: resolveLimits(),
    cleartext: true,
    transcript() {},
    credential() {},
    anomaly() {},
    openMessage: () => sink,
    markEncrypted() {},
    saveArtifact: () => ({ sha256: '', path: null }),
    extraRecord() {},
    encryptedData() {},
    encryptedGap() {},
  };
  const a = new SmtpAnalyzer(ctx);
  const at: At = { frame: 2, ts: { sec: 0, nsec: 0 } };
  a.onData('server', Buffer.from('220 x\r\n'), at);
  a.onData('client', Buffer.from('MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n'), at);
  a.onData('server', Buffer.from('250 ok\r\n250 ok\r\n354 go\r\n'), at);
  const total = 128 * 1024 * 1024;
  const t0 = process.hrtime.bigint();
  for (let n = 0; n < total; n += seg.length) a.onData('client', seg, at);
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  a.onData('client', Buffer.from('.\r\n'), at);
  const mibps = written / 1048576 / secs;
  console.log(`# SMTP DATA path throughput: ${mibps.toFixed(0)} MiB/s (128 MiB in 64 KiB segments)`);
  assert.ok(written >= total);
  assert.ok(mibps > 50);
});

// #endregion
