/**
 * POP3 end to end: captures through the whole pipeline (analyze) against the mail-lab ground truth
 * and the public corpus (tshark transcripts and IMF exports, suricata-verify expectations).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyze } from '../../pipeline/analyze.js';
import type { MessageRecord, SessionRecord, TranscriptRecord } from '../../core/records.js';
import type { Pop3SessionFacts } from './pop3-facts.js';
import { SHARED_SKIP_REASON, sharedDir } from '../../../test/helpers/paths.js';

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

async function records(path: string): Promise<Json> {
  const s = await analyze(path, { outDir: null });
  assert.ok(s.records, 'records are returned when outDir is null');
  return s.records;
}

function pop3Facts(s: SessionRecord): Pop3SessionFacts {
  return s.pop3 as Pop3SessionFacts;
}

const LAB = sharedDir === null ? null : join(sharedDir, 'corpus', 'lab');
const PUB = sharedDir === null ? null : join(sharedDir, 'corpus', 'public');

describe('POP3 lab captures vs truth', { skip: LAB === null || !existsSync(join(LAB, 'pop3-retr-dele.pcap')) ? SHARED_SKIP_REASON : false }, () => {
  test('pop3-retr-dele: credentials, STAT/LIST/UIDL, byte-exact RETR messages, committed deletions', async () => {
    const truth: Json = JSON.parse(readFileSync(join(LAB!, 'pop3-retr-dele.truth.json'), 'utf8'));
    const t = truth.sessions[0];
    const r = await records(join(LAB!, 'pop3-retr-dele.pcap'));
    const sessions = r.sessions.filter((s: SessionRecord) => s.protocol === 'pop3');
    assert.equal(sessions.length, 1);
    const f = pop3Facts(sessions[0]);
    assert.equal(`+OK ${f.greeting}`, t.greeting);
    assert.deepEqual([f.stat?.count, f.stat?.size], t.stat);
    assert.deepEqual(f.listing.map((l) => `${l.msg_number} ${l.size}`), t.list);
    assert.deepEqual(f.listing.map((l) => `${l.msg_number} ${l.uidl}`), t.uidl);
    assert.deepEqual(f.deleted.filter((d) => d.outcome === 'ok').map((d) => d.msg_number), t.deleted);
    assert.equal(f.deletion, 'committed');
    assert.equal(f.final_state, 'update');
    // Credentials.
    const creds = r.credentials.filter((c: Json) => c.protocol === 'pop3');
    assert.deepEqual(creds.map((c: Json) => [c.mechanism, c.username, c.secret, c.outcome, c.cleartext_channel]), [
      ['USER/PASS', t.auth.username, t.auth.password, 'success', true],
    ]);
    // Messages: byte-exact, linked to the message number and UIDL id.
    const msgs: MessageRecord[] = r.messages.filter((m: MessageRecord) => m.protocol === 'pop3');
    assert.equal(msgs.length, t.retrieved.length);
    const uidlOf = new Map<number, string>(t.uidl.map((u: string) => [Number(u.split(' ')[0]), u.split(' ')[1]]));
    for (const want of t.retrieved) {
      const m = msgs.find((x) => x.delivery.msg_number === want.n)!;
      assert.ok(m, `RETR ${want.n} rebuilt`);
      assert.equal(m.transport, 'pop3-retr');
      assert.equal(m.sha256, want.sha256_as_received);
      assert.equal(m.size, want.octets);
      assert.equal(m.partial, false);
      assert.equal(m.headers.message_id, want.message_id);
      assert.equal(m.delivery.uidl, uidlOf.get(want.n));
      assert.equal(m.delivery.octets_announced, want.octets);
    }
    // Mailbox events: retrievals, marks and their commit, in order.
    const ev = (r.extra.mailbox_events ?? []).filter((e: Json) => e.protocol === 'pop3' || e.session_id === sessions[0].session_id);
    assert.deepEqual(
      ev.map((e: Json) => `${e.event}:${e.msg_number ?? ''}:${e.outcome}`),
      ['stat::ok', 'retrieve:1:ok', 'retrieve:2:ok', 'retrieve:3:ok', 'delete-mark:1:ok', 'delete-mark:2:ok', 'delete-mark:3:ok', 'delete-commit:1:ok', 'delete-commit:2:ok', 'delete-commit:3:ok'],
    );
    assert.deepEqual(ev.filter((e: Json) => e.event === 'retrieve').map((e: Json) => e.message_id), msgs.map((m) => m.message_id));
    // The client commands of the truth, in order, as transcript commands.
    const cmds = r.transcript.filter((x: TranscriptRecord) => x.protocol === 'pop3' && x.kind === 'command').map((x: TranscriptRecord) => x.lines[0]);
    assert.deepEqual(cmds, t.commands);
    assert.deepEqual(r.anomalies.filter((a: Json) => a.code.startsWith('pop3_')), []);
  });

  test('backscatter POP3 leg: AUTH PLAIN credentials, LIST, RETR 1 = the DSN bounce byte-exact', async () => {
    const truth: Json = JSON.parse(readFileSync(join(LAB!, 'backscatter.truth.json'), 'utf8'));
    const legs = truth.sessions.filter((s: Json) => s.protocol === 'pop3');
    const r = await records(join(LAB!, 'backscatter.pcap'));
    const sessions = r.sessions.filter((s: SessionRecord) => s.protocol === 'pop3');
    assert.equal(sessions.length, legs.length);
    const creds = r.credentials.filter((c: Json) => c.protocol === 'pop3');
    assert.deepEqual(
      creds.map((c: Json) => [c.mechanism, c.username, c.secret, c.outcome]),
      legs.map((l: Json) => ['PLAIN', l.auth.username, l.auth.password, 'success']),
    );
    const msgs = r.messages.filter((m: MessageRecord) => m.protocol === 'pop3');
    assert.equal(msgs.length, 1);
    const bounce = readFileSync(join(LAB!, truth.bounce.file));
    assert.equal(msgs[0].sha256, truth.bounce.sha256);
    assert.equal(msgs[0].sha256, sha256(bounce));
    assert.equal(msgs[0].size, bounce.length);
    assert.equal(msgs[0].delivery.msg_number, 1);
    assert.equal(msgs[0].headers.subject, truth.bounce.subject);
    // The LIST leg saw the bounce's size; the CAPA reply advertised SASL PLAIN.
    const listing = sessions.flatMap((s: SessionRecord) => pop3Facts(s).listing);
    assert.deepEqual(listing, [{ msg_number: 1, size: bounce.length, uidl: null }]);
    for (const s of sessions) assert.ok(pop3Facts(s).sasl_mechanisms.includes('PLAIN'));
    // Client lines: commands and the SASL response as an 'auth' entry, never a command.
    const ordered = [...sessions].sort((a: SessionRecord, b: SessionRecord) => a.frame_first - b.frame_first);
    legs.forEach((leg: Json, i: number) => {
      const sess = ordered[i];
      const lines = r.transcript
        .filter((x: TranscriptRecord) => x.session_id === sess.session_id && x.side === 'client' && (x.kind === 'command' || x.kind === 'auth'))
        .map((x: TranscriptRecord) => (x.kind === 'auth' ? '<auth>' : x.lines[0]));
      assert.deepEqual(lines, leg.commands.map((c: string) => (c.startsWith('<base64') ? '<auth>' : c)));
    });
  });
});

// #region public corpus

/** POP3 captures of the public corpus with a tshark POP transcript beside them. */
const PUBLIC_POP3 = [
  'ndpi/pop3.pcap',
  'ndpi/pop3_stls.pcap',
  'arkime/pop3-tag.pcap',
  'zeek/pop3-unknown-commands.pcap',
  'zeek/pop3/pop3.pcap',
  'zeek/pop3/bad-list-retr-crafted.pcap',
  'zeek/tls/pop3-starttls.pcap',
  'suricata-verify/pop3-02-bug-7709/input.pcap',
  'suricata-verify/pop3-03-bug-7709/input.pcap',
  'suricata-verify/pop3-auth-01/input.pcap',
];

function tsv(path: string): string[][] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8').trim().split('\n').slice(1).filter((l) => l !== '').map((l) => l.split('\t'));
}

/** The RFC 1939 §3 wire form of a multi-line body: byte-stuffed, CRLF "." CRLF terminated. */
function wire(body: Buffer): Buffer {
  return Buffer.from(body.toString('latin1').replace(/(^|\r\n)\./g, '$1..') + '.\r\n', 'latin1');
}

/** True when some window of one of `hay` has the given size and hash. */
function hasWindow(hay: Buffer[], size: number, hash: string): boolean {
  for (const h of hay) {
    for (let o = 0; o + size <= h.length; o++) if (sha256(h.subarray(o, o + size)) === hash) return true;
  }
  return false;
}

describe('POP3 public corpus vs tshark', { skip: PUB === null ? SHARED_SKIP_REASON : false }, () => {
  for (const rel of PUBLIC_POP3) {
    test(rel, async () => {
      const path = join(PUB!, rel);
      const dir = mkdtempSync(join(tmpdir(), 'mailsleuth-pop3-'));
      try {
        await analyze(path, { outDir: dir, overwrite: true });
        const read = (name: string): Json[] =>
          existsSync(join(dir, name)) ? readFileSync(join(dir, name), 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l)) : [];
        const transcript: TranscriptRecord[] = read('transcript.jsonl').filter((x: TranscriptRecord) => x.protocol === 'pop3');
        const messages: MessageRecord[] = read('messages.jsonl').filter((m: MessageRecord) => m.protocol === 'pop3');
        const anomalies = read('anomalies.jsonl');
        assert.deepEqual(anomalies.filter((a: Json) => a.code === 'internal_error'), []);
        // 1. Every frame where tshark saw a POP request or response has a transcript entry covering it
        //    (tshark's base64 SASL "commands" are our 'auth' entries).
        const rows = tsv(`${path}.tshark.pop.tsv`);
        assert.ok(rows.length > 0, 'tshark saw POP in this capture');
        for (const row of rows) {
          const fr = Number(row[0]);
          assert.ok(
            transcript.some((x) => x.frame_first <= fr && fr <= x.frame_last),
            `no transcript entry covers tshark frame ${fr} (${row.slice(2).join(' ').trim()})`,
          );
          const cmd = row[2];
          if (cmd !== '' && /^[A-Za-z]{3,4}$/.test(cmd)) {
            // A request: our entry in that frame is a command with the same verb, or a SASL line.
            const here = transcript.filter((x) => x.side === 'client' && x.frame_first <= fr && fr <= x.frame_last);
            assert.ok(
              here.some((x) => (x.kind === 'command' && x.command === cmd.toUpperCase()) || x.kind === 'auth'),
              `frame ${fr}: tshark command ${cmd}, ours ${JSON.stringify(here.map((x) => x.lines[0]))}`,
            );
          }
        }
        // 2. tshark 4.0 does not rebuild POP3 messages: its IMF export holds each TCP segment of a
        //    multi-line response as a separate object (RETR bodies, but also LIST/UIDL/CAPA data and
        //    SASL "+ " lines). Every object must be a contiguous piece of what we saw: the wire form of
        //    a rebuilt message, or of a server reply as transcribed.
        const imf = tsv(`${path}.tshark.export-imf.tsv`);
        const hay: Buffer[] = messages.map((m) => wire(readFileSync(join(dir, m.eml_path))));
        const sessions = new Set(transcript.map((x) => x.session_id));
        for (const sid of sessions) {
          const text = transcript
            .filter((x) => x.session_id === sid && x.side === 'server' && (x.kind === 'reply' || x.kind === 'auth' || x.kind === 'unparsed'))
            .map((x) => x.lines.map((l) => `${l}\r\n`).join('') + (x.kind === 'reply' && x.lines.length > 1 ? '.\r\n' : ''))
            .join('');
          hay.push(Buffer.from(text, 'latin1'));
        }
        const ours = new Set(messages.map((m) => m.sha256));
        const unexplained = imf.filter(([, size, hash]) => !ours.has(hash) && !hasWindow(hay, Number(size), hash));
        if (rel === 'zeek/pop3-unknown-commands.pcap') {
          // The server's garbage lines (bare CRs) are kept as one 'unparsed' sample, not byte for byte.
          assert.ok(unexplained.length <= 3);
        } else {
          assert.deepEqual(unexplained, []);
        }
        // 3. Messages rebuilt whole match the server's own LIST size when one was given.
        for (const m of messages) {
          const listed = m.delivery.list_size;
          if (typeof listed === 'number' && m.transport === 'pop3-retr' && rel !== 'zeek/pop3/bad-list-retr-crafted.pcap') {
            assert.ok(Math.abs(m.size - listed) <= 2, `${m.message_id}: size ${m.size}, LIST said ${listed}`);
          }
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  test('suricata-verify pop3-auth-01: CAPA list, XOAUTH2 login, STAT, LIST, UIDL (no greeting in the capture)', async () => {
    const r = await records(join(PUB!, 'suricata-verify/pop3-auth-01/input.pcap'));
    const f = pop3Facts(r.sessions.find((s: SessionRecord) => s.protocol === 'pop3'));
    assert.deepEqual(f.capabilities, ['USER', 'RESP-CODES', 'EXPIRE 0', 'LOGIN-DELAY 300', 'TOP', 'UIDL', 'X-GOOGLE-RICO', 'SASL PLAIN XOAUTH2 OAUTHBEARER']);
    assert.deepEqual(f.stat && [f.stat.count, f.stat.size], [1, 308661]);
    assert.deepEqual(f.listing, [{ msg_number: 1, size: 308661, uidl: 'GmailId123456789' }]);
    const c = r.credentials.filter((x: Json) => x.protocol === 'pop3');
    assert.deepEqual(c.map((x: Json) => [x.mechanism, x.username, x.outcome]), [['XOAUTH2', 'joe.speedboat', 'success']]);
    assert.equal(f.greeting, null);
  });

  test('suricata-verify pop3-02-bug-7709: failed then successful PASS, LIST and UIDL data lines', async () => {
    const r = await records(join(PUB!, 'suricata-verify/pop3-02-bug-7709/input.pcap'));
    const c = r.credentials.filter((x: Json) => x.protocol === 'pop3');
    assert.deepEqual(c.map((x: Json) => [x.mechanism, x.outcome, x.reply]), [
      ['USER/PASS', 'failure', '-ERR the password incorrect'],
      ['USER/PASS', 'success', '+OK '],
    ]);
    const replies = r.transcript.filter((x: TranscriptRecord) => x.protocol === 'pop3' && x.kind === 'reply');
    const list = replies.find((x: TranscriptRecord) => x.command === 'LIST')!;
    assert.deepEqual(list.lines, ['+OK 5 21639', '1 247', '2 6668', '3 6668', '4 1388', '5 6668']);
    const uidl = replies.find((x: TranscriptRecord) => x.command === 'UIDL')!;
    assert.deepEqual(uidl.lines.slice(1), [1, 2, 3, 4, 5].map((n) => `${n} test.tt.com.cmailserver.${n}`));
    assert.equal(r.transcript.filter((x: TranscriptRecord) => x.protocol === 'pop3' && x.command === 'QUIT' && x.kind === 'command').length, 2);
  });
});

// #endregion
