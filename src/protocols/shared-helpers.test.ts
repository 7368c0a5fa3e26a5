import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { At } from '../core/types.js';
import type { CredentialInput, TranscriptInput } from './analyzer.js';
import { FramerAnomalies } from './framer-anomalies.js';
import { UNPARSED_SAMPLE_CHARS, UnparsedRuns } from './unparsed-runs.js';
import { sniffHeadVerb, upperAscii } from './sniff-head.js';
import { saslCredential } from './sasl/sasl-credential.js';
import { SaslExchange } from './sasl/sasl-exchange.js';

const at = (frame: number): At => ({ frame, ts: { sec: frame, nsec: 0 } } as unknown as At);

test('UnparsedRuns sums one side into a single entry with the first line as sample', () => {
  const out: Array<[TranscriptInput, At, At]> = [];
  const runs = new UnparsedRuns({ transcript: (e, f, l) => out.push([e, f, l]) });
  runs.add('client', 5, 'x'.repeat(UNPARSED_SAMPLE_CHARS + 10), at(1), at(1));
  runs.add('client', 7, 'second', at(2), at(3));
  runs.add('server', 4, 'srv', at(2), at(2));
  assert.equal(runs.open('client'), true);
  runs.flush('client');
  runs.flush('client');
  assert.equal(runs.open('client'), false);
  assert.equal(out.length, 1);
  assert.deepEqual(out[0], [{ side: 'client', kind: 'unparsed', lines: ['x'.repeat(UNPARSED_SAMPLE_CHARS)], bytes: 12 }, at(1), at(3)]);
  runs.flush('server');
  assert.deepEqual(out[1]![0], { side: 'server', kind: 'unparsed', lines: ['srv'], bytes: 4 });
});

test('FramerAnomalies renames bare_lf once and passes other codes through', () => {
  const seen: string[] = [];
  const fa = new FramerAnomalies({ anomaly: (code) => seen.push(code) }, 'pop3_bare_lf');
  fa.report('bare_lf', 'd', at(1));
  fa.report('line_too_long', 'd', at(2));
  fa.report('bare_lf', 'd', at(3));
  fa.report('line_too_long', 'd', at(4));
  assert.deepEqual(seen, ['pop3_bare_lf', 'line_too_long', 'line_too_long']);
});

test('sniffHeadVerb / upperAscii', () => {
  assert.equal(upperAscii(new TextEncoder().encode('ehlo x'), 4), 'EHLO');
  assert.equal(sniffHeadVerb('EHLO X', ['EHLO', 'HELO']), 'yes');
  assert.equal(sniffHeadVerb('HEL', ['EHLO', 'HELO']), 'maybe');
  assert.equal(sniffHeadVerb('EHLOX', ['EHLO', 'HELO']), 'no');
  assert.equal(sniffHeadVerb('GET /', ['EHLO', 'HELO']), 'no');
});

test('saslCredential decodes PLAIN, reports cancel and the ending', () => {
  const creds: Array<[CredentialInput, At, At]> = [];
  const anomalies: string[] = [];
  const ctx = { anomaly: (c: string) => anomalies.push(c), credential: (e: CredentialInput, f: At, l: At) => creds.push([e, f, l]) };
  // "\0alice\0secret"
  const x = new SaslExchange('PLAIN', Buffer.from('\0alice\0secret').toString('base64'));
  const r = saslCredential(ctx, { exchange: x, mechanism: 'PLAIN', first: at(1), cancelled: true }, { outcome: 'failure', reply: '535 no', last: at(4) }, { command: 'AUTH', errorCode: 'smtp_sasl_error' }, at(3));
  assert.deepEqual(r, { mechanism: 'PLAIN', username: 'alice', authzid: null });
  assert.equal(creds.length, 1);
  const [e, f, l] = creds[0]!;
  assert.equal(e.secret, 'secret');
  assert.equal(e.outcome, 'failure');
  assert.equal(e.reply, '535 no');
  assert.equal(e.detail?.cancelled, 'true');
  assert.deepEqual([f, l], [at(1), at(4)]);
  const none = saslCredential(ctx, { exchange: null, mechanism: 'LOGIN', first: at(5), cancelled: false }, { outcome: 'unknown', reply: null, last: at(6) }, { command: 'AUTH', errorCode: 'x' }, at(6));
  assert.deepEqual(none, { mechanism: 'LOGIN', username: null, authzid: null });
  assert.equal(creds[1]![0].detail?.cancelled, undefined);
});
