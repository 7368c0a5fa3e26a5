import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ImapAnalyzer } from './imap-analyzer.js';
import type { ImapSessionFacts } from './imap-facts.js';
import { messageBytes, sha256 } from '../../../test/helpers/fake-context.js';
import { playTls } from '../../../test/helpers/tls-passthrough-context.js';
import type { DialogueStep } from '../../../test/helpers/chunkings.js';

// RFC 3501 §6.2.1 / RFC 9051 §6.2.1: tagged OK to STARTTLS, then TLS; no new greeting, the client
// re-issues CAPABILITY and the session is still not authenticated.

const CLIENT_HELLO = Buffer.from('160301000a0100000603030102030405', 'hex');
const SERVER_HELLO = Buffer.from('160303000702000003030a0b', 'hex');
const SERVER_MORE = Buffer.from('17030300062a204f4b0d0a', 'hex'); // contains "* OK\r\n": must not be parsed
const CLIENT_MORE = Buffer.from('1703030008613220{5}\r\n', 'latin1');

const PRE: DialogueStep[] = [
  ['server', '* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready\r\n'],
  ['client', 'a1 STARTTLS\r\n'],
];

function facts(a: ImapAnalyzer): ImapSessionFacts {
  return (a.summary().facts as { imap: ImapSessionFacts }).imap;
}

test('STARTTLS: encryptedData gets exactly the bytes after the tagged OK on each side (same chunk included)', () => {
  const { ctx, a } = playTls(
    (c) => new ImapAnalyzer(c),
    [
      ...PRE,
      ['server', Buffer.concat([Buffer.from('a1 OK Begin TLS negotiation now\r\n'), SERVER_HELLO])],
      ['client', CLIENT_HELLO],
      ['server', SERVER_MORE],
      ['gap', 'server', 11],
      ['client', CLIENT_MORE],
    ],
    false,
  );
  assert.deepEqual(ctx.wireBytes('server'), Buffer.concat([SERVER_HELLO, SERVER_MORE]));
  assert.deepEqual(ctx.wireBytes('client'), Buffer.concat([CLIENT_HELLO, CLIENT_MORE]));
  assert.deepEqual(ctx.wireGaps, [{ side: 'server', length: 11 }]);
  assert.deepEqual(facts(a).encrypted_bytes, { client: CLIENT_HELLO.length + CLIENT_MORE.length, server: SERVER_HELLO.length + SERVER_MORE.length + 11 });
  assert.equal(a.summary().transport, 'starttls');
  const kinds = ctx.transcripts.map((t) => t.entry.kind);
  assert.deepEqual(kinds.slice(kinds.indexOf('tls') + 1), ['gap']);
  // Server bytes in the OK's segment, before any ClientHello, cannot be the server's TLS answer.
  assert.deepEqual(ctx.anomalyCodes(), ['imap_starttls_injection']);
});

test('STARTTLS refused (NO): nothing forwarded, parsing goes on in cleartext', () => {
  const { ctx, a } = playTls(
    (c) => new ImapAnalyzer(c),
    [...PRE, ['server', 'a1 NO not now\r\n'], ['client', 'a2 CAPABILITY\r\n'], ['server', '* CAPABILITY IMAP4rev1\r\na2 OK\r\n']],
    false,
  );
  assert.equal(ctx.wireBytes('client').length + ctx.wireBytes('server').length, 0);
  assert.equal(a.summary().transport, 'cleartext');
  assert.ok(ctx.entries('command').some((e) => e.command === 'CAPABILITY'));
});

const MSG = 'From: a@example.com\r\nSubject: over tls\r\nMessage-ID: <t@x>\r\n\r\nbody {3}\r\n)\r\n';

test('STARTTLS + decrypted dialogue: CAPABILITY, AUTHENTICATE PLAIN (SASL-IR), SELECT, UID FETCH BODY[], LOGOUT', () => {
  const ir = Buffer.from('\0carol\0pw-over-tls').toString('base64');
  const { ctx, a } = playTls(
    (c) => new ImapAnalyzer(c),
    [
      ...PRE,
      ['server', 'a1 OK Begin TLS negotiation now\r\n'],
      ['client', 'a2 CAPABILITY\r\n'],
      ['server', '* CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN ID\r\na2 OK done\r\n'],
      ['client', `a3 AUTHENTICATE PLAIN ${ir}\r\n`],
      ['server', 'a3 OK authenticated\r\n'],
      ['client', 'a4 SELECT INBOX\r\n'],
      ['server', '* 1 EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\na4 OK [READ-WRITE] SELECT completed\r\n'],
      ['client', 'a5 UID FETCH 1 BODY[]\r\n'],
      ['server', `* 1 FETCH (UID 1 BODY[] {${MSG.length}}\r\n${MSG} FLAGS (\\Seen))\r\na5 OK FETCH done\r\n`],
      ['client', 'a6 LOGOUT\r\n'],
      ['server', '* BYE\r\na6 OK\r\n'],
    ],
    true,
  );
  const f = facts(a);
  assert.deepEqual(ctx.entries('command').map((e) => e.command), ['STARTTLS', 'CAPABILITY', 'AUTHENTICATE', 'SELECT', 'UID FETCH', 'LOGOUT']);
  assert.deepEqual(
    ctx.credentials.map((c) => [c.entry.mechanism, c.entry.username, c.entry.secret, c.entry.outcome]),
    [['PLAIN', 'carol', 'pw-over-tls', 'success']],
  );
  assert.equal(ctx.messages.length, 1);
  assert.equal(sha256(messageBytes(ctx.messages[0])), sha256(Buffer.from(MSG, 'latin1')));
  assert.equal(ctx.messages[0].closed?.delivery.mailbox, 'INBOX');
  assert.equal(ctx.messages[0].closed?.delivery.uid, 1);
  assert.equal(f.starttls.accepted, true);
  assert.ok(f.capabilities.includes('AUTH=PLAIN'), 'post-TLS capabilities recorded');
  assert.deepEqual(f.auth.map((x) => [x.mechanism, x.username, x.outcome]), [['PLAIN', 'carol', 'success']]);
  assert.equal(a.summary().transport, 'starttls');
  assert.deepEqual(ctx.anomalyCodes(), []);
});
