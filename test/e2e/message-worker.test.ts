// Worker mode (messages built and written on a worker thread, the default) must produce the same
// case folder as inline mode: same message records in the same order, same .eml files and
// attachments, same counts and capture hash. The third run reads the capture as a stream of small
// chunks, so messages span many batches (the worker writes each .eml batch by batch).
import test from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { analyze } from '../../src/pipeline/analyze.js';
import { fixture, sharedDir, SHARED_SKIP_REASON } from '../helpers/paths.js';

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

function readJsonl(path: string): Record<string, unknown>[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** File name -> SHA-256 of every file in a case sub-folder. */
function folderHashes(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!existsSync(dir)) return out;
  for (const n of readdirSync(dir).sort()) out[n] = sha256(readFileSync(join(dir, n)));
  return out;
}

async function compareModes(pcap: string, expectMessages: boolean): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ms-worker-'));
  try {
    const inlineDir = join(dir, 'inline');
    const workerDir = join(dir, 'worker');
    const hashDir = join(dir, 'worker-small-batches');
    const a = await analyze(pcap, { outDir: inlineDir, messageWorker: false });
    const b = await analyze(pcap, { outDir: workerDir });
    const file = readFileSync(pcap);
    const pieces: Buffer[] = [];
    for (let i = 0; i < file.length; i += 1500) pieces.push(file.subarray(i, i + 1500));
    const c = await analyze(Readable.from(pieces), { outDir: hashDir });

    const fileHash = sha256(readFileSync(pcap));
    for (const s of [a, b, c]) assert.equal(s.input.sha256, fileHash, 'capture hash');
    assert.deepEqual(b.counts, a.counts);
    assert.deepEqual(c.counts, a.counts);
    assert.deepEqual(b.messages, a.messages, 'summary message list (same order)');
    assert.deepEqual(c.messages, a.messages);
    assert.deepEqual(b.anomalies_by_code, a.anomalies_by_code);

    const msgs = readJsonl(join(inlineDir, 'messages.jsonl'));
    if (expectMessages) assert.ok(msgs.length > 0, 'the capture has messages');
    assert.deepEqual(readJsonl(join(workerDir, 'messages.jsonl')), msgs, 'messages.jsonl identical, same order');
    assert.deepEqual(readJsonl(join(hashDir, 'messages.jsonl')), msgs);
    for (const sub of ['messages', 'attachments']) {
      const want = folderHashes(join(inlineDir, sub));
      assert.deepEqual(folderHashes(join(workerDir, sub)), want, `${sub}/ identical`);
      assert.deepEqual(folderHashes(join(hashDir, sub)), want);
    }
    // Every record's .eml is there and matches the record's hash.
    for (const m of msgs) {
      assert.equal(sha256(readFileSync(join(workerDir, m.eml_path as string))), m.sha256);
    }
    // The same anomalies are recorded (message ones may come later in worker mode: compare as sets).
    const key = (r: Record<string, unknown>): string => JSON.stringify(r);
    assert.deepEqual(readJsonl(join(workerDir, 'anomalies.jsonl')).map(key).sort(), readJsonl(join(inlineDir, 'anomalies.jsonl')).map(key).sort());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('message worker: demo capture gives the same case as inline', async () => {
  await compareModes(fixture('pcaps', 'demo-smtp.pcap'), true);
});

for (const name of ['smtp-auth-plain-pipelining', 'pop3-retr-dele', 'imap-session', 'mixed-day']) {
  test(`message worker: lab capture ${name} gives the same case as inline`, { skip: sharedDir ? false : SHARED_SKIP_REASON }, async () => {
    await compareModes(join(sharedDir!, 'corpus', 'lab', `${name}.pcap`), true);
  });
}
