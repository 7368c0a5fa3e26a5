/**
 * Mutated captures: seeded byte flips, scribbles, insertions, deletions and record-length
 * corruptions of the demo capture, lab captures (pcap and pcapng) and the gzip of the demo.
 * analyze() must settle within a time bound, never throw except MailsleuthError for an input it
 * cannot recognise at all, never report `internal_error` (an analyzer threw), and keep the
 * process's memory within a generous bound.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { MailsleuthError } from '../../src/core/errors.js';
import { analyzeBytes, mutateCapture, recordLayout, withTimeout } from '../helpers/mutate.js';
import type { RecordLayout } from '../helpers/mutate.js';
import { SHARED_SKIP_REASON, fixture, sharedDir } from '../helpers/paths.js';

const MiB = 1024 * 1024;
/** Per-run bound: a few-KiB capture takes milliseconds; seconds mean a hang or a blow-up. */
const RUN_MS = 5000;
/** RSS growth allowed over a whole suite of runs (the inputs are a few KiB each). */
const RSS_BOUND = 256 * MiB;

/** Error codes acceptable for a mutated input: the container itself became unrecognisable. */
const ACCEPTABLE = new Set(['CAPTURE_UNKNOWN_FORMAT', 'CAPTURE_CORRUPT']);

async function fuzz(name: string, original: Uint8Array, layout: RecordLayout | undefined, seeds: number, base: number, protect: number): Promise<{ thrown: number; codes: Set<string> }> {
  const rss0 = process.memoryUsage().rss;
  let thrown = 0;
  const codes = new Set<string>();
  for (let seed = base; seed < base + seeds; seed++) {
    const m = mutateCapture(original, seed, layout, { protect });
    const label = `${name} seed ${seed} [${m.ops.join(' ')}]`;
    try {
      const s = await withTimeout(analyzeBytes(m.bytes), RUN_MS, label);
      for (const c of Object.keys(s.anomalies_by_code)) codes.add(c);
      assert.equal(s.anomalies_by_code.internal_error, undefined, `${label}: internal_error: ${s.records.anomalies.find((a) => a.code === 'internal_error')?.detail}`);
      // Counts agree with records (the summary is not invented).
      assert.equal(s.counts.messages, s.records.messages.length, `${label}: message count`);
      assert.equal(s.counts.credentials, s.records.credentials.length, `${label}: credential count`);
      assert.ok(s.input.frames >= 0 && s.input.frames <= m.bytes.length / 12, `${label}: frame count ${s.input.frames}`);
    } catch (e) {
      if (e instanceof MailsleuthError && ACCEPTABLE.has(e.code)) {
        thrown++;
        continue;
      }
      if (e instanceof assert.AssertionError) throw e;
      assert.fail(`${label}: analyze threw ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    }
  }
  const grown = process.memoryUsage().rss - rss0;
  assert.ok(grown < RSS_BOUND, `${name}: RSS grew ${Math.round(grown / MiB)} MiB over ${seeds} runs`);
  return { thrown, codes };
}

describe('mutated captures', () => {
  test('demo-smtp.pcap: 250 seeded mutations (magic kept)', async () => {
    const bytes = readFileSync(fixture('pcaps', 'demo-smtp.pcap'));
    const r = await fuzz('demo', bytes, recordLayout(bytes), 250, 1, 4);
    assert.equal(r.thrown, 0, 'with the magic intact the input is always recognised');
    // The mutations reached the framing and the payload layers (the test exercised something).
    for (const c of ['capture_record_too_large', 'capture_truncated_record']) assert.ok(r.codes.has(c), `no run reported ${c}`);
  });

  test('demo-smtp.pcap: 60 mutations that may hit the file header and magic', async () => {
    const bytes = readFileSync(fixture('pcaps', 'demo-smtp.pcap'));
    await fuzz('demo-header', bytes.subarray(0, 2048), undefined, 60, 5000, 0);
  });

  test('demo-smtp.pcap.gz: 40 mutations of the compressed bytes', async () => {
    const gz = gzipSync(readFileSync(fixture('pcaps', 'demo-smtp.pcap')));
    await fuzz('demo-gz', gz, undefined, 40, 7000, 2);
  });

  for (const [i, name] of ['imap-session.pcapng', 'smtp-auth-plain-pipelining.pcap', 'pop3-retr-dele.pcap', 'sieve-forward-rule.pcap'].entries()) {
    test(`lab ${name}: 80 seeded mutations`, { skip: sharedDir === null ? SHARED_SKIP_REASON : false }, async () => {
      const bytes = readFileSync(join(sharedDir!, 'corpus', 'lab', name));
      const r = await fuzz(name, bytes, recordLayout(bytes), 80, 10_000 * (i + 1), 4);
      assert.equal(r.thrown, 0);
    });
  }
});
