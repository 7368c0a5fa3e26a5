/**
 * Tests of the corpus harness itself (scripts/corpus): the parsers on real corpus files and on
 * hand-made snippets, and the comparison rules on hand-made case data, so a harness bug cannot
 * hide a pipeline bug (or invent one).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SHARED_SKIP_REASON, sharedDir } from '../helpers/paths.js';
import type { MessageRecord, SessionRecord, TranscriptRecord } from '../../src/core/records.js';
import {
  addressOf,
  compareImfExport,
  compareTshark,
  compareZeekSmtp,
  decodeEncodedWords,
  envelopeAddress,
  normalizeIp,
  splitAddressList,
} from '../../scripts/corpus/compare.js';
import {
  parseManifest,
  parseTsharkSmtp,
  parseZeekLog,
  parseZeekSmtpLog,
  stripBtestHeader,
  type CaseData,
} from '../../scripts/corpus/loaders.js';

const sha = (b: Uint8Array | string): string => createHash('sha256').update(b).digest('hex');

let seq = 0;
function entry(frame: number, side: 'client' | 'server', kind: TranscriptRecord['kind'], extra: Partial<TranscriptRecord>): TranscriptRecord {
  seq++;
  return {
    conn_id: 'c1', frame_first: frame, frame_last: frame, ts_first: '', ts_last: '',
    session_id: 's1', protocol: 'smtp', seq, side, kind, lines: [], frame, ...extra,
  };
}
const cmd = (frame: number, command: string, line = command): TranscriptRecord => entry(frame, 'client', 'command', { command, lines: [line] });
const rep = (frame: number, code: number): TranscriptRecord => entry(frame, 'server', 'reply', { code, lines: [`${code} ok`] });

function emptyCase(over: Partial<CaseData>): CaseData {
  return { dir: '', summary: null, sessions: [], transcript: [], messages: [], credentials: [], anomalies: [], eml: new Map(), ...over };
}

describe('corpus harness: parsers', () => {
  test('tshark smtp.tsv: pipelined commands and multi-reply frames split on |', () => {
    const text =
      'frame.number\ttcp.stream\tsmtp.req.command\tsmtp.req.parameter\tsmtp.response.code\tsmtp.rsp.parameter\tsmtp.auth.username\tsmtp.auth.password\n' +
      '16\t0\tRSET|mail|rcpt|data\tfrom:<bob@example.com>|to:<alice@example.com>\t\t\t\t\n' +
      '18\t0\t\t\t250|250|354\tOk|Ok|Go\t\t\n' +
      '12\t0\t\t\t\t\tZ3VycGFydGFw\t\n';
    const rows = parseTsharkSmtp(text);
    assert.equal(rows.length, 3);
    assert.deepEqual(rows[0]!.commands, ['RSET', 'mail', 'rcpt', 'data']);
    assert.deepEqual(rows[0]!.parameters, ['from:<bob@example.com>', 'to:<alice@example.com>']);
    assert.deepEqual(rows[1]!.codes, [250, 250, 354]);
    assert.equal(rows[2]!.authUsername, 'Z3VycGFydGFw');
    assert.deepEqual(rows[2]!.commands, []);
  });

  test('Zeek log: unset, (empty), set separator and \\x escapes', () => {
    const text = [
      '#separator \\x09', '#set_separator\t,', '#empty_field\t(empty)', '#unset_field\t-', '#path\tsmtp',
      '#fields\tuid\tto\tsubject\tfuids', '#types\tstring\tset[string]\tstring\tvector[string]',
      'C1\t"Doe\\x2c John" <j@x.org>,k@y.org\tcaf\\xc3\\xa9\t(empty)',
      'C2\t-\t-\tF1',
    ].join('\n');
    const log = parseZeekLog(text);
    assert.equal(log.path, 'smtp');
    assert.deepEqual(log.rows[0]!['to'], ['"Doe, John" <j@x.org>', 'k@y.org']);
    assert.equal(log.rows[0]!['subject'], 'café');
    assert.deepEqual(log.rows[0]!['fuids'], []);
    assert.equal(log.rows[1]!['to'], null);
    assert.deepEqual(log.rows[1]!['fuids'], ['F1']);
  });

  test('MANIFEST: capture table parsed, corrupt file flagged', { skip: sharedDir === null ? SHARED_SKIP_REASON : false }, () => {
    const text = readFileSync(join(sharedDir!, 'corpus', 'public', 'MANIFEST.md'), 'utf8');
    const entries = parseManifest(text);
    const tableRows = text.slice(text.indexOf('## Captures')).split('\n').filter((l) => l.startsWith('| `'));
    assert.equal(entries.length, tableRows.length);
    assert.ok(entries.some((e) => e.path === 'zeek/smtp.pcap'));
    const corrupt = entries.find((e) => e.path.includes('smtp-to-comma'));
    assert.ok(corrupt && /corrupt/i.test(corrupt.linkType));
  });

  test('Zeek smtp.log baseline and BTest header stripping', { skip: sharedDir === null ? SHARED_SKIP_REASON : false }, () => {
    const dir = join(sharedDir!, 'corpus', 'public', 'zeek');
    const rows = parseZeekSmtpLog(readFileSync(join(dir, 'smtp.pcap.zeek-expected.base.protocols.smtp.basic.smtp.log'), 'utf8'));
    assert.equal(rows.length, 2);
    assert.equal(rows[0]!.orig_p, 1470);
    assert.equal(rows[0]!.cc, null);
    assert.equal(rows[1]!.cc!.length, 2);
    // files.log says the first extracted entity has 77 bytes: the BTest header line must go.
    const files = readFileSync(join(dir, 'smtp.pcap.zeek-expected.base.protocols.smtp.attachment.files.log'), 'utf8');
    const seen = Number(files.split('\n').find((l) => l.includes('FmFp351N5nhsMmAfQg'))!.split('\t')[15]);
    const f0 = stripBtestHeader(new Uint8Array(readFileSync(join(dir, 'smtp.pcap.zeek-expected.base.frameworks.file-analysis.smtp.thefile0'))));
    assert.equal(f0.length, seen);
  });
});

describe('corpus harness: normalisation', () => {
  test('IP canonical form', () => {
    assert.equal(normalizeIp('::1'), normalizeIp('0:0:0:0:0:0:0:1'));
    assert.equal(normalizeIp('2001:DB8::a'), normalizeIp('2001:db8:0:0:0:0:0:a'));
    assert.equal(normalizeIp('[10.0.0.1]'), '10.0.0.1');
    assert.notEqual(normalizeIp('2001:db8::1'), normalizeIp('2001:db8::2'));
  });
  test('address lists and envelope addresses', () => {
    assert.deepEqual(splitAddressList('"Doe, John" <j@x.org>, k@y.org (K)').map(addressOf), ['j@x.org', 'k@y.org']);
    assert.equal(envelopeAddress('FROM: <a@b.c> SIZE=12'), 'a@b.c');
    assert.equal(envelopeAddress('TO:d@e.f'), 'd@e.f');
    assert.equal(envelopeAddress('<a@b.c>'), 'a@b.c');
  });
  test('RFC 2047 words (RFC 2047 section 8 examples)', () => {
    assert.equal(decodeEncodedWords('=?ISO-8859-1?Q?Andr=E9?= Pirard'), 'André Pirard');
    assert.equal(decodeEncodedWords('(=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=)'), '(ab)');
    assert.equal(decodeEncodedWords('=?UTF-8?B?w6k=?='), 'é');
  });
});

describe('corpus harness: comparison rules', () => {
  test('tshark rows: exact, pipelined multiset, STAR and SASL as tshark errors, missing as mismatch', () => {
    const transcript = [
      cmd(7, 'EHLO', 'EHLO GP'), rep(9, 250),
      cmd(10, 'STARTTLS'), rep(11, 220),
      cmd(12, 'MAIL'), cmd(12, 'RCPT'), cmd(12, 'RCPT'),
      entry(14, 'client', 'auth', { lines: ['Z2FsaW50'] }),
    ];
    const rows = parseTsharkSmtp(
      'frame.number\ttcp.stream\tsmtp.req.command\tsmtp.req.parameter\tsmtp.response.code\n' +
        '7\t0\tEHLO\tGP\t\n9\t0\t\t\t250\n10\t0\tSTAR\tTLS\t\n11\t0\t\t\t220|250\n' +
        '12\t0\tMAIL|RCPT|RCPT|DATA\t\t\n14\t0\tZ2Fs\tW50\t\n',
    );
    const r = compareTshark('x', rows, transcript);
    const by = (status: string): string[] => r.filter((x) => x.status === status).map((x) => String(x.expected));
    assert.deepEqual(by('tshark-error'), ['frame 10 command STAR', 'frame 14 command Z2Fs']);
    assert.deepEqual(by('mismatch'), ['frame 11 reply 250', 'frame 12 command DATA']);
    assert.equal(by('match').length, 6);
  });

  test('IMF export: top-level, nested message/rfc822, refused-DATA text, and a real miss', () => {
    const inner = 'Subject: inner\r\n\r\nhi\r\n';
    const eml = `Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: message/rfc822\r\n\r\n${inner}\r\n--b--\r\n`;
    const bytes = new Uint8Array(Buffer.from(eml, 'latin1'));
    const bodyStart = eml.indexOf(inner);
    const msg = {
      message_id: 'm1', sha256: sha(bytes), size: bytes.length,
      parts: [{ path: '1', content_type: 'message/rfc822', body_start: bodyStart, body_end: bodyStart + inner.length + 2 }],
      attachments: [],
    } as unknown as MessageRecord;
    const transcript = [cmd(5, 'DATA'), rep(6, 503), cmd(7, 'HELLO', 'hello'), rep(8, 500), cmd(9, '.', '.'), rep(10, 500)];
    const data = emptyCase({ messages: [msg], eml: new Map([['m1', bytes]]), transcript });
    const objs = [
      { filename: 'a.eml', bytes: bytes.length, sha256: sha(bytes) },
      { filename: 'b.eml', bytes: inner.length, sha256: sha(inner) },
      { filename: 'c.eml', bytes: 7, sha256: sha('hello\r\n') },
      { filename: 'a2.eml', bytes: bytes.length, sha256: sha(bytes) },
    ];
    const r = compareImfExport('x', objs, data);
    assert.deepEqual(r.map((x) => x.status), ['match', 'match', 'tshark-error', 'mismatch']);
  });

  test('IMF export: tshark short by the last CRLF, pipelined commands taken as text, retransmission rule', () => {
    const body = 'Subject: x\r\n\r\nThis is a test\r\n';
    const bytes = new Uint8Array(Buffer.from(body, 'latin1'));
    const msg = { message_id: 'm1', session_id: 's1', sha256: sha(bytes), size: bytes.length, partial: false, missing_bytes: 0, transport: 'smtp-data', frame_first: 11, frame_last: 13, parts: [], attachments: [] } as unknown as MessageRecord;
    const transcript = [cmd(11, 'MAIL', 'MAIL FROM:<a@b>'), cmd(11, 'RCPT', 'RCPT TO:<c@d>'), cmd(11, 'DATA'), entry(11, 'client', 'data', { bytes: 30 })];
    const data = (): CaseData => emptyCase({ messages: [msg], eml: new Map([['m1', bytes]]), transcript });
    const short = { filename: 's.eml', bytes: bytes.length - 2, sha256: sha(bytes.subarray(0, bytes.length - 2)) };
    assert.equal(compareImfExport('x', [short], data())[0]!.status, 'tshark-error');
    const prefixed = 'MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n' + body;
    const pipelined = { filename: 'p.eml', bytes: prefixed.length, sha256: sha(prefixed) };
    assert.equal(compareImfExport('x', [pipelined], data())[0]!.status, 'tshark-error');
    const other = { filename: 'o.eml', bytes: 99, sha256: sha('something else') };
    assert.equal(compareImfExport('x', [other], data())[0]!.status, 'mismatch');
    assert.equal(compareImfExport('x', [other], data(), { lostSegmentFrames: 1 })[0]!.status, 'tshark-error');
    // A partial message never excuses a difference.
    const partial = emptyCase({ messages: [{ ...msg, partial: true }], eml: new Map([['m1', bytes]]), transcript });
    assert.equal(compareImfExport('x', [other], partial, { lostSegmentFrames: 1 })[0]!.status, 'mismatch');
  });

  test('tshark rows: a verb-looking SASL line is a tshark error only when the server answers as SASL', () => {
    const rows = parseTsharkSmtp('frame.number\ttcp.stream\tsmtp.req.command\tsmtp.req.parameter\tsmtp.response.code\n19\t0\tQUIT\t\t\n');
    const withSasl = [entry(19, 'client', 'auth', { lines: ['QUIT'] }), rep(21, 334)];
    assert.equal(compareTshark('x', rows, withSasl)[0]!.status, 'tshark-error');
    const withBye = [entry(19, 'client', 'auth', { lines: ['QUIT'] }), rep(21, 221)];
    assert.equal(compareTshark('x', rows, withBye)[0]!.status, 'mismatch');
  });

  test('Zeek rows: session-level, half and full rows; field normalisation', () => {
    const session = {
      session_id: 's1', protocol: 'smtp', client: { ip: '::1', port: 1000 }, server: { ip: '0:0::1', port: 25 },
      smtp: {
        helo_names: ['client.example'],
        transactions: [{ index: 1, mail_from: 'a@x.org', rcpt_to: [{ address: 'b@y.org' }, { address: 'c@y.org' }], message_id: 'm1' }],
      },
    } as unknown as SessionRecord;
    const msg = {
      message_id: 'm1',
      headers: {
        from: [{ name: 'Ann', address: 'a@x.org' }], to: [{ name: '', address: 'b@y.org' }], cc: [{ name: 'C, D', address: 'c@y.org' }],
        reply_to: [], subject: 'Grüße', message_id: '<id@x>', in_reply_to: null, x_originating_ip: null, user_agent: null, x_mailer: 'Mailer 1',
      },
    } as unknown as MessageRecord;
    const fields = 'uid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\ttrans_depth\thelo\tmailfrom\trcptto\tfrom\tto\tcc\treply_to\tmsg_id\tin_reply_to\tsubject\tx_originating_ip\tuser_agent';
    const types = 'string\taddr\tport\taddr\tport\tcount\tstring\tstring\tset[string]\tstring\tset[string]\tset[string]\tstring\tstring\tstring\tstring\taddr\tstring';
    const log = [
      '#separator \\x09', '#set_separator\t,', '#empty_field\t(empty)', '#unset_field\t-', `#fields\t${fields}`, `#types\t${types}`,
      'C1\t::1\t1000\t::1\t25\t1\tclient.example\t<a@x.org>\tb@y.org,c@y.org\tAnn <a@x.org>\t<b@y.org>\t"C\\x2c D" <c@y.org>\t-\t<id@x>\t-\t=?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\t-\tMailer 1',
      'C1\t::1\t1000\t::1\t25\t2\tclient.example\t-\tz@y.org\t-\t-\t-\t-\t-\t-\t-\t-\t-',
    ].join('\n');
    const r = compareZeekSmtp('x', 'smtp.log', parseZeekSmtpLog(log), emptyCase({ sessions: [session], messages: [msg] }));
    assert.deepEqual(r.filter((x) => x.status === 'mismatch').map((x) => x.check), []);
    assert.equal(r.filter((x) => x.status === 'skipped').length, 1);
    assert.ok(r.some((x) => x.check === 'zeek-smtp:subject' && x.status === 'match'));
    // A changed subject must be caught.
    const bad = compareZeekSmtp('x', 'smtp.log', parseZeekSmtpLog(log.replace('Gr=C3=BC', 'Gr=C3=BD')), emptyCase({ sessions: [session], messages: [msg] }));
    assert.deepEqual(bad.filter((x) => x.status === 'mismatch').map((x) => x.check), ['zeek-smtp:subject']);
  });
});
