import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Pop3Analyzer } from './pop3-analyzer.js';
import type { Pop3SessionFacts } from './pop3-facts.js';
import { messageBytes, sha256 } from '../../../test/helpers/fake-context.js';
import { playTls } from '../../../test/helpers/tls-passthrough-context.js';
import type { DialogueStep } from '../../../test/helpers/chunkings.js';

// RFC 2595 §4: STLS, "+OK", then TLS; after it no greeting, the client goes on in AUTHORIZATION.

const CLIENT_HELLO = Buffer.from('160301000a0100000603030102030405', 'hex');
const SERVER_HELLO = Buffer.from('160303000702000003030a0b', 'hex');
const SERVER_MORE = Buffer.from('1703030004deadbeef', 'hex');
const CLIENT_MORE = Buffer.from('17030300020d0a2e0d0a', 'hex'); // contains CRLF.CRLF: must not be parsed

const PRE: DialogueStep[] = [
  ['server', '+OK POP3 ready <1896.697170952@dbc.mtview.ca.us>\r\n'],
  ['client', 'CAPA\r\n'],
  ['server', '+OK\r\nUSER\r\nSTLS\r\nSASL PLAIN\r\n.\r\n'],
  ['client', 'STLS\r\n'],
];

function facts(a: Pop3Analyzer): Pop3SessionFacts {
  return (a.summary().facts as { pop3: Pop3SessionFacts }).pop3;
}

test('STLS: encryptedData gets exactly the bytes after "+OK" on each side (same chunk included), gaps forwarded', () => {
  const { ctx, a } = playTls(
    (c) => new Pop3Analyzer(c),
    [
      ...PRE,
      ['server', Buffer.concat([Buffer.from('+OK Begin TLS\r\n'), SERVER_HELLO])],
      ['client', CLIENT_HELLO],
      ['server', SERVER_MORE],
      ['gap', 'client', 7],
      ['client', CLIENT_MORE],
    ],
    false,
  );
  assert.deepEqual(ctx.wireBytes('server'), Buffer.concat([SERVER_HELLO, SERVER_MORE]));
  assert.deepEqual(ctx.wireBytes('client'), Buffer.concat([CLIENT_HELLO, CLIENT_MORE]));
  assert.deepEqual(ctx.wireGaps, [{ side: 'client', length: 7 }]);
  const f = facts(a);
  assert.deepEqual(f.encrypted_bytes, { client: CLIENT_HELLO.length + 7 + CLIENT_MORE.length, server: SERVER_HELLO.length + SERVER_MORE.length });
  assert.equal(f.stls.accepted, true);
  assert.equal(a.summary().transport, 'starttls');
  assert.equal(ctx.entries('tls').length, 1);
  // Nothing after the tls entry was parsed as POP3.
  const kinds = ctx.transcripts.map((t) => t.entry.kind);
  assert.deepEqual(kinds.slice(kinds.indexOf('tls') + 1), ['gap']);
  assert.equal(ctx.messages.length, 0);
  // Server bytes in the "+OK" segment, before any ClientHello, cannot be the server's TLS answer.
  assert.deepEqual(ctx.anomalyCodes(), ['pop3_stls_injection']);
});

test('STLS refused (-ERR): nothing is forwarded, the session stays cleartext', () => {
  const { ctx, a } = playTls(
    (c) => new Pop3Analyzer(c),
    [...PRE, ['server', '-ERR not now\r\n'], ['client', 'USER bob\r\n'], ['server', '+OK\r\n']],
    false,
  );
  assert.equal(ctx.wireBytes('client').length + ctx.wireBytes('server').length, 0);
  assert.equal(a.summary().transport, 'cleartext');
  assert.ok(ctx.entries('command').some((e) => e.command === 'USER'));
});

const MSG = 'From: a@example.com\r\nTo: b@example.com\r\nSubject: over tls\r\n\r\nline\r\n.dot\r\n';

test('STLS + decrypted dialogue: CAPA again, USER/PASS, RETR, DELE, QUIT parsed as a fresh phase', () => {
  const { ctx, a } = playTls(
    (c) => new Pop3Analyzer(c),
    [
      ...PRE,
      ['server', '+OK Begin TLS\r\n'],
      ['client', 'CAPA\r\n'],
      ['server', '+OK\r\nUSER\r\nSASL PLAIN LOGIN\r\nUIDL\r\n.\r\n'],
      ['client', 'USER alice\r\n'],
      ['server', '+OK\r\n'],
      ['client', 'PASS s3cret\r\n'],
      ['server', '+OK maildrop has 1 message\r\n'],
      ['client', 'RETR 1\r\n'],
      ['server', `+OK ${MSG.length} octets\r\n${MSG.replace(/\r\n\./g, '\r\n..')}.\r\n`],
      ['client', 'DELE 1\r\nQUIT\r\n'],
      ['server', '+OK deleted\r\n+OK bye\r\n'],
    ],
    true,
  );
  const f = facts(a);
  assert.equal(ctx.entries('tls').length, 1);
  const cmds = ctx.entries('command').map((e) => e.command);
  assert.deepEqual(cmds, ['CAPA', 'STLS', 'CAPA', 'USER', 'PASS', 'RETR', 'DELE', 'QUIT']);
  assert.deepEqual(
    ctx.credentials.map((c) => [c.entry.mechanism, c.entry.username, c.entry.secret, c.entry.outcome]),
    [['USER/PASS', 'alice', 's3cret', 'success']],
  );
  assert.equal(ctx.messages.length, 1);
  assert.equal(sha256(messageBytes(ctx.messages[0])), sha256(Buffer.from(MSG, 'latin1')));
  assert.equal(ctx.messages[0].ended?.complete, true);
  assert.deepEqual(f.capabilities, ['USER', 'SASL PLAIN LOGIN', 'UIDL'], 'post-TLS CAPA replaces the cleartext list');
  assert.equal(f.user, 'alice');
  assert.equal(f.deletion, 'committed');
  assert.equal(f.final_state, 'update');
  assert.equal(f.stls.accepted, true);
  assert.equal(a.summary().transport, 'starttls');
  assert.deepEqual(ctx.anomalyCodes(), []);
  // Pre-TLS facts are kept.
  assert.equal(f.apop_timestamp, '<1896.697170952@dbc.mtview.ca.us>');
});

test('STLS + decrypted AUTH PLAIN (SASL lines are auth entries, credential decoded)', () => {
  const plain = Buffer.from('\0bob\0hunter2').toString('base64');
  const { ctx, a } = playTls(
    (c) => new Pop3Analyzer(c),
    [...PRE, ['server', '+OK\r\n'], ['client', 'AUTH PLAIN\r\n'], ['server', '+ \r\n'], ['client', `${plain}\r\n`], ['server', '+OK welcome\r\n'], ['client', 'STAT\r\n'], ['server', '+OK 0 0\r\n']],
    true,
  );
  assert.deepEqual(
    ctx.credentials.map((c) => [c.entry.mechanism, c.entry.username, c.entry.secret, c.entry.outcome]),
    [['PLAIN', 'bob', 'hunter2', 'success']],
  );
  assert.deepEqual(ctx.entries('auth').map((e) => [e.side, e.lines]), [['server', ['+ ']], ['client', [plain]]]);
  assert.equal(facts(a).final_state, 'transaction');
  assert.deepEqual(ctx.anomalyCodes(), []);
});
