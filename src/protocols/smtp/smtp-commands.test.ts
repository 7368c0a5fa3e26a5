import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseAuth,
  parseBdat,
  parseEsmtpParams,
  parseMailFrom,
  parseQueueId,
  parseRcptTo,
  parseReplyLine,
  splitCommand,
} from './smtp-commands.js';
import { SMTP_SPEC } from './smtp-spec.js';
import { smtpTransition } from './smtp-states.js';

test('splitCommand: case-insensitive verb, argument as sent', () => {
  assert.deepEqual(splitCommand('mail FROM:<a@b> size=817'), { verb: 'MAIL', argument: 'FROM:<a@b> size=817' });
  assert.deepEqual(splitCommand('QUIT'), { verb: 'QUIT', argument: '' });
  assert.deepEqual(splitCommand('StartTls'), { verb: 'STARTTLS', argument: '' });
});

test('parseMailFrom: brackets, spaces, null sender, params, source route', () => {
  assert.deepEqual(parseMailFrom('FROM:<alice@example.com>'), { address: 'alice@example.com', params: null, parsed: [], issues: [] });
  const sp = parseMailFrom('FROM: <alice@example.com> SIZE=1000 BODY=8BITMIME');
  assert.equal(sp.address, 'alice@example.com');
  assert.deepEqual(sp.issues, ['space_after_colon']);
  assert.equal(sp.params, 'SIZE=1000 BODY=8BITMIME');
  assert.deepEqual(sp.parsed, [
    { keyword: 'SIZE', value: '1000' },
    { keyword: 'BODY', value: '8BITMIME' },
  ]);
  assert.equal(parseMailFrom('FROM:<>').address, '');
  assert.equal(parseMailFrom('from:<> RET=HDRS ENVID=QQ314159').params, 'RET=HDRS ENVID=QQ314159');
  const nb = parseMailFrom('FROM:bob@example.com SMTPUTF8');
  assert.equal(nb.address, 'bob@example.com');
  assert.deepEqual(nb.issues, ['no_angle_brackets']);
  assert.deepEqual(nb.parsed, [{ keyword: 'SMTPUTF8', value: null }]);
  assert.equal(parseMailFrom('FROM:<@relay.a,@relay.b:joe@c.example>').address, 'joe@c.example');
  assert.equal(parseMailFrom('FROM:<"odd > local"@x.example> AUTH=<>').address, '"odd > local"@x.example');
  assert.equal(parseMailFrom('FROM:<"odd > local"@x.example> AUTH=<>').params, 'AUTH=<>');
  assert.equal(parseMailFrom('garbage').address, null);
});

test('parseRcptTo: DSN params', () => {
  const r = parseRcptTo('TO:<bob@example.com> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob@example.com');
  assert.equal(r.address, 'bob@example.com');
  assert.deepEqual(r.parsed, [
    { keyword: 'NOTIFY', value: 'SUCCESS,FAILURE' },
    { keyword: 'ORCPT', value: 'rfc822;bob@example.com' },
  ]);
  assert.equal(parseRcptTo('To:<Postmaster>').address, 'Postmaster');
});

test('parseEsmtpParams / parseBdat / parseAuth', () => {
  assert.deepEqual(parseEsmtpParams('NAME=spike ADDR=1.2.3.4'), [
    { keyword: 'NAME', value: 'spike' },
    { keyword: 'ADDR', value: '1.2.3.4' },
  ]);
  assert.deepEqual(parseBdat('1000'), { size: 1000, last: false });
  assert.deepEqual(parseBdat('0 last'), { size: 0, last: true });
  assert.deepEqual(parseBdat('-5'), { size: null, last: false });
  // RFC 3030 §2: only LAST may follow the size (suricata-verify smtp-bdat-bad-tail-reply-queue).
  assert.deepEqual(parseBdat('5 X'), { size: null, last: false });
  assert.deepEqual(parseBdat('5 LAST X'), { size: null, last: false });
  assert.deepEqual(parseBdat('5 LAST'), { size: 5, last: true });
  assert.deepEqual(parseAuth('plain AGJvYgA='), { mechanism: 'PLAIN', initialResponse: 'AGJvYgA=' });
  assert.deepEqual(parseAuth('LOGIN'), { mechanism: 'LOGIN', initialResponse: null });
});

test('parseReplyLine', () => {
  assert.deepEqual(parseReplyLine('250-PIPELINING'), { code: 250, continued: true, text: 'PIPELINING' });
  assert.deepEqual(parseReplyLine('221 2.0.0 Bye'), { code: 221, continued: false, text: '2.0.0 Bye' });
  assert.deepEqual(parseReplyLine('250'), { code: 250, continued: false, text: '' });
  assert.equal(parseReplyLine('+OK ready'), null);
  assert.equal(parseReplyLine('2500 x'), null);
  assert.equal(parseReplyLine('Subject: 250'), null);
});

test('parseQueueId: Postfix, Exim, Sendmail, Exchange, Gmail, generic', () => {
  assert.equal(parseQueueId('2.0.0 Ok: queued as 1239B168212').queue_id, '1239B168212');
  assert.equal(parseQueueId('OK id=1abcDE-000123-AB').queue_id, '1abcDE-000123-AB');
  assert.equal(parseQueueId('2.0.0 x1234 Message accepted for delivery').queue_id, 'x1234');
  assert.deepEqual(
    parseQueueId('2.6.0 <f6b4a1@EXCH01.corp.local> [InternalId=1236950581287, Hostname=EXCH01.corp.local] Queued mail for delivery'),
    { queue_id: '1236950581287', server_message_id: '<f6b4a1@EXCH01.corp.local>' },
  );
  assert.equal(parseQueueId('2.0.0 OK  1700000000 a1-20020a05600c000100b0040c1dd5f9c0si123456wmq.45 - gsmtp').queue_id, 'a1-20020a05600c000100b0040c1dd5f9c0si123456wmq.45');
  assert.deepEqual(parseQueueId('Message received'), { queue_id: null, server_message_id: null });
});

test('SMTP_SPEC.sniff', () => {
  const b = (s: string): Uint8Array => Buffer.from(s, 'latin1');
  const e = new Uint8Array(0);
  assert.equal(SMTP_SPEC.sniff(e, b('220 mx.example ESMTP\r\n')), 'yes');
  assert.equal(SMTP_SPEC.sniff(e, b('220-mx.example ESMTP\r\n')), 'yes');
  assert.equal(SMTP_SPEC.sniff(b('EHLO x\r\n'), e), 'yes');
  assert.equal(SMTP_SPEC.sniff(b('helo x\r\n'), e), 'yes');
  assert.equal(SMTP_SPEC.sniff(b('LHLO x\r\n'), e), 'yes');
  assert.equal(SMTP_SPEC.sniff(e, b('+OK Dovecot ready.\r\n')), 'no');
  assert.equal(SMTP_SPEC.sniff(e, b('* OK [CAPABILITY IMAP4rev1] ready\r\n')), 'no');
  assert.equal(SMTP_SPEC.sniff(e, b('HTTP/1.1 200 OK\r\n')), 'no');
  assert.equal(SMTP_SPEC.sniff(b('GET / HTTP/1.1\r\n'), e), 'no');
  assert.equal(SMTP_SPEC.sniff(e, e), 'maybe');
  assert.equal(SMTP_SPEC.sniff(e, b('22')), 'maybe');
  assert.equal(SMTP_SPEC.sniff(b('EH'), e), 'maybe');
  assert.deepEqual([...SMTP_SPEC.ports], [25, 587, 2525]);
  assert.deepEqual([...SMTP_SPEC.tlsPorts], [465]);
});

test('smtpTransition: sequence anomalies and reply corrections', () => {
  assert.equal(smtpTransition('ready', { kind: 'command', verb: 'RCPT' }).anomaly, 'smtp_rcpt_without_mail');
  assert.equal(smtpTransition('rcpt', { kind: 'command', verb: 'MAIL' }).anomaly, 'smtp_nested_mail_transaction');
  assert.equal(smtpTransition('after_gap', { kind: 'command', verb: 'RCPT' }).anomaly, null);
  assert.equal(smtpTransition('mail', { kind: 'reply', verb: 'MAIL', code: 550 }).state, 'ready');
  assert.equal(smtpTransition('ready', { kind: 'reply', verb: 'STARTTLS', code: 220 }).state, 'tls');
  assert.equal(smtpTransition('ready', { kind: 'reply', verb: 'STARTTLS', code: 454 }).state, 'ready');
  assert.equal(smtpTransition('connected', { kind: 'reply', verb: null, code: 220 }).state, 'greeted');
  assert.equal(smtpTransition('data', { kind: 'body_end' }).state, 'after_data');
  assert.equal(smtpTransition('after_data', { kind: 'reply', verb: 'DATA', code: 250 }).state, 'ready');
});
