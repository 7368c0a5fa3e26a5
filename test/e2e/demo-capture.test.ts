// End to end on the bundled demo capture (a real swaks -> Postfix session from the mail lab,
// with its ground truth bundled beside it): needs nothing outside the repository.
import test from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyze } from '../../src/pipeline/analyze.js';
import { fixture } from '../helpers/paths.js';

const PCAP = fixture('pcaps', 'demo-smtp.pcap');
const truth = JSON.parse(readFileSync(fixture('pcaps', 'demo-smtp.truth.json'), 'utf8'));
const session = truth.sessions[0];
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

function readJsonl(path: string): Record<string, any>[] {
  return readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

test('demo capture: the case folder holds the session, transcript, message, credential as sent', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ms-demo-'));
  try {
    const out = join(dir, 'case');
    const summary = await analyze(PCAP, { outDir: out });
    const fileHash = sha256(readFileSync(PCAP));

    // summary.json: provenance of the input.
    const s = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    assert.equal(s.input.sha256, fileHash);
    assert.equal(s.input.format, 'pcap');
    assert.equal(s.input.frames, 29);
    assert.equal(s.counts.sessions.smtp, 1);
    assert.equal(s.counts.messages, 1);
    assert.equal(summary.counts.credentials, 1);

    // Every record carries the capture hash and provenance.
    for (const f of ['sessions', 'transcript', 'messages', 'credentials']) {
      for (const r of readJsonl(join(out, `${f}.jsonl`))) {
        assert.equal(r.capture_sha256, fileHash, `${f} record carries the capture hash`);
        assert.equal(r.conn_id, 'C1');
        assert.ok(r.frame_first >= 1 && r.frame_last >= r.frame_first && r.frame_last <= 29);
        assert.match(r.ts_first, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
      }
    }

    // Transcript: the client's commands exactly as the truth lists them; frames as tshark numbers them
    // (tshark -Y smtp on this file: EHLO 6, AUTH 9, MAIL 15, RCPT 17 and 19, DATA 21, QUIT 25).
    const t = readJsonl(join(out, 'transcript.jsonl'));
    const cmds = t.filter((e) => e.kind === 'command');
    assert.deepEqual(cmds.map((e) => e.lines[0]), session.commands);
    assert.deepEqual(cmds.map((e) => e.frame), [6, 9, 15, 17, 19, 21, 25]);
    const replies = t.filter((e) => e.kind === 'reply');
    assert.deepEqual(
      replies.map((e) => [e.frame, e.code]),
      [[4, 220], [8, 250], [10, 334], [12, 334], [14, 235], [16, 250], [18, 250], [20, 250], [22, 354], [24, 250], [26, 221]],
    );
    const ehloReply = replies.find((e) => e.frame === 8)!;
    assert.ok(ehloReply.lines.length > 5 && ehloReply.lines.includes('250-PIPELINING'), 'multi-line reply keeps every line');

    // Session facts.
    const [sess] = readJsonl(join(out, 'sessions.jsonl'));
    assert.equal(sess.smtp.helo, session.ehlo);
    assert.equal(sess.client.ip, session.client_ip);
    assert.equal(sess.server.port, session.server_port);
    assert.equal(sess.transport, 'cleartext');
    const tx = sess.smtp.transactions[0];
    assert.equal(tx.mail_from, session.transactions[0].mail_from);
    assert.deepEqual(tx.rcpt_to.map((r: any) => [r.address, r.reply_code]), session.transactions[0].rcpt_to.map((r: any) => [r.addr, r.reply]));
    assert.equal(tx.queue_id, session.transactions[0].queue_ids[0]);

    // Credential: AUTH LOGIN decoded, on a cleartext channel, successful.
    const [cred] = readJsonl(join(out, 'credentials.jsonl'));
    assert.equal(cred.mechanism, session.auth.mechanism);
    assert.equal(cred.username, session.auth.username);
    assert.equal(cred.secret, session.auth.password);
    assert.equal(cred.outcome, 'success');
    assert.equal(cred.cleartext_channel, true);

    // Message: byte-exact .eml, attachments named by hash and equal to the lab's originals.
    const [msg] = readJsonl(join(out, 'messages.jsonl'));
    const eml = readFileSync(join(out, msg.eml_path));
    assert.deepEqual(eml, readFileSync(fixture('pcaps', 'demo-smtp.eml')));
    assert.equal(msg.sha256, session.transactions[0].message.sha256);
    assert.equal(msg.partial, false);
    assert.deepEqual(msg.envelope, { mail_from: 'alice@example-corp.com', rcpt_to: ['bob@example-corp.com', 'carol@example-corp.com'] });
    assert.equal(msg.attachments.length, 2);
    for (const a of msg.attachments) {
      assert.equal(sha256(readFileSync(join(out, a.path))), a.sha256);
      assert.equal(a.path, `attachments/${a.sha256}`);
    }
    assert.deepEqual(msg.attachments.map((a: any) => a.filename).sort(), ['INV-2024-4471.pdf', 'payroll_2024_Q3.zip']);
    assert.deepEqual(readdirSync(join(out, 'attachments')).sort(), msg.attachments.map((a: any) => a.sha256).sort());

    // Client identity: the EHLO name leaks the machine name.
    const clients = readJsonl(join(out, 'clients.jsonl'));
    assert.deepEqual(clients.map((c) => [c.client_ip, c.helo_names]), [['127.0.0.10', ['DESKTOP-7QK2J9M']]]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('demo capture: in-memory analysis gives the same records as the case folder', async () => {
  const a = await analyze(PCAP, { outDir: null });
  assert.ok(a.records);
  assert.equal(a.records.messages.length, 1);
  assert.equal(a.records.messages[0].sha256, session.transactions[0].message.sha256);
  assert.equal(a.records.credentials[0].capture_sha256, a.input.sha256);
});
