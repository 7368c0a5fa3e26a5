import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { POP3_SPEC } from './pop3-spec.js';
import { SMTP_SPEC } from '../smtp/smtp-spec.js';
import { apopTimestamp, isMultiLine, parseApop, parseOctets, parseStat, parseTopArgs, splitCommand, statusOf } from './pop3-commands.js';
import { pop3Transition } from './pop3-states.js';
import type { Pop3State } from './pop3-states.js';
import { analyze } from '../../pipeline/analyze.js';
import { TcpConversation } from '../../../test/helpers/pcap-writer.js';

const b = (s: string): Uint8Array => Buffer.from(s, 'latin1');

test('sniff: a +OK greeting answered by USER/CAPA/AUTH/APOP/STLS is POP3; Redis, SMTP, IMAP, FTP are not', () => {
  const S = (c: string, s: string): string => POP3_SPEC.sniff(b(c), b(s));
  for (const c of ['USER bob\r\n', 'capa\r\n', 'AUTH PLAIN\r\n', 'APOP mrose c4c9\r\n', 'STLS\r\n']) assert.equal(S(c, '+OK ready\r\n'), 'yes', c);
  assert.equal(S('', '+OK POP3 ready\r\n'), 'maybe');
  assert.equal(S('US', '+OK ready\r\n'), 'maybe');
  assert.equal(S('USER x\r\n', ''), 'maybe');
  assert.equal(S('USER x\r\n', '-ERR go away\r\n'), 'yes');
  assert.equal(S('*1\r\n$4\r\nPING\r\n', '+PONG\r\n'), 'no'); // Redis
  assert.equal(S('SET k v\r\n', '+OK\r\n'), 'no'); // Redis answering +OK
  assert.equal(S('EHLO x\r\n', '220 mx ESMTP\r\n'), 'no');
  assert.equal(S('a1 LOGIN x y\r\n', '* OK IMAP4rev1\r\n'), 'no');
  assert.equal(S('USER anonymous\r\n', '220 FTP ready\r\n'), 'no'); // FTP
  // SMTP does not claim a POP3 session either.
  assert.equal(SMTP_SPEC.sniff(b('USER bob\r\n'), b('+OK ready\r\n')), 'no');
  assert.deepEqual([POP3_SPEC.ports, POP3_SPEC.tlsPorts], [[110], [995]]);
});

test('command and status grammar', () => {
  assert.deepEqual(splitCommand('pass my secret '), { verb: 'PASS', argument: 'my secret ' });
  assert.equal(statusOf('+OK'), 'ok');
  assert.equal(statusOf('+ok 2 messages'), 'ok');
  assert.equal(statusOf('-ERR'), 'err');
  assert.equal(statusOf('-err no'), 'err');
  assert.equal(statusOf('+ '), 'continue');
  assert.equal(statusOf('+ dGVzdA=='), 'continue');
  assert.equal(statusOf('+OKAY'), 'none');
  assert.equal(statusOf('1 120'), 'none');
  assert.equal(apopTimestamp('POP3 server ready <1896.697170952@dbc.mtview.ca.us>'), '<1896.697170952@dbc.mtview.ca.us>');
  assert.equal(apopTimestamp('Dovecot ready.'), null);
  assert.deepEqual(parseApop('mrose c4c9334bac560ecc979e58001b3e22fb'), { user: 'mrose', digest: 'c4c9334bac560ecc979e58001b3e22fb' });
  assert.deepEqual(parseStat('2 320'), { count: 2, size: 320 });
  assert.equal(parseStat('two 320'), null);
  assert.deepEqual(parseTopArgs('1 10'), { msg: 1, lines: 10 });
  assert.deepEqual(parseTopArgs('0 x'), { msg: null, lines: null });
  assert.equal(parseOctets('120 octets'), 120);
  assert.equal(parseOctets('message follows'), null);
  // RFC 1939 §3/§5/§7, RFC 2449 §5: which +OK replies are multi-line.
  assert.deepEqual(
    [['LIST', ''], ['LIST', '1'], ['UIDL', ''], ['UIDL', '2'], ['RETR', '1'], ['TOP', '1 0'], ['CAPA', ''], ['STAT', ''], ['AUTH', ''], ['AUTH', 'PLAIN'], ['DELE', '1']].map(([v, a]) => isMultiLine(v, a)),
    [true, false, true, false, true, true, true, false, true, false, false],
  );
});

test('state machine: AUTHORIZATION -> TRANSACTION -> UPDATE, wrong-state commands named', () => {
  let s: Pop3State = 'connected';
  const go = (ev: Parameters<typeof pop3Transition>[1]): string | null => {
    const r = pop3Transition(s, ev);
    s = r.state;
    return r.anomaly;
  };
  assert.equal(go({ kind: 'greeting', ok: true }), null);
  assert.equal(s, 'authorization');
  assert.equal(go({ kind: 'command', verb: 'RETR' }), 'pop3_command_wrong_state');
  assert.equal(go({ kind: 'reply', verb: 'PASS', ok: false }), null);
  assert.equal(s, 'authorization');
  go({ kind: 'reply', verb: 'PASS', ok: true });
  assert.equal(s, 'transaction');
  assert.equal(go({ kind: 'command', verb: 'USER' }), 'pop3_command_wrong_state');
  go({ kind: 'gap' });
  assert.equal(s, 'transaction');
  go({ kind: 'reply', verb: 'QUIT', ok: true });
  assert.equal(s, 'update');
  assert.equal(go({ kind: 'command', verb: 'NOOP' }), 'pop3_command_after_quit');
  assert.equal(pop3Transition('authorization', { kind: 'reply', verb: 'QUIT', ok: true }).state, 'closed');
  assert.equal(pop3Transition('authorization', { kind: 'reply', verb: 'STLS', ok: true }).state, 'tls');
  assert.equal(pop3Transition('connected', { kind: 'greeting', ok: false }).state, 'closed');
});

test('pipeline: POP3 on a non-standard port is identified by content and analysed', async () => {
  const body = 'Subject: hi\r\n\r\n.dot line\r\nbye\r\n';
  const conv = new TcpConversation({ ip: '10.0.0.1', port: 40000 }, { ip: '10.0.0.2', port: 11110 });
  conv.handshake();
  conv.serverSends('+OK ready <1.2@host>\r\n');
  conv.clientSends('USER carol\r\n');
  conv.serverSends('+OK\r\n');
  conv.clientSends('PASS hunter2\r\n');
  conv.serverSends('+OK\r\n');
  conv.clientSends('RETR 1\r\n');
  conv.serverSends(`+OK ${body.length} octets\r\n${body.replace('\r\n.', '\r\n..')}.\r\n`, { segmentSize: 7 });
  conv.clientSends('QUIT\r\n');
  conv.serverSends('+OK\r\n');
  conv.fin();
  const s = await analyze(Readable.from([Buffer.from(conv.pcap())]), { outDir: null });
  const r = s.records!;
  assert.equal(r.sessions.length, 1);
  assert.equal(r.sessions[0].protocol, 'pop3');
  assert.equal(r.sessions[0].identified_by, 'content');
  assert.deepEqual(r.credentials.map((c) => [c.username, c.secret, c.outcome]), [['carol', 'hunter2', 'success']]);
  assert.equal(r.messages.length, 1);
  assert.equal(r.messages[0].size, body.length);
  assert.equal(r.messages[0].headers.subject, 'hi');
  assert.deepEqual(r.anomalies.filter((a) => a.code.startsWith('pop3_')), []);
});
