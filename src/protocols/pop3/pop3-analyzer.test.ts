import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Pop3Analyzer } from './pop3-analyzer.js';
import { POP3_ANOMALIES } from './anomaly-codes.js';
import type { Pop3SessionFacts } from './pop3-facts.js';
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
function play(steps: readonly DialogueStep[], opts: FakeContextOptions = {}): { ctx: FakeContext; a: Pop3Analyzer; facts: Pop3SessionFacts } {
  let ref: unknown;
  let out: { ctx: FakeContext; a: Pop3Analyzer } | null = null;
  for (const c of CHUNKINGS) {
    const ctx = new FakeContext(opts);
    const a = new Pop3Analyzer(ctx);
    runDialogue(a, steps, c.split);
    const snap = { ...(ctx.snapshot(a) as object), extras: ctx.extras.map((e) => ({ ...e.record, f: e.first.frame, l: e.last.frame })) };
    if (out === null) {
      ref = snap;
      out = { ctx, a };
    } else {
      assert.deepEqual(snap, ref, `chunking ${c.name} differs from whole`);
    }
  }
  const o = out!;
  for (const m of o.ctx.messages) assert.deepEqual(m.violations, [], `sink contract (${m.id})`);
  const known = new Set(POP3_ANOMALIES.map((x) => x.code).concat(['line_too_long', 'reply_too_many_lines']));
  for (const code of o.ctx.anomalyCodes()) assert.ok(known.has(code) || code.startsWith('sasl_'), `uncatalogued anomaly ${code}`);
  return { ...o, facts: (o.a.summary().facts as { pop3: Pop3SessionFacts }).pop3 };
}

/** RFC 1939 §3 byte-stuffing as a server applies it, plus the terminator. */
function stuff(message: Buffer | string): string {
  const s = typeof message === 'string' ? message : message.toString('latin1');
  return s.replace(/(^|\r\n)\./g, '$1..') + (s.endsWith('\r\n') || s === '' ? '' : '\r\n') + '.\r\n';
}

function events(ctx: FakeContext): Record<string, unknown>[] {
  return ctx.extras.filter((e) => e.stream === 'mailbox_events').map((e) => e.record);
}

const GREETING = '+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n';
const MSG1 = 'From: a@example.com\r\nTo: b@example.com\r\nSubject: one\r\n\r\nHello\r\n.leading dot\r\n..two dots\r\n.\r\nend\r\n';
const MSG2 = 'Subject: two\r\n\r\nsecond body\r\n';

// #endregion

test('USER/PASS, STAT, LIST, UIDL, RETR, DELE, QUIT: messages, credentials, committed deletions', () => {
  const { ctx, facts } = play([
    ['server', GREETING],
    ['client', 'USER bob\r\n'],
    ['server', '+OK\r\n'],
    ['client', 'PASS s3cret pass\r\n'],
    ['server', '+OK maildrop locked\r\n'],
    ['client', 'STAT\r\n'],
    ['server', `+OK 2 ${MSG1.length + MSG2.length}\r\n`],
    ['client', 'LIST\r\n'],
    ['server', `+OK 2 messages\r\n1 ${MSG1.length}\r\n2 ${MSG2.length}\r\n.\r\n`],
    ['client', 'UIDL\r\n'],
    ['server', '+OK\r\n1 uid-aaa\r\n2 uid-bbb\r\n.\r\n'],
    ['client', 'RETR 1\r\n'],
    ['server', `+OK ${MSG1.length} octets\r\n${stuff(MSG1)}`],
    ['client', 'RETR 2\r\n'],
    ['server', `+OK ${MSG2.length} octets\r\n${stuff(MSG2)}`],
    ['client', 'DELE 1\r\n'],
    ['server', '+OK message 1 deleted\r\n'],
    ['client', 'DELE 2\r\n'],
    ['server', '+OK message 2 deleted\r\n'],
    ['client', 'QUIT\r\n'],
    ['server', '+OK bye\r\n'],
  ]);
  assert.equal(ctx.messages.length, 2);
  assert.equal(messageBytes(ctx.messages[0]).toString('latin1'), MSG1);
  assert.equal(messageBytes(ctx.messages[1]).toString('latin1'), MSG2);
  assert.equal(ctx.messages[0].open.transport, 'pop3-retr');
  assert.deepEqual(ctx.messages[0].ended?.complete, true);
  const d = ctx.messages[0].closed!.delivery;
  assert.equal(d.msg_number, 1);
  assert.equal(d.uidl, 'uid-aaa');
  assert.equal(d.octets_announced, MSG1.length);
  assert.equal(ctx.messages[1].closed!.delivery.uidl, 'uid-bbb');
  // Credentials: USER/PASS with a space in the password (RFC 1939 §7: the rest of the line).
  assert.equal(ctx.credentials.length, 1);
  const c = ctx.credentials[0].entry;
  assert.equal(c.mechanism, 'USER/PASS');
  assert.equal(c.username, 'bob');
  assert.equal(c.secret, 's3cret pass');
  assert.equal(c.outcome, 'success');
  // Facts.
  assert.deepEqual(facts.stat, { count: 2, size: MSG1.length + MSG2.length, frame: 8 });
  assert.deepEqual(facts.listing, [
    { msg_number: 1, size: MSG1.length, uidl: 'uid-aaa' },
    { msg_number: 2, size: MSG2.length, uidl: 'uid-bbb' },
  ]);
  assert.equal(facts.apop_timestamp, '<1896.697170952@dbc.mtview.ca.us>');
  assert.equal(facts.deletion, 'committed');
  assert.equal(facts.final_state, 'update');
  assert.deepEqual(facts.retrieved.map((r) => [r.msg_number, r.uidl, r.size, r.outcome]), [
    [1, 'uid-aaa', MSG1.length, 'ok'],
    [2, 'uid-bbb', MSG2.length, 'ok'],
  ]);
  assert.deepEqual(facts.auth, [{ mechanism: 'USER/PASS', username: 'bob', outcome: 'success', frame: 5 }]);
  // Mailbox events.
  assert.deepEqual(
    events(ctx).map((e) => `${e.event}:${e.msg_number ?? ''}:${e.outcome}`),
    ['stat::ok', 'retrieve:1:ok', 'retrieve:2:ok', 'delete-mark:1:ok', 'delete-mark:2:ok', 'delete-commit:1:ok', 'delete-commit:2:ok'],
  );
  assert.equal(events(ctx)[1].message_id, ctx.messages[0].id);
  // Transcript: listings are one entry; bodies are 'data' entries with byte counts.
  const replies = ctx.entries('reply');
  const list = replies.find((r) => r.command === 'LIST')!;
  assert.deepEqual(list.lines, ['+OK 2 messages', `1 ${MSG1.length}`, `2 ${MSG2.length}`]);
  const data = ctx.entries('data');
  assert.equal(data.length, 2);
  assert.equal(data[0].bytes, stuff(MSG1).length);
  assert.deepEqual(ctx.anomalyCodes(), []);
});

test('pipelined commands (RFC 2449 PIPELINING) in one segment, replies in one segment', () => {
  const { ctx, facts } = play([
    ['server', '+OK ready\r\n'],
    ['client', 'USER u\r\nPASS p\r\n'],
    ['server', '+OK\r\n+OK logged in\r\n'],
    ['client', 'LIST 1\r\nUIDL 1\r\nTOP 1 0\r\nRETR 1\r\nDELE 1\r\nRSET\r\nQUIT\r\n'],
    ['server', `+OK 1 ${MSG2.length}\r\n+OK 1 u-1\r\n+OK\r\nSubject: two\r\n\r\n.\r\n+OK\r\n${stuff(MSG2)}+OK deleted\r\n+OK reset\r\n+OK bye\r\n`],
  ]);
  assert.equal(ctx.messages.length, 2);
  const [top, retr] = ctx.messages;
  assert.equal(top.open.transport, 'pop3-top');
  assert.equal(messageBytes(top).toString('latin1'), 'Subject: two\r\n\r\n');
  // TOP came in full, but is an excerpt: the LIST size does not match what came.
  assert.equal(top.ended?.complete, true);
  assert.equal(top.ended?.excerpt, 'head');
  assert.equal(top.closed!.delivery.top_whole, false);
  assert.equal(top.closed!.delivery.top_lines, 0);
  assert.equal(top.closed!.delivery.uidl, 'u-1');
  assert.equal(messageBytes(retr).toString('latin1'), MSG2);
  assert.equal(retr.ended?.complete, true);
  assert.equal(facts.deletion, 'undone');
  assert.deepEqual(facts.deleted_pending, []);
  assert.equal(facts.final_state, 'update');
  assert.deepEqual(
    events(ctx).map((e) => `${e.event}:${e.msg_number ?? ''}:${e.outcome}`),
    ['top:1:ok', 'retrieve:1:ok', 'delete-mark:1:ok', 'delete-undone:1:ok'],
  );
  assert.deepEqual(ctx.anomalyCodes(), []);
});

test('TOP that returns the whole message (size equals LIST size) is not partial', () => {
  const { ctx } = play([
    ['server', '+OK ready\r\n'],
    ['client', 'USER u\r\nPASS p\r\n'],
    ['server', '+OK\r\n+OK\r\n'],
    ['client', 'LIST\r\nTOP 1 100\r\n'],
    ['server', `+OK\r\n1 ${MSG2.length}\r\n.\r\n+OK\r\n${stuff(MSG2)}`],
  ]);
  assert.equal(ctx.messages[0].ended?.complete, true);
  assert.equal(ctx.messages[0].closed!.delivery.top_whole, true);
});

test('-ERR is never multi-line; RETR -ERR records a failed retrieval', () => {
  const { ctx, facts } = play([
    ['server', '+OK ready\r\n'],
    ['client', 'USER u\r\nPASS p\r\n'],
    ['server', '+OK\r\n+OK\r\n'],
    ['client', 'RETR 9\r\nLIST\r\nCAPA\r\n'],
    ['server', '-ERR no such message\r\n-ERR busy\r\n+OK\r\nTOP\r\nUIDL\r\nSTLS\r\nSASL PLAIN LOGIN\r\nIMPLEMENTATION Dovecot\r\n.\r\n'],
  ]);
  assert.equal(ctx.messages.length, 0);
  assert.deepEqual(facts.retrieved.map((r) => [r.msg_number, r.outcome]), [[9, 'err']]);
  assert.deepEqual(facts.capabilities, ['TOP', 'UIDL', 'STLS', 'SASL PLAIN LOGIN', 'IMPLEMENTATION Dovecot']);
  assert.deepEqual(facts.sasl_mechanisms, ['PLAIN', 'LOGIN']);
  assert.equal(facts.implementation, 'Dovecot');
  assert.equal(facts.stls.offered, true);
  assert.deepEqual(events(ctx), [{ event: 'retrieve', msg_number: 9, uidl: null, message_id: null, outcome: 'err' }]);
  assert.deepEqual(ctx.anomalyCodes(), []);
});

test('APOP: crackable hashcat mode 20 line from the greeting timestamp (RFC 1939 §7 example)', () => {
  const { ctx, facts } = play([
    ['server', GREETING],
    ['client', 'APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n'],
    ['server', '+OK mrose\'s maildrop has 2 messages (320 octets)\r\n'],
    ['client', 'QUIT\r\n'],
    ['server', '+OK\r\n'],
  ]);
  const c = ctx.credentials[0].entry;
  assert.equal(c.mechanism, 'APOP');
  assert.equal(c.username, 'mrose');
  assert.equal(c.outcome, 'success');
  assert.deepEqual(c.hashcat, { mode: 20, line: 'c4c9334bac560ecc979e58001b3e22fb:<1896.697170952@dbc.mtview.ca.us>' });
  // The RFC's example secret is "tanstaaf": md5(timestamp + secret) must equal the digest.
  const md5 = createHash('md5').update('<1896.697170952@dbc.mtview.ca.us>tanstaaf').digest('hex');
  assert.equal(md5, 'c4c9334bac560ecc979e58001b3e22fb');
  assert.equal(facts.user, 'mrose');
  assert.equal(facts.final_state, 'update');
  assert.equal(facts.deletion, 'none');
});

test('APOP without a greeting timestamp: anomaly, no hashcat line', () => {
  const { ctx } = play([
    ['server', '+OK ready\r\n'],
    ['client', 'APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n'],
    ['server', '-ERR permission denied\r\n'],
  ]);
  assert.equal(ctx.credentials[0].entry.hashcat, null);
  assert.equal(ctx.credentials[0].entry.outcome, 'failure');
  assert.ok(ctx.anomalyCodes().includes('pop3_apop_without_timestamp'));
});

test('AUTH PLAIN with continuation, AUTH LOGIN failing, AUTH with initial response', () => {
  const plain = Buffer.from('\0alice\0Summer2024!').toString('base64');
  const { ctx, facts } = play([
    ['server', '+OK ready\r\n'],
    ['client', 'AUTH LOGIN\r\n'],
    ['server', '+ VXNlcm5hbWU6\r\n'],
    ['client', `${Buffer.from('mallory').toString('base64')}\r\n`],
    ['server', '+ UGFzc3dvcmQ6\r\n'],
    ['client', `${Buffer.from('guess1').toString('base64')}\r\n`],
    ['server', '-ERR [AUTH] Authentication failed.\r\n'],
    ['client', 'AUTH PLAIN\r\n'],
    ['server', '+ \r\n'],
    ['client', `${plain}\r\n`],
    ['server', '+OK Logged in.\r\n'],
  ]);
  const creds = ctx.credentials.map((c) => [c.entry.mechanism, c.entry.username, c.entry.secret, c.entry.outcome]);
  assert.deepEqual(creds, [
    ['LOGIN', 'mallory', 'guess1', 'failure'],
    ['PLAIN', 'alice', 'Summer2024!', 'success'],
  ]);
  assert.equal(facts.final_state, 'transaction');
  assert.equal(facts.user, 'alice');
  // SASL lines are 'auth' entries, never commands.
  assert.equal(ctx.entries('auth').length, 6);
  assert.deepEqual(ctx.entries('command').map((e) => e.command), ['AUTH', 'AUTH']);

  const r2 = play([
    ['server', '+OK ready\r\n'],
    ['client', `AUTH PLAIN ${plain}\r\n`],
    ['server', '+OK\r\n'],
  ]);
  assert.equal(r2.ctx.credentials[0].entry.username, 'alice');
  assert.equal(r2.ctx.credentials[0].entry.outcome, 'success');
});

test('bare AUTH lists mechanisms (multi-line) and does not log in', () => {
  const { facts, ctx } = play([
    ['server', '+OK ready\r\n'],
    ['client', 'AUTH\r\n'],
    ['server', '+OK\r\nPLAIN\r\nLOGIN\r\n.\r\n'],
    ['client', 'STAT\r\n'],
    ['server', '-ERR unknown command\r\n'],
  ]);
  assert.deepEqual(facts.sasl_mechanisms, ['PLAIN', 'LOGIN']);
  assert.equal(facts.final_state, 'authorization');
  assert.deepEqual(ctx.credentials, []);
  assert.ok(ctx.anomalyCodes().includes('pop3_command_wrong_state'));
});

test('STLS accepted: tls entry, encrypted from there, bytes counted', () => {
  const { ctx, facts, a } = play([
    ['server', '+OK ready\r\n'],
    ['client', 'STLS\r\n'],
    ['server', '+OK Begin TLS negotiation now.\r\n'],
    ['client', '\x16\x03\x01\x00\x05hello'],
    ['server', '\x16\x03\x03\x00\x02hi'],
  ]);
  assert.equal(facts.stls.accepted, true);
  assert.equal(a.summary().transport, 'starttls');
  assert.equal(ctx.entries('tls').length, 1);
  assert.equal(ctx.encryptedAt?.frame, 4);
  assert.deepEqual(facts.encrypted_bytes, { client: 10, server: 7 });
  assert.deepEqual(ctx.anomalyCodes(), []);
});

test('STLS response injection: server bytes in the same segment as +OK', () => {
  const { ctx } = play([
    ['server', '+OK ready\r\n'],
    ['client', 'STLS\r\n'],
    ['server', '+OK go\r\n+OK injected\r\n'],
  ]);
  assert.ok(ctx.anomalyCodes().includes('pop3_stls_injection'));
});

test('connection dropped after DELE: deletions undone (RFC 1939 §6), RETR cut mid-body is partial', () => {
  const { ctx, facts } = play([
    ['server', '+OK ready\r\n'],
    ['client', 'USER u\r\nPASS p\r\n'],
    ['server', '+OK\r\n+OK\r\n'],
    ['client', 'DELE 3\r\nRETR 1\r\n'],
    ['server', '+OK marked\r\n+OK 500 octets\r\nSubject: x\r\n\r\npart'],
  ]);
  assert.equal(facts.deletion, 'undone');
  assert.deepEqual(facts.deleted_pending, [3]);
  assert.equal(ctx.messages.length, 1);
  assert.equal(ctx.messages[0].ended?.complete, false);
  assert.equal(messageBytes(ctx.messages[0]).toString('latin1'), 'Subject: x\r\n\r\npart');
  assert.ok(ctx.anomalyCodes().includes('pop3_response_incomplete'));
  assert.deepEqual(
    events(ctx).map((e) => `${e.event}:${e.msg_number}:${e.outcome}`),
    ['delete-mark:3:ok', 'retrieve:1:ok', 'delete-undone:3:unknown'],
  );
});

test('QUIT without a reply: deletion unknown; QUIT -ERR: failed', () => {
  const r1 = play([
    ['server', '+OK ready\r\n'],
    ['client', 'USER u\r\nPASS p\r\n'],
    ['server', '+OK\r\n+OK\r\n'],
    ['client', 'DELE 1\r\n'],
    ['server', '+OK\r\n'],
    ['client', 'QUIT\r\n'],
  ]);
  assert.equal(r1.facts.deletion, 'unknown');
  assert.deepEqual(events(r1.ctx).map((e) => `${e.event}:${e.outcome}`), ['delete-mark:ok', 'delete-commit:unknown']);
  const r2 = play([
    ['server', '+OK ready\r\n'],
    ['client', 'USER u\r\nPASS p\r\n'],
    ['server', '+OK\r\n+OK\r\n'],
    ['client', 'DELE 1\r\nQUIT\r\n'],
    ['server', '+OK\r\n-ERR some deleted messages not removed\r\n'],
  ]);
  assert.equal(r2.facts.deletion, 'failed');
});

test('octets announcement differing from the body size is an anomaly', () => {
  const { ctx } = play([
    ['server', '+OK ready\r\n'],
    ['client', 'USER u\r\nPASS p\r\nRETR 1\r\n'],
    ['server', `+OK\r\n+OK\r\n+OK 999 octets\r\n${stuff(MSG2)}`],
  ]);
  assert.deepEqual(ctx.anomalyCodes(), ['pop3_octets_mismatch']);
  assert.equal(messageBytes(ctx.messages[0]).toString('latin1'), MSG2);
});

test('failed logins: PASS -ERR, USER -ERR, unknown commands', () => {
  const { ctx, facts } = play([
    ['server', '+OK ready\r\n'],
    ['client', 'USER nobody\r\n'],
    ['server', '-ERR never heard of mailbox name\r\n'],
    ['client', 'USER bob\r\nPASS wrong\r\n'],
    ['server', '+OK\r\n-ERR [AUTH] invalid password\r\n'],
    ['client', 'XTND XMIT\r\n'],
    ['server', '-ERR unknown command\r\n'],
  ]);
  assert.deepEqual(ctx.credentials.map((c) => [c.entry.username, c.entry.secret, c.entry.outcome]), [
    ['nobody', null, 'failure'],
    ['bob', 'wrong', 'failure'],
  ]);
  assert.deepEqual(facts.unknown_commands, ['XTND XMIT']);
  assert.deepEqual(ctx.anomalyCodes(), ['pop3_unknown_command']);
});

test('server gap inside a RETR body: message partial with missing bytes; next reply still matched', () => {
  const { ctx, facts } = play([
    ['server', '+OK ready\r\n'],
    ['client', 'USER u\r\nPASS p\r\n'],
    ['server', '+OK\r\n+OK\r\n'],
    ['client', 'RETR 1\r\n'],
    ['server', '+OK\r\nSubject: a\r\n\r\nfirst'],
    ['gap', 'server', 100],
    ['server', 'tail\r\n.\r\n'],
    ['client', 'STAT\r\n'],
    ['server', '+OK 1 10\r\n'],
  ]);
  assert.equal(ctx.messages[0].missingBytes, 100);
  assert.equal(messageBytes(ctx.messages[0]).toString('latin1'), 'Subject: a\r\n\r\nfirsttail\r\n');
  assert.deepEqual(facts.stat, { count: 1, size: 10, frame: 10 });
});

test('mid-stream start: resynchronises on the first command', () => {
  const { ctx, facts } = play(
    [
      ['server', 'body line of an old message\r\n.\r\n'],
      ['client', 'RETR 2\r\n'],
      ['server', `+OK\r\n${stuff(MSG2)}`],
    ],
    { sawHandshake: false },
  );
  assert.equal(ctx.messages.length, 1);
  assert.equal(messageBytes(ctx.messages[0]).toString('latin1'), MSG2);
  assert.equal(facts.greeting, null);
  assert.equal(ctx.entries('unparsed').length, 1);
});

test('hostile input: binary noise, long lines, huge pipeline never throw and stay bounded', () => {
  const noise = Buffer.alloc(5000);
  for (let i = 0; i < noise.length; i++) noise[i] = (i * 131 + 7) & 0xff;
  const { ctx } = play(
    [
      ['server', '+OK ready\r\n'],
      ['client', noise],
      ['server', noise],
      ['client', 'NOOP\r\n'.repeat(50)],
      ['client', `USER ${'x'.repeat(300)}\r\n`],
    ],
    { limits: { maxLineBytes: 128, maxPendingCommands: 10 } },
  );
  assert.ok(ctx.anomalyCodes().includes('pop3_pipeline_overflow'));
  assert.ok(ctx.anomalyCodes().includes('line_too_long'));
});

// #region lab truth

const LAB = sharedDir === null ? null : join(sharedDir, 'corpus', 'lab');
const labSkip = LAB === null || !existsSync(join(LAB, 'pop3-retr-dele.truth.json')) ? SHARED_SKIP_REASON : false;

test('lab pop3-retr-dele truth replayed as a dialogue (USER/PASS, STAT, LIST, UIDL, RETR, DELE, QUIT)', { skip: labSkip }, () => {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const t: any = JSON.parse(readFileSync(join(LAB!, 'pop3-retr-dele.truth.json'), 'utf8'));
  const s = t.sessions[0];
  // Rebuild the server's side from the truth (bodies: the seeded messages are not in the truth, so
  // synthetic bodies of the listed sizes stand in) and check the analyzer's facts match the truth.
  const steps: DialogueStep[] = [['server', `${s.greeting}\r\n`]];
  const bodies = new Map<number, string>();
  for (const r of s.retrieved) bodies.set(r.n, `Message-ID: ${r.message_id}\r\n\r\n`.padEnd(r.octets - 2, 'x') + '\r\n');
  for (const cmd of s.commands as string[]) {
    steps.push(['client', `${cmd}\r\n`]);
    const [verb, arg] = cmd.split(' ');
    switch (verb) {
      case 'STAT':
        steps.push(['server', `+OK ${s.stat[0]} ${s.stat[1]}\r\n`]);
        break;
      case 'LIST':
        steps.push(['server', `+OK ${s.list.length} messages:\r\n${s.list.join('\r\n')}\r\n.\r\n`]);
        break;
      case 'UIDL':
        steps.push(['server', `+OK\r\n${s.uidl.join('\r\n')}\r\n.\r\n`]);
        break;
      case 'RETR':
        steps.push(['server', `+OK ${bodies.get(Number(arg))!.length} octets\r\n${stuff(bodies.get(Number(arg))!)}`]);
        break;
      case 'DELE':
        steps.push(['server', `${s.dele_replies[Number(arg) - 1]}\r\n`]);
        break;
      case 'QUIT':
        steps.push(['server', `${s.quit_reply}\r\n`]);
        break;
      default:
        steps.push(['server', '+OK\r\n']);
    }
  }
  const { ctx, facts } = play(steps);
  assert.deepEqual(ctx.credentials.map((c) => [c.entry.username, c.entry.secret, c.entry.outcome]), [[s.auth.username, s.auth.password, 'success']]);
  assert.deepEqual([facts.stat?.count, facts.stat?.size], s.stat);
  assert.deepEqual(facts.listing.map((l) => `${l.msg_number} ${l.size}`), s.list);
  assert.deepEqual(facts.listing.map((l) => `${l.msg_number} ${l.uidl}`), s.uidl);
  assert.deepEqual(facts.retrieved.map((r) => r.msg_number), s.retrieved.map((r: { n: number }) => r.n));
  assert.deepEqual(facts.deleted.map((d) => d.msg_number), s.deleted);
  assert.equal(facts.deletion, 'committed');
  for (const m of ctx.messages) assert.equal(sha256(messageBytes(m)), sha256(Buffer.from(bodies.get(m.closed!.delivery.msg_number as number)!, 'latin1')));
});

// #endregion

test('property: any interleaving of POP3-ish lines and noise never throws and is chunking-independent', async () => {
  const fc = (await import('fast-check')).default;
  const client = fc.constantFrom('USER a\r\n', 'PASS b\r\n', 'AUTH PLAIN\r\n', 'AGFhAGI=\r\n', 'RETR 1\r\n', 'TOP 1 2\r\n', 'LIST\r\n', 'UIDL 1\r\n', 'DELE 1\r\n', 'RSET\r\n', 'QUIT\r\n', 'STLS\r\n', 'CAPA\r\n', '*\r\n', 'XX\n');
  const server = fc.constantFrom('+OK\r\n', '-ERR\r\n', '+ \r\n', '1 10\r\n', '.\r\n', '..x\r\n', 'body\r\n', '+OK 5 octets\r\n', '\r\n', 'junk\n');
  const step = fc.oneof(
    client.map((s): DialogueStep => ['client', s]),
    server.map((s): DialogueStep => ['server', s]),
    fc.integer({ min: 1, max: 50 }).map((n): DialogueStep => ['gap', 'server', n]),
    fc.uint8Array({ maxLength: 40 }).map((u): DialogueStep => ['server', u]),
  );
  fc.assert(
    fc.property(fc.boolean(), fc.array(step, { maxLength: 40 }), (handshake, steps) => {
      play([['server', '+OK hi <1@x>\r\n'], ...steps], { sawHandshake: handshake });
    }),
    { numRuns: 60 },
  );
});
