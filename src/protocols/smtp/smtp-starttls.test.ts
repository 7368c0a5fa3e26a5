/**
 * STARTTLS: wire bytes after the accepted 220 go to the TLS layer (ctx.encryptedData /
 * encryptedGap) exactly, and decrypted bytes (onDecrypted) are parsed as a fresh SMTP dialogue
 * (RFC 3207 §4.2) with facts history kept.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { At, Side } from '../../core/types.js';
import type { SmtpSessionFacts } from '../../core/records.js';
import { SmtpAnalyzer } from './smtp-analyzer.js';
import { SMTP_ANOMALIES } from './anomaly-codes.js';
import { FakeContext, messageBytes } from '../../../test/helpers/fake-context.js';
import { CHUNKINGS, stepAt } from '../../../test/helpers/chunkings.js';
import type { Splitter } from '../../../test/helpers/chunkings.js';

/** FakeContext that keeps copies of the encrypted bytes and gaps handed to the TLS layer, in order. */
class TlsContext extends FakeContext {
  readonly wire: Record<Side, Buffer[]> = { client: [], server: [] };
  readonly wireGaps: [Side, number][] = [];
  /** When set, plays a fake TLS layer: the first `handshake` bytes of each side are swallowed, the rest is "decrypted" (identity) and handed back to the analyzer. */
  decryptInto: { analyzer: SmtpAnalyzer; handshake: number } | null = null;
  readonly #seen: Record<Side, number> = { client: 0, server: 0 };

  override encryptedData(side: Side, bytes: Uint8Array, at?: At): void {
    super.encryptedData(side, bytes);
    this.wire[side].push(Buffer.from(bytes));
    const d = this.decryptInto;
    if (d === null || at === undefined) return;
    // Re-entrant like the pipeline: the plaintext is delivered inside this call.
    const skip = Math.max(0, d.handshake - this.#seen[side]);
    this.#seen[side] += bytes.length;
    if (bytes.length > skip) d.analyzer.onDecrypted(side, bytes.subarray(skip), at);
  }

  override encryptedGap(side: Side, length: number): void {
    super.encryptedGap(side, length);
    this.wireGaps.push([side, length]);
  }

  wireBytes(side: Side): Buffer {
    return Buffer.concat(this.wire[side]);
  }
}

/** A step on the wire, a gap on the wire, or plaintext the test hands to onDecrypted itself. */
type Step = readonly ['wire', Side, string | Buffer] | readonly ['gap', Side, number] | readonly ['plain', Side, string];

function bytesOf(d: string | Buffer): Buffer {
  return typeof d === 'string' ? Buffer.from(d, 'latin1') : d;
}

function run(steps: readonly Step[], split: Splitter, fakeTls: number | null): { ctx: TlsContext; a: SmtpAnalyzer } {
  const ctx = new TlsContext();
  const a = new SmtpAnalyzer(ctx);
  if (fakeTls !== null) ctx.decryptInto = { analyzer: a, handshake: fakeTls };
  steps.forEach((s, i) => {
    const at = stepAt(i);
    if (s[0] === 'gap') a.onGap(s[1], s[2], at);
    else if (s[0] === 'wire') for (const piece of split(bytesOf(s[2]))) a.onData(s[1], piece, at);
    else for (const piece of split(bytesOf(s[2]))) a.onDecrypted(s[1], piece, at);
  });
  a.onClose('fin', stepAt(steps.length));
  return { ctx, a };
}

/** Runs under every chunking, asserts identical observable results, returns the whole-chunk run. */
function play(steps: readonly Step[], fakeTls: number | null = null): { ctx: TlsContext; a: SmtpAnalyzer; facts: SmtpSessionFacts } {
  let ref: unknown;
  let out: { ctx: TlsContext; a: SmtpAnalyzer } | null = null;
  for (const c of CHUNKINGS) {
    const r = run(steps, c.split, fakeTls);
    const snap = {
      ...(r.ctx.snapshot(r.a) as object),
      wire: { client: r.ctx.wireBytes('client').toString('hex'), server: r.ctx.wireBytes('server').toString('hex') },
      gaps: r.ctx.wireGaps,
    };
    if (out === null) {
      ref = snap;
      out = r;
    } else {
      assert.deepEqual(snap, ref, `chunking ${c.name} differs from whole`);
    }
  }
  const o = out!;
  for (const m of o.ctx.messages) assert.deepEqual(m.violations, [], `sink contract (${m.id})`);
  const known = new Set(SMTP_ANOMALIES.map((x) => x.code));
  for (const code of o.ctx.anomalyCodes()) assert.ok(known.has(code) || code.startsWith('sasl_'), `uncatalogued anomaly ${code}`);
  return { ...o, facts: (o.a.summary().facts as { smtp: SmtpSessionFacts }).smtp };
}

const GREET: Step = ['wire', 'server', '220 mx.example ESMTP\r\n'];
const EHLO_REPLY = '250-mx.example\r\n250-PIPELINING\r\n250-STARTTLS\r\n250 SIZE 1000\r\n';
/** Fake TLS records: start with the handshake content type like real ones, contain CR/LF and dots. */
const CH = Buffer.from([0x16, 0x03, 0x01, 0x00, 0x08, 0x0d, 0x0a, 0x2e, 0x0d, 0x0a, 0x00, 0xff, 0x41]);
const SH = Buffer.from([0x16, 0x03, 0x03, 0x00, 0x06, 0x32, 0x32, 0x30, 0x20, 0x0d, 0x0a]);
const APP = Buffer.from([0x17, 0x03, 0x03, 0x00, 0x04, 0x51, 0x55, 0x49, 0x54, 0x0d, 0x0a]);

test('STARTTLS: encryptedData gets exactly the bytes after the 220 on each side, same-chunk bytes included', () => {
  const { ctx, facts } = play([
    GREET,
    ['wire', 'client', 'EHLO h\r\n'],
    ['wire', 'server', EHLO_REPLY],
    ['wire', 'client', 'STARTTLS\r\n'],
    ['wire', 'server', Buffer.concat([Buffer.from('220 2.0.0 go ahead\r\n'), SH])],
    ['wire', 'client', CH],
    ['wire', 'server', SH],
    ['gap', 'client', 7],
    ['wire', 'client', APP],
  ]);
  // Server: the ServerHello that shared the 220's segment comes first. This order (server bytes
  // before any client TLS bytes) is the response-injection pattern, so it is flagged.
  assert.deepEqual(ctx.wireBytes('server'), Buffer.concat([SH, SH]));
  assert.deepEqual(ctx.wireBytes('client'), Buffer.concat([CH, APP]));
  assert.deepEqual(ctx.wireGaps, [['client', 7]]);
  assert.deepEqual(facts.encrypted_bytes, { client: CH.length + 7 + APP.length, server: 2 * SH.length });
  assert.deepEqual(ctx.anomalyCodes(), ['smtp_starttls_injection']);
  assert.deepEqual(ctx.entries('command').map((e) => e.command), ['EHLO', 'STARTTLS']);
  assert.equal(ctx.encryptedAt?.frame, 6);
});

test('STARTTLS: a ClientHello sent before the 220 (client did not wait) is held, then handed over first', () => {
  const { ctx, facts } = play([
    GREET,
    ['wire', 'client', 'EHLO h\r\n'],
    ['wire', 'server', EHLO_REPLY],
    ['wire', 'client', Buffer.concat([Buffer.from('STARTTLS\r\n'), CH])],
    ['wire', 'server', Buffer.concat([Buffer.from('220 go ahead\r\n'), SH])],
    ['wire', 'client', APP],
  ]);
  assert.deepEqual(ctx.wireBytes('client'), Buffer.concat([CH, APP]));
  assert.deepEqual(ctx.wireBytes('server'), SH);
  // The client's TLS bytes came first: no injection; no garbage command from the ClientHello.
  assert.deepEqual(ctx.anomalies, []);
  assert.deepEqual(ctx.entries('command').map((e) => e.command), ['EHLO', 'STARTTLS']);
  assert.deepEqual(facts.unknown_commands, []);
});

test('STARTTLS refused after a held ClientHello: the bytes are one unparsed entry, the session stays cleartext', () => {
  const { ctx, facts } = play([
    GREET,
    ['wire', 'client', 'EHLO h\r\n'],
    ['wire', 'server', EHLO_REPLY],
    ['wire', 'client', Buffer.concat([Buffer.from('STARTTLS\r\n'), CH])],
    ['wire', 'server', '454 4.7.0 TLS not available\r\n'],
    ['wire', 'client', 'QUIT\r\n'],
    ['wire', 'server', '221 bye\r\n'],
  ]);
  assert.equal(facts.starttls.accepted, false);
  assert.deepEqual(ctx.wire, { client: [], server: [] });
  assert.deepEqual(ctx.entries('unparsed').map((e) => e.bytes), [CH.length]);
  assert.deepEqual(ctx.entries('command').map((e) => e.command), ['EHLO', 'STARTTLS', 'QUIT']);
  assert.equal(facts.quit, true);
});

/** The dialogue inside TLS (RFC 3207 §4.2: no greeting; EHLO again). */
const PLAIN_USER = Buffer.from('\0alice\0s3cret!').toString('base64');
const BODY = 'Subject: inside TLS\r\n\r\n.dot line\r\nbye\r\n';
const INNER_CLIENT = [
  'EHLO h2\r\n',
  `AUTH PLAIN ${PLAIN_USER}\r\n`,
  'MAIL FROM:<alice@x.example>\r\n',
  'RCPT TO:<bob@y.example>\r\n',
  'DATA\r\n',
  `${BODY.replace(/(^|\r\n)\./g, '$1..')}.\r\n`,
  'QUIT\r\n',
];
const INNER_SERVER = [
  '250-mx.example\r\n250-AUTH PLAIN\r\n250 8BITMIME\r\n',
  '235 2.7.0 Authentication successful\r\n',
  '250 ok\r\n',
  '250 ok\r\n',
  '354 go\r\n',
  '250 2.0.0 Ok: queued as TLS1\r\n',
  '221 bye\r\n',
];
/** Before STARTTLS: one transaction that is reset, so numbering must continue inside TLS. */
const BEFORE: Step[] = [
  GREET,
  ['wire', 'client', 'EHLO h\r\n'],
  ['wire', 'server', EHLO_REPLY],
  ['wire', 'client', 'MAIL FROM:<pre@x.example>\r\nRSET\r\n'],
  ['wire', 'server', '250 ok\r\n250 reset\r\n'],
  ['wire', 'client', 'STARTTLS\r\n'],
  ['wire', 'server', '220 go ahead\r\n'],
];

function assertInner(ctx: TlsContext, facts: SmtpSessionFacts, a: SmtpAnalyzer): void {
  const tr = ctx.transcripts.map((t) => t.entry);
  const tls = tr.findIndex((e) => e.kind === 'tls');
  assert.ok(tls > 0);
  const after = tr.slice(tls + 1).map((e) => `${e.side}:${e.kind}:${e.kind === 'reply' ? e.code : e.kind === 'data' ? e.bytes : e.command}`);
  assert.deepEqual(after, [
    'client:command:EHLO', 'server:reply:250',
    'client:command:AUTH', 'server:reply:235',
    'client:command:MAIL', 'server:reply:250',
    'client:command:RCPT', 'server:reply:250',
    'client:command:DATA', 'server:reply:354',
    `client:data:${INNER_CLIENT[5].length}`, 'server:reply:250',
    'client:command:QUIT', 'server:reply:221',
  ]);
  const c = ctx.credentials.map((x) => x.entry);
  assert.deepEqual(c.map((x) => [x.mechanism, x.username, x.secret, x.outcome]), [['PLAIN', 'alice', 's3cret!', 'success']]);
  assert.equal(ctx.messages.length, 1);
  const m = ctx.messages[0];
  assert.equal(messageBytes(m).toString('latin1'), BODY);
  assert.deepEqual(m.open.envelope, { mail_from: 'alice@x.example', rcpt_to: ['bob@y.example'] });
  assert.equal(m.ended?.complete, true);
  assert.equal(m.closed?.delivery.queue_id, 'TLS1');
  // History continues; pre-TLS capabilities are replaced by those announced inside TLS.
  assert.deepEqual(facts.helo_names, ['h', 'h2']);
  assert.equal(facts.helo, 'h');
  assert.deepEqual(facts.capabilities, ['AUTH PLAIN', '8BITMIME']);
  assert.deepEqual(facts.transactions.map((t) => [t.index, t.mail_from, t.outcome]), [[1, 'pre@x.example', 'reset'], [2, 'alice@x.example', 'accepted']]);
  assert.deepEqual(facts.auth.map((x) => [x.mechanism, x.username, x.outcome]), [['PLAIN', 'alice', 'success']]);
  assert.equal(facts.starttls.accepted, true);
  assert.equal(facts.quit, true);
  assert.equal(a.summary().transport, 'starttls');
  assert.deepEqual(ctx.anomalies, []);
}

test('onDecrypted: the dialogue inside TLS is parsed like cleartext (EHLO, AUTH PLAIN, MAIL, RCPT, DATA, QUIT)', () => {
  const steps: Step[] = [...BEFORE];
  steps.push(['wire', 'client', CH], ['wire', 'server', SH]);
  for (let i = 0; i < INNER_CLIENT.length; i++) {
    steps.push(['plain', 'client', INNER_CLIENT[i]], ['plain', 'server', INNER_SERVER[i]]);
  }
  const { ctx, facts, a } = play(steps);
  assertInner(ctx, facts, a);
  assert.deepEqual(ctx.wireBytes('client'), CH);
  assert.deepEqual(ctx.wireBytes('server'), SH);
});

test('onDecrypted re-entrant from encryptedData (like the pipeline), plaintext sharing chunks with the handshake', () => {
  // Fake TLS: each side's first 13 bytes are its "handshake", everything after is plaintext.
  const hs = Buffer.alloc(13, 0x16);
  const steps: Step[] = [...BEFORE.slice(0, -1)];
  // The 220 and the server's handshake plus its first inner reply arrive in one segment.
  steps.push(['wire', 'server', '220 go ahead\r\n']);
  steps.push(['wire', 'client', Buffer.concat([hs, Buffer.from(INNER_CLIENT[0])])]);
  steps.push(['wire', 'server', Buffer.concat([hs, Buffer.from(INNER_SERVER[0])])]);
  for (let i = 1; i < INNER_CLIENT.length; i++) {
    steps.push(['wire', 'client', INNER_CLIENT[i]], ['wire', 'server', INNER_SERVER[i]]);
  }
  const { ctx, facts, a } = play(steps, hs.length);
  assertInner(ctx, facts, a);
  assert.deepEqual(facts.encrypted_bytes, {
    client: hs.length + INNER_CLIENT.join('').length,
    server: hs.length + INNER_SERVER.join('').length,
  });
});

test('STARTTLS again inside TLS is flagged and ends parsing of the decrypted stream', () => {
  const steps: Step[] = [
    ...BEFORE,
    ['plain', 'client', 'EHLO h2\r\nSTARTTLS\r\n'],
    ['plain', 'server', '250 mx\r\n220 again\r\n'],
    ['plain', 'client', 'EHLO h3\r\n'],
  ];
  const { ctx, facts } = play(steps);
  assert.deepEqual(ctx.anomalyCodes(), ['smtp_starttls_inside_tls']);
  assert.deepEqual(facts.helo_names, ['h', 'h2']);
  assert.equal(ctx.transcripts.filter((t) => t.entry.kind === 'tls').length, 2);
});

test('random wire and decrypted bytes never throw (fast-check); sink contract kept; wire bytes conserved', () => {
  const chunk = fc.oneof(
    fc.uint8Array({ maxLength: 40 }),
    fc
      .constantFrom('STARTTLS\r\n', '220 go\r\n', 'EHLO a\r\n', 'AUTH LOGIN\r\n', 'dXNlcg==\r\n', '334 \r\n', '235 ok\r\n', 'MAIL FROM:<a>\r\n', 'RCPT TO:<b>\r\n', 'DATA\r\n', '354 go\r\n', '.\r\n', '250 ok\r\n', '503 no\r\n')
      .map((s) => Buffer.from(s)),
    fc.constant(CH),
  );
  const side = fc.constantFrom('client' as const, 'server' as const);
  const step = fc.oneof(
    fc.tuple(fc.constant('wire' as const), side, chunk),
    fc.tuple(fc.constant('plain' as const), side, chunk),
    fc.tuple(fc.constant('gap' as const), side, fc.integer({ min: 1, max: 500 })),
  );
  fc.assert(
    fc.property(fc.array(step, { maxLength: 30 }), (steps) => {
      const ctx = new TlsContext({ limits: { maxLineBytes: 64, maxPendingCommands: 8 } });
      const a = new SmtpAnalyzer(ctx);
      steps.forEach((s, i) => {
        const at = stepAt(i);
        if (s[0] === 'gap') a.onGap(s[1], s[2], at);
        else if (s[0] === 'wire') a.onData(s[1], s[2], at);
        else a.onDecrypted(s[1], s[2], at);
      });
      a.onClose('fin', stepAt(steps.length));
      const facts = (a.summary().facts as { smtp: SmtpSessionFacts }).smtp;
      for (const m of ctx.messages) {
        assert.deepEqual(m.violations, []);
        assert.notEqual(m.closed, null);
      }
      // Every byte handed to the TLS layer was counted, and nothing before the STARTTLS reply.
      const handed = ctx.wireBytes('client').length + ctx.wireBytes('server').length + ctx.wireGaps.reduce((n, g) => n + g[1], 0);
      const counted = (facts.encrypted_bytes?.client ?? 0) + (facts.encrypted_bytes?.server ?? 0);
      assert.equal(handed, counted);
      if (!facts.starttls.accepted) assert.equal(handed, 0);
    }),
    { numRuns: 300 },
  );
});
