import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fetchExcerpt, ImapAnalyzer } from './imap-analyzer.js';
import { IMAP_ANOMALIES } from './anomaly-codes.js';
import { IMAP_SPEC } from './imap-spec.js';
import type { ImapSessionFacts } from './imap-facts.js';
import { SyncDeflater } from './sync-deflater.js';
import { FakeContext, messageBytes } from '../../../test/helpers/fake-context.js';
import type { FakeContextOptions } from '../../../test/helpers/fake-context.js';
import { CHUNKINGS, runDialogue } from '../../../test/helpers/chunkings.js';
import type { DialogueStep } from '../../../test/helpers/chunkings.js';

/** Plays the dialogue under every chunking, asserts identical results, returns the whole-chunk run. */
function play(steps: readonly DialogueStep[], opts: FakeContextOptions = {}): { ctx: FakeContext; a: ImapAnalyzer; facts: ImapSessionFacts } {
  let ref: unknown;
  let out: { ctx: FakeContext; a: ImapAnalyzer } | null = null;
  for (const c of CHUNKINGS) {
    const ctx = new FakeContext(opts);
    const a = new ImapAnalyzer(ctx);
    runDialogue(a, steps, c.split);
    const snap = { ...(ctx.snapshot(a) as object), extras: ctx.extras.map((e) => e.record) };
    if (out === null) {
      ref = snap;
      out = { ctx, a };
    } else assert.deepEqual(snap, ref, `chunking ${c.name} differs from whole`);
  }
  const o = out!;
  for (const m of o.ctx.messages) assert.deepEqual(m.violations, [], `sink contract (${m.id})`);
  for (const m of o.ctx.messages) assert.ok(m.closed !== null, `message ${m.id} closed`);
  const known = new Set(IMAP_ANOMALIES.map((x) => x.code).concat(['line_too_long']));
  for (const code of o.ctx.anomalyCodes()) assert.ok(known.has(code) || code.startsWith('sasl_'), `uncatalogued anomaly ${code}`);
  return { ...o, facts: (o.a.summary().facts as { imap: ImapSessionFacts }).imap };
}

const MSG1 = 'From: a@example.com\r\nSubject: one\r\nMessage-ID: <1@x>\r\n\r\nHello {5}\r\n)\r\n* 2 FETCH\r\n';
const MSG2 = 'From: b@example.com\r\nSubject: two\r\n\r\nBody with NUL-free bytes \xe9\r\n';
const GREETING: DialogueStep = ['server', '* OK [CAPABILITY IMAP4rev1 LITERAL+ SASL-IR ID STARTTLS COMPRESS=DEFLATE] ready\r\n'];

test('full session: ID, LOGIN, SELECT, UID FETCH literals byte-exact, APPEND, STORE, EXPUNGE, MOVE', () => {
  const { ctx, facts } = play([
    GREETING,
    ['client', 'a1 ID ("name" "Thunderbird" "version" "115.6.0" "os" "Windows")\r\n'],
    ['server', '* ID ("name" "Dovecot")\r\na1 OK ID completed\r\n'],
    ['client', 'a2 LOGIN alice "Summer2024!"\r\n'],
    ['server', 'a2 OK [CAPABILITY IMAP4rev1 MOVE] Logged in\r\n'],
    ['client', 'a3 LIST "" *\r\n'],
    ['server', '* LIST (\\HasNoChildren \\Sent) "/" Sent\r\n* LIST () "/" "&AMk-t&AOk-"\r\na3 OK done\r\n'],
    ['client', 'a4 SELECT INBOX\r\n'],
    ['server', '* 2 EXISTS\r\n* OK [UIDVALIDITY 77] UIDs valid\r\na4 OK [READ-WRITE] Select completed\r\n'],
    ['client', 'a5 UID FETCH 1:* (UID RFC822.SIZE BODY.PEEK[])\r\n'],
    [
      'server',
      `* 1 FETCH (UID 11 RFC822.SIZE ${MSG1.length} BODY[] {${MSG1.length}}\r\n${MSG1} FLAGS (\\Seen))\r\n` +
        `* 2 FETCH (UID 12 RFC822.SIZE ${MSG2.length} BODY[] {${MSG2.length}}\r\n${MSG2})\r\na5 OK Fetch completed\r\n`,
    ],
    ['client', `a6 APPEND Sent (\\Seen) "22-Oct-2024 08:00:00 +0000" {${MSG2.length}}\r\n`],
    ['server', '+ Ready for literal data\r\n'],
    ['client', `${MSG2}\r\n`],
    ['server', 'a6 OK [APPENDUID 1795841260 1] Append completed\r\n'],
    ['client', 'a7 STORE 1:2 +FLAGS (\\Deleted)\r\n'],
    ['server', '* 1 FETCH (FLAGS (\\Seen \\Deleted))\r\n* 2 FETCH (FLAGS (\\Deleted))\r\na7 OK Store completed\r\n'],
    ['client', 'a8 EXPUNGE\r\n'],
    ['server', '* 2 EXPUNGE\r\n* 1 EXPUNGE\r\na8 OK Expunge completed\r\n'],
    ['client', 'a9 UID MOVE 5:6 Archive\r\n'],
    ['server', 'a9 OK [COPYUID 9 5:6 1:2] Moved\r\n'],
    ['client', 'a10 LOGOUT\r\n'],
    ['server', '* BYE Logging out\r\na10 OK Logout completed\r\n'],
  ]);
  assert.deepEqual(facts.client_id, { name: 'Thunderbird', version: '115.6.0', os: 'Windows' });
  assert.deepEqual(facts.server_id, { name: 'Dovecot' });
  assert.deepEqual(facts.capabilities, ['IMAP4rev1', 'MOVE']);
  assert.deepEqual(facts.mailboxes_listed, ['Sent', 'Été']);
  assert.deepEqual(ctx.credentials.map((c) => [c.entry.mechanism, c.entry.username, c.entry.secret, c.entry.outcome]), [['LOGIN', 'alice', 'Summer2024!', 'success']]);
  // Messages byte-exact, streamed in large runs (the literal is one write when it arrives whole).
  assert.deepEqual(ctx.messages.map((m) => [m.open.transport, messageBytes(m).toString('latin1')]), [
    ['imap-fetch', MSG1],
    ['imap-fetch', MSG2],
    ['imap-append', MSG2],
  ]);
  assert.ok(ctx.messages.every((m) => m.writeCalls === 1 && m.ended?.complete === true));
  const d = ctx.messages.map((m) => m.closed!.delivery);
  assert.deepEqual([d[0]!.uid, d[0]!.seq, d[0]!.flags, d[0]!.mailbox, d[0]!.rfc822_size], [11, 1, ['\\Seen'], 'INBOX', MSG1.length]);
  assert.deepEqual([d[1]!.uid, d[1]!.seq, d[1]!.flags], [12, 2, []]);
  assert.deepEqual([d[2]!.mailbox, d[2]!.uid, d[2]!.flags, d[2]!.internal_date, d[2]!.outcome], ['Sent', 1, ['\\Seen'], '22-Oct-2024 08:00:00 +0000', 'ok']);
  assert.equal(facts.messages_fetched_whole, 2);
  assert.equal(facts.messages_appended, 1);
  assert.deepEqual(facts.flags_set, { '\\Deleted': 2 });
  assert.equal(facts.messages_expunged, 2);
  assert.equal(facts.messages_moved, 2);
  assert.deepEqual(facts.mailboxes_selected, [{ mailbox: 'INBOX', mode: 'select', exists: 2, uidvalidity: 77, outcome: 'ok', frame: 9 }]);
  assert.equal(facts.logout, true);
  const ev = ctx.extras.filter((e) => e.stream === 'mailbox_events').map((e) => e.record);
  assert.deepEqual(ev.map((e) => e.event), ['select', 'fetch', 'fetch', 'append', 'flag-set', 'expunge', 'move']);
  assert.deepEqual(ev[6], { event: 'move', mailbox: 'INBOX', target_mailbox: 'Archive', uids: '5:6', count: 2, outcome: 'ok' });
  // Transcript: tags correlate, literals are data entries with byte counts, never content.
  const replies = ctx.entries('reply').filter((e) => e.tag !== undefined);
  assert.deepEqual(replies.map((e) => [e.tag, e.command, e.status]).slice(0, 3), [['a1', 'ID', 'OK'], ['a2', 'LOGIN', 'OK'], ['a3', 'LIST', 'OK']]);
  assert.deepEqual(ctx.entries('data').map((e) => [e.side, e.bytes]), [['server', MSG1.length], ['server', MSG2.length], ['client', MSG2.length]]);
  assert.deepEqual(ctx.anomalyCodes(), []);
});

test('maxPendingCommands 0 and 2: the oldest waiting command is dropped and named, never a crash', () => {
  const steps: DialogueStep[] = [
    GREETING,
    ['client', 'a1 NOOP\r\na2 NOOP\r\na3 NOOP\r\n'],
    ['server', 'a1 OK done\r\na2 OK done\r\na3 OK done\r\n'],
    ['client', 'a4 LOGOUT\r\n'],
    ['server', '* BYE\r\na4 OK bye\r\n'],
  ];
  // 0 used to read the tag of an empty queue's first entry (TypeError, analyzer stopped).
  for (const [limit, dropped] of [
    [0, ['a1', 'a2']],
    [2, ['a1']],
  ] as const) {
    const { ctx } = play(steps, { limits: { maxPendingCommands: limit } });
    const overflow = ctx.anomalies.filter((x) => x.code === 'imap_pending_overflow').map((x) => x.detail);
    assert.deepEqual(overflow, dropped.map((t) => `dropped NOOP ${t}`), `limit ${limit}`);
    assert.ok(!ctx.anomalyCodes().includes('internal_error'));
    const completions = ctx.entries('reply').filter((e) => e.tag !== undefined && e.tag !== null).map((e) => e.tag);
    assert.ok(completions.includes('a4'), `the session goes on after the overflow (limit ${limit})`);
  }
});

test('LOGIN with literals (synchronizing + LITERAL+), failed LOGIN is a failure credential', () => {
  const { ctx } = play([
    GREETING,
    ['client', 'a1 LOGIN {3}\r\n'],
    ['server', '+ go\r\n'],
    ['client', 'bob {6+}\r\nse{r)t\r\n'],
    ['server', 'a1 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n'],
    ['client', 'a2 LOGIN bob "x"\r\n'],
    ['server', 'a2 OK\r\n'],
  ]);
  assert.deepEqual(ctx.credentials.map((c) => [c.entry.username, c.entry.secret, c.entry.outcome, c.entry.reply]), [
    ['bob', 'se{r)t', 'failure', 'a1 NO [AUTHENTICATIONFAILED] Authentication failed.'],
    ['bob', 'x', 'success', 'a2 OK'],
  ]);
  const cmd = ctx.entries('command')[0]!;
  assert.equal(cmd.argument, '"bob" "se{r)t"');
  assert.deepEqual(cmd.lines, ['a1 LOGIN {3}', ' {6+}', '']);
});

test('synchronizing literal refused with a tagged NO: the client never sends it, parsing goes on', () => {
  const { ctx } = play([
    GREETING,
    ['client', 'a1 APPEND Huge {999999999}\r\n'],
    ['server', 'a1 NO [TOOBIG] too big\r\n'],
    ['client', 'a2 NOOP\r\n'],
    ['server', 'a2 OK\r\n'],
  ]);
  assert.deepEqual(ctx.entries('command').map((e) => e.command), ['APPEND', 'NOOP']);
  assert.equal(ctx.messages.length, 1);
  assert.equal(ctx.messages[0]!.closed?.delivery.outcome, 'no');
  assert.equal(ctx.messages[0]!.ended?.complete, false);
  assert.deepEqual(ctx.entries('reply').map((e) => e.tag), [undefined, 'a1', 'a2']);
  assert.deepEqual(ctx.entries('data'), [], 'no literal bytes were sent');
});

test('literal announced bigger than the stream: message partial, anomaly, no hang', () => {
  const { ctx } = play([
    GREETING,
    ['client', 'a1 FETCH 1 BODY[]\r\n'],
    ['server', '* 1 FETCH (BODY[] {100000}\r\nSubject: cut\r\n\r\nonly this'],
  ]);
  assert.equal(ctx.messages.length, 1);
  const m = ctx.messages[0]!;
  assert.equal(messageBytes(m).toString(), 'Subject: cut\r\n\r\nonly this');
  assert.equal(m.ended?.complete, false);
  // The literal's size tells how much never came.
  assert.equal(m.missingBytes, 100000 - 'Subject: cut\r\n\r\nonly this'.length);
  assert.ok(ctx.anomalyCodes().includes('imap_literal_incomplete'));
});

test('gap inside a literal is a hole in the message; lines resume after it', () => {
  const body = 'Subject: gap\r\n\r\n' + 'x'.repeat(50) + '\r\n';
  const cut = 20;
  const { ctx, facts } = play([
    GREETING,
    ['client', 'a1 FETCH 1 RFC822\r\n'],
    ['server', `* 1 FETCH (RFC822 {${body.length}}\r\n${body.slice(0, cut)}`],
    ['gap', 'server', 10],
    ['server', `${body.slice(cut + 10)})\r\na1 OK done\r\n`],
  ]);
  const m = ctx.messages[0]!;
  assert.equal(m.missingBytes, 10);
  assert.equal(messageBytes(m).length, body.length - 10);
  assert.equal(m.ended?.complete, false);
  assert.equal(facts.messages_fetched_whole, 1);
  assert.deepEqual(ctx.entries('reply').map((e) => e.status ?? e.command).slice(-2), ['FETCH', 'OK']);
});

test('header-only and partial fetches are kept as partial messages with their section', () => {
  const hdr = 'From: x@y\r\nSubject: h\r\n\r\n';
  const { ctx, facts } = play([
    GREETING,
    ['client', 'a1 FETCH 1:2 (BODY.PEEK[HEADER.FIELDS (FROM SUBJECT)] BODY.PEEK[]<0.10>)\r\n'],
    ['server', `* 1 FETCH (BODY[HEADER.FIELDS (FROM SUBJECT)] {${hdr.length}}\r\n${hdr} BODY[]<0> {10}\r\n0123456789)\r\na1 OK\r\n`],
  ]);
  assert.equal(ctx.messages.length, 2);
  // Both came in full (complete), as the excerpts the client asked for.
  assert.deepEqual(ctx.messages.map((m) => [m.closed!.delivery.section, m.closed!.delivery.origin, m.closed!.delivery.whole, m.ended!.complete, m.ended!.excerpt]), [
    ['HEADER.FIELDS (FROM SUBJECT)', null, false, true, 'head'],
    ['', '0', false, true, 'head'],
  ]);
  assert.equal(messageBytes(ctx.messages[0]!).toString(), hdr);
  assert.equal(facts.messages_fetched_partial, 2);
});

test('AUTHENTICATE PLAIN with SASL-IR and AUTHENTICATE LOGIN with challenges', () => {
  const plain = Buffer.from('\0carol\0pw1').toString('base64');
  const { ctx, facts } = play([
    GREETING,
    ['client', `a1 AUTHENTICATE PLAIN ${plain}\r\n`],
    ['server', 'a1 NO bad\r\n'],
    ['client', 'a2 AUTHENTICATE LOGIN\r\n'],
    ['server', `+ ${Buffer.from('Username:').toString('base64')}\r\n`],
    ['client', `${Buffer.from('carol').toString('base64')}\r\n`],
    ['server', `+ ${Buffer.from('Password:').toString('base64')}\r\n`],
    ['client', `${Buffer.from('pw2').toString('base64')}\r\n`],
    ['server', 'a2 OK logged in\r\n'],
  ]);
  assert.deepEqual(ctx.credentials.map((c) => [c.entry.mechanism, c.entry.username, c.entry.secret, c.entry.outcome]), [
    ['PLAIN', 'carol', 'pw1', 'failure'],
    ['LOGIN', 'carol', 'pw2', 'success'],
  ]);
  assert.equal(ctx.entries('auth').length, 4);
  assert.deepEqual(facts.auth.map((x) => x.outcome), ['failure', 'success']);
});

test('STARTTLS: tls entry, encrypted, rest counted', () => {
  const { ctx, facts, a } = play([
    GREETING,
    ['client', 'a1 STARTTLS\r\n'],
    ['server', 'a1 OK Begin TLS\r\n'],
    ['client', '\x16\x03\x01\x00\x05hello'],
    ['server', '\x16\x03\x03\x00\x02hi'],
  ]);
  assert.equal(a.summary().transport, 'starttls');
  assert.equal(ctx.encryptedAt?.frame, 4);
  assert.equal(ctx.entries('tls').length, 1);
  assert.deepEqual(facts.encrypted_bytes, { client: 10, server: 7 });
  assert.deepEqual(ctx.anomalyCodes(), []);
});

test('COMPRESS=DEFLATE: both directions inflated, parsing goes on (message byte-exact)', () => {
  const cz = new SyncDeflater();
  const sz = new SyncDeflater();
  const { ctx, facts } = play([
    GREETING,
    ['client', 'a1 COMPRESS DEFLATE\r\n'],
    ['server', 'a1 OK DEFLATE active\r\n'],
    ['client', cz.push('a2 LOGIN dave "zip"\r\n')],
    ['server', sz.push('a2 OK\r\n')],
    ['client', cz.push('a3 SELECT INBOX\r\n')],
    ['server', sz.push('a3 OK\r\n')],
    ['client', cz.push('a4 FETCH 1 BODY[]\r\n')],
    ['server', sz.push(`* 1 FETCH (BODY[] {${MSG1.length}}\r\n${MSG1})\r\na4 OK\r\n`)],
  ]);
  cz.close();
  sz.close();
  assert.equal(facts.compress.accepted, true);
  assert.equal(facts.compress.inflated, true);
  assert.deepEqual(ctx.credentials.map((c) => [c.entry.username, c.entry.secret, c.entry.outcome]), [['dave', 'zip', 'success']]);
  assert.equal(messageBytes(ctx.messages[0]!).toString('latin1'), MSG1);
  assert.deepEqual(ctx.anomalyCodes(), []);
});

test('COMPRESS bomb: bounded per compressed chunk, anomaly, rest counted', () => {
  // The bound is per input chunk, so this runs whole only (a byte-by-byte feed never exceeds it).
  const sz = new SyncDeflater();
  const ctx = new FakeContext({ limits: { maxInflateBytesPerChunk: 100_000 } });
  const a = new ImapAnalyzer(ctx);
  runDialogue(a, [GREETING, ['client', 'a1 COMPRESS DEFLATE\r\n'], ['server', 'a1 OK\r\n'], ['server', sz.push(Buffer.alloc(2_000_000, 0x41))], ['server', sz.push('* BYE\r\n')]]);
  sz.close();
  assert.deepEqual(ctx.anomalyCodes(), ['imap_compress_bomb']);
  const f = (a.summary().facts as { imap: ImapSessionFacts }).imap;
  assert.ok((f.compressed_bytes?.server ?? 0) > 0);
  assert.equal(f.bye, null, 'nothing parsed after the bomb');
});

test('IDLE/DONE, MULTIAPPEND, unknown command, untagged BYE', () => {
  const { ctx, facts } = play([
    ['server', '* PREAUTH ready\r\n'],
    ['client', 'a1 IDLE\r\n'],
    ['server', '+ idling\r\n* 3 EXISTS\r\n'],
    ['client', 'DONE\r\n'],
    ['server', 'a1 OK IDLE terminated\r\n'],
    ['client', `a2 APPEND Drafts {${MSG1.length}+}\r\n${MSG1} (\\Draft) {${MSG2.length}+}\r\n${MSG2}\r\n`],
    ['server', 'a2 OK [APPENDUID 5 7:8] done\r\n'],
    ['client', 'a3 XFROB now\r\n'],
    ['server', 'a3 BAD unknown\r\n'],
  ]);
  assert.deepEqual(ctx.entries('command').map((e) => e.command), ['IDLE', 'DONE', 'APPEND', 'XFROB']);
  assert.equal(facts.idle, 1);
  assert.deepEqual(ctx.messages.map((m) => [m.open.transport, messageBytes(m).toString('latin1'), m.closed!.delivery.uid, m.closed!.delivery.mailbox]), [
    ['imap-append', MSG1, 7, 'Drafts'],
    ['imap-append', MSG2, 8, 'Drafts'],
  ]);
  assert.deepEqual(ctx.messages[1]!.closed!.delivery.flags, ['\\Draft']);
  assert.deepEqual(facts.unknown_commands, ['a3 XFROB now']);
  assert.deepEqual(ctx.anomalyCodes(), ['imap_unknown_command']);
});

test('mid-stream start: unparsed until a real response/command, no throw on garbage', () => {
  const { ctx } = play(
    [
      ['server', 'tail of a literal\r\nmore body\r\n)\r\n'],
      ['server', 'a9 OK Fetch completed\r\n'],
      ['client', 'a10 NOOP\r\n'],
      ['server', 'a10 OK\r\n'],
    ],
    { sawHandshake: false },
  );
  assert.equal(ctx.entries('unparsed').length, 1);
  assert.deepEqual(ctx.entries('command').map((e) => e.tag), ['a10']);
  assert.ok(ctx.anomalyCodes().includes('imap_midstream'));
  const ctx2 = new FakeContext();
  const a2 = new ImapAnalyzer(ctx2);
  const junk = Buffer.from('* 1 FETCH ((((((((( {5}\r\n\x00\x01\x02\x03\x04 ~{99999999999999999}\r\n"\r\n+\r\n{0}\r\n\r\n');
  assert.doesNotThrow(() => {
    a2.onData('server', junk, { frame: 2, ts: { sec: 1, nsec: 0 } });
    a2.onData('client', junk, { frame: 3, ts: { sec: 1, nsec: 0 } });
    a2.onClose('fin', { frame: 4, ts: { sec: 1, nsec: 0 } });
  });
});

test('spec sniffing: greetings and tagged client commands', () => {
  const b = (s: string): Uint8Array => Buffer.from(s);
  assert.equal(IMAP_SPEC.sniff(b(''), b('* OK Dovecot ready.\r\n')), 'yes');
  assert.equal(IMAP_SPEC.sniff(b(''), b('* PREAUTH hi\r\n')), 'yes');
  assert.equal(IMAP_SPEC.sniff(b('a001 CAPABILITY\r\n'), b('')), 'yes');
  assert.equal(IMAP_SPEC.sniff(b(''), b('+OK POP3 ready\r\n')), 'no');
  assert.equal(IMAP_SPEC.sniff(b(''), b('220 mx ESMTP\r\n')), 'no');
  assert.equal(IMAP_SPEC.sniff(b('EHLO x\r\n'), b('')), 'no');
  assert.equal(IMAP_SPEC.sniff(b(''), b('* O')), 'maybe');
  assert.deepEqual([IMAP_SPEC.ports, IMAP_SPEC.tlsPorts], [[143], [993]]);
});

test('fetchExcerpt: what a FETCH item that is not the whole message carries (RFC 3501 section-spec)', () => {
  const cases: [string, string | null, string | null, 'head' | 'content'][] = [
    ['BODY[HEADER]', 'HEADER', null, 'head'],
    ['BODY[HEADER.FIELDS (FROM SUBJECT)]', 'HEADER.FIELDS (FROM SUBJECT)', null, 'head'],
    ['BODY[HEADER.FIELDS.NOT (RECEIVED)]', 'HEADER.FIELDS.NOT (RECEIVED)', null, 'head'],
    ['BODY[header]', 'header', null, 'head'],
    ['BODY[2.MIME]', '2.MIME', null, 'head'],
    ['BODY[3.1.HEADER]', '3.1.HEADER', null, 'head'],
    ['BODY[]', '', '0', 'head'],
    ['RFC822.HEADER', null, null, 'head'],
    ['BODY[TEXT]', 'TEXT', null, 'content'],
    ['BODY[1]', '1', null, 'content'],
    ['BODY[1.2]', '1.2', null, 'content'],
    ['BODY[2.TEXT]', '2.TEXT', null, 'content'],
    ['BINARY[1]', '1', null, 'content'],
    ['RFC822.TEXT', null, null, 'content'],
    ['BODY[]', '', '1024', 'content'],
    ['BODY[HEADER]', 'HEADER', '10', 'content'],
  ];
  for (const [attr, section, origin, want] of cases) {
    assert.equal(fetchExcerpt(attr.toUpperCase(), section, origin), want, `${attr} ${section} <${origin}>`);
  }
});

test('a BODY[TEXT] fetch ends complete as a content excerpt; a cut one ends incomplete', () => {
  const body = 'Hello,\r\nsee you.\r\n';
  const { ctx } = play([
    GREETING,
    ['client', 'a1 FETCH 1 (BODY.PEEK[TEXT])\r\n'],
    ['server', `* 1 FETCH (BODY[TEXT] {${body.length}}\r\n${body})\r\na1 OK\r\n`],
    ['client', 'a2 FETCH 2 (BODY.PEEK[TEXT])\r\n'],
    ['server', `* 2 FETCH (BODY[TEXT] {${body.length + 20}}\r\n${body}`],
  ]);
  assert.equal(ctx.messages.length, 2);
  assert.deepEqual(ctx.messages.map((m) => [m.ended!.complete, m.ended!.excerpt]), [
    [true, 'content'],
    [false, 'content'],
  ]);
});
