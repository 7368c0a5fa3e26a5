import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { analyze } from '../../pipeline/analyze.js';
import type { RecordSet } from '../../output/memory-sink.js';
import type { ImapSessionFacts } from './imap-facts.js';
import { SHARED_SKIP_REASON, sharedDir } from '../../../test/helpers/paths.js';

const CORPUS = sharedDir === null ? null : join(sharedDir, 'corpus');
const skip = CORPUS === null || !existsSync(join(CORPUS, 'lab', 'imap-session.truth.json')) ? SHARED_SKIP_REASON : false;

async function records(path: string): Promise<RecordSet> {
  const s = await analyze(path, { outDir: null });
  assert.ok(s.records !== undefined);
  return s.records;
}

function imapFacts(r: RecordSet): ImapSessionFacts[] {
  return r.sessions.filter((s) => s.protocol === 'imap').map((s) => s.imap as ImapSessionFacts);
}

for (const ext of ['pcap', 'pcapng']) {
  test(`lab imap-session.${ext}: truth (ID, LOGIN, UID FETCH byte-exact, APPEND Sent, STORE, EXPUNGE)`, { skip }, async () => {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const truth: any = JSON.parse(readFileSync(join(CORPUS!, 'lab', 'imap-session.truth.json'), 'utf8'));
    const ts = truth.sessions[0];
    const r = await records(join(CORPUS!, 'lab', `imap-session.${ext}`));
    const [f] = imapFacts(r);
    assert.ok(f !== undefined);
    // Client ID leaks the claimed software (RFC 2971).
    assert.equal(f.client_id?.name, 'Thunderbird');
    assert.equal(f.client_id?.version, '115.6.0');
    assert.equal(f.client_id?.os, 'Windows');
    // Credentials.
    const creds = r.credentials.filter((c) => c.protocol === 'imap');
    assert.deepEqual(
      creds.map((c) => [c.mechanism, c.username, c.secret, c.outcome]),
      [['LOGIN', ts.auth.username, ts.auth.password, 'success']],
    );
    // Every command of the truth is in the transcript, in order.
    const cmds = r.transcript.filter((t) => t.protocol === 'imap' && t.kind === 'command').map((t) => `${t.tag} ${t.lines[0]!.split(' ').slice(1).join(' ')}`);
    const truthCmds = (ts.commands as string[]).filter((c) => /^CHDL[0-9]+ /.test(c));
    assert.deepEqual(cmds, truthCmds.map((c) => `${c.split(' ')[0]} ${c.split(' ').slice(1).join(' ')}`));
    // Fetched messages byte-exact, linked to mailbox/UID/seq.
    const fetched = r.messages.filter((m) => m.transport === 'imap-fetch');
    assert.deepEqual(fetched.map((m) => m.sha256), ts.fetched.map((x: { sha256: string }) => x.sha256));
    assert.ok(fetched.every((m) => !m.partial && m.delivery.mailbox === 'INBOX'));
    assert.deepEqual(fetched.map((m) => m.delivery.uid), [1, 2, 3, 4]);
    assert.deepEqual(fetched.map((m) => m.delivery.seq), [1, 2, 3, 4]);
    // APPEND to Sent = the .eml byte-exact.
    const appended = r.messages.filter((m) => m.transport === 'imap-append');
    assert.equal(appended.length, 1);
    const eml = readFileSync(join(CORPUS!, 'lab', ts.appended.file));
    assert.equal(appended[0]!.sha256, createHash('sha256').update(eml).digest('hex'));
    assert.equal(appended[0]!.delivery.mailbox, 'Sent');
    assert.equal(appended[0]!.headers.message_id, '<append-sent-1@example-corp.com>');
    // Mailbox activity.
    assert.deepEqual(f.mailboxes_selected.map((s) => [s.mailbox, s.exists, s.outcome]), [['INBOX', 4, 'ok']]);
    assert.equal(f.messages_fetched_whole, 4);
    assert.equal(f.messages_appended, 1);
    assert.equal(f.flags_set['\\Deleted'], ts.deleted_seq.length);
    assert.equal(f.messages_expunged, ts.expunged_count);
    const events = (r.extra.mailbox_events ?? []) as Record<string, unknown>[];
    const kinds = events.map((e) => e.event);
    assert.deepEqual(kinds, ['select', 'search', 'fetch', 'fetch', 'fetch', 'fetch', 'append', 'flag-set', 'expunge']);
    const fetchEv = events.filter((e) => e.event === 'fetch');
    assert.deepEqual(fetchEv.map((e) => e.message_id), fetched.map((m) => m.message_id));
    assert.equal(r.anomalies.filter((a) => a.code.startsWith('imap_')).length, 0);
  });
}

test('lab auth-bruteforce: 3 failed IMAP LOGINs for bob', { skip }, async () => {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const truth: any = JSON.parse(readFileSync(join(CORPUS!, 'lab', 'auth-bruteforce.truth.json'), 'utf8'));
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const attempts = truth.sessions.filter((s: any) => s.protocol === 'imap').flatMap((s: any) => s.attempts);
  const r = await records(join(CORPUS!, 'lab', 'auth-bruteforce.pcap'));
  const creds = r.credentials.filter((c) => c.protocol === 'imap');
  assert.deepEqual(
    creds.map((c) => [c.username, c.secret, c.outcome]),
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    attempts.map((a: any) => [a.username, a.password, a.success ? 'success' : 'failure']),
  );
  assert.ok(creds.every((c) => c.reply !== null && /AUTHENTICATIONFAILED/.test(c.reply ?? '')));
});

/** tshark TSV rows (header skipped) as string arrays. */
function tsv(path: string): string[][] {
  return readFileSync(path, 'utf8').split('\n').slice(1).filter((l) => l !== '').map((l) => l.split('\t'));
}

const PUBLIC = ['arkime/imap.pcap', 'ndpi/imap.pcap', 'ndpi/imap-starttls.pcap', 'arkime/imap-tag.pcap', 'suricata-verify/imap-detection/input.pcap'];

for (const rel of PUBLIC) {
  test(`public ${rel}: tshark IMAP frames have transcript entries, tshark IMF hashes are ours`, { skip }, async () => {
    const path = join(CORPUS!, 'public', rel);
    const r = await records(path);
    const frames = new Set(r.transcript.filter((t) => t.protocol === 'imap').map((t) => t.frame));
    // Rows with no field at all are frames tshark marks IMAP without parsing them (literal
    // continuation frames, the untagged greeting): they are not checked.
    for (const row of tsv(`${path}.tshark.imap.tsv`)) {
      if (!row.slice(2).some((x) => x !== '')) continue;
      assert.ok(frames.has(Number(row[0])), `frame ${row[0]} (${row.slice(2).join(' ')}) has a transcript entry`);
    }
    const ours = new Set(r.messages.map((m) => m.sha256));
    for (const row of tsv(`${path}.tshark.export-imf.tsv`)) assert.ok(ours.has(row[2]!), `tshark message ${row[0]} (${row[2]}) rebuilt`);
    assert.equal(r.anomalies.filter((a) => a.code.startsWith('imap_')).length, 0, 'no IMAP anomalies on clean captures');
  });
}

test('public arkime/imap.pcap: LOGIN, header-only fetches partial, RFC822 whole, STORE and EXPUNGE', { skip }, async () => {
  const r = await records(join(CORPUS!, 'public', 'arkime', 'imap.pcap'));
  const creds = r.credentials.filter((c) => c.protocol === 'imap');
  assert.deepEqual(creds.map((c) => [c.username, c.secret, c.outcome]), [['neulingern', 'XXXXXX', 'success']]);
  const [f] = imapFacts(r);
  // 13 + 12 BODY.PEEK[HEADER.FIELDS (...)] fetches, one FETCH 12 RFC822.
  assert.equal(f!.messages_fetched_partial, 25);
  assert.equal(f!.messages_fetched_whole, 1);
  const whole = r.messages.filter((m) => m.delivery.whole === true);
  assert.equal(whole.length, 1);
  assert.equal(whole[0]!.delivery.seq, 12);
  assert.equal(whole[0]!.partial, false);
  assert.ok(r.messages.filter((m) => m.delivery.whole === false).every((m) => m.partial));
  const events = (r.extra.mailbox_events ?? []) as Record<string, unknown>[];
  const stores = events.filter((e) => e.event === 'flag-set' || e.event === 'flag-clear');
  assert.deepEqual(stores.map((e) => [e.event, e.msg_number, e.flags]), [
    ['flag-set', 4, ['\\Seen', '\\Deleted']],
    ['flag-clear', 4, ['\\Flagged', '\\Answered']],
  ]);
  assert.deepEqual(f!.mailboxes_selected.map((s) => s.mailbox), ['INBOX', 'INBOX']);
});

test('public ndpi/imap-starttls.pcap: STARTTLS accepted, the rest counted', { skip }, async () => {
  const r = await records(join(CORPUS!, 'public', 'ndpi', 'imap-starttls.pcap'));
  const s = r.sessions.find((x) => x.protocol === 'imap');
  assert.equal(s?.transport, 'starttls');
  const f = s!.imap as ImapSessionFacts;
  assert.equal(f.starttls.accepted, true);
  assert.ok((f.encrypted_bytes?.client ?? 0) > 0 && (f.encrypted_bytes?.server ?? 0) > 0);
  assert.ok(r.transcript.some((t) => t.protocol === 'imap' && t.kind === 'tls'));
});
