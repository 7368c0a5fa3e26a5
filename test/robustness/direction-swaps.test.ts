/**
 * The two directions of a connection captured apart: neighbouring frames of the two directions of
 * one connection swapped at random (each direction keeps its own order, timestamps stay in file
 * order), as when a tap's two ports or two interfaces are merged by timestamp. The wire transcript
 * of every session, the messages and the credentials must be those of the original capture, with
 * no gaps: the reassembler hands each side's bytes on after the peer's bytes its ACK covers.
 * (`npm run fuzz -- --mode reorder` runs the same check over the whole corpus with more seeds.)
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { analyze } from '../../src/pipeline/analyze.js';
import type { RecordSet } from '../../src/output/memory-sink.js';
import { reorderView, swapDirections, tcpFlows, withTimeout } from '../helpers/mutate.js';
import { SHARED_SKIP_REASON, fixture, sharedDir } from '../helpers/paths.js';

async function records(bytes: Uint8Array, keyLogFiles?: string[]): Promise<{ records: RecordSet; gaps: number }> {
  const s = await withTimeout(analyze(Readable.from([Buffer.from(bytes)]), { outDir: null, keyLogFiles }), 10_000, 'analyze');
  return { records: s.records!, gaps: s.anomalies_by_code.tcp_content_gap?.count ?? 0 };
}

async function check(name: string, bytes: Uint8Array, seeds: number, base: number, keyLogFiles?: string[]): Promise<void> {
  const original = await records(bytes, keyLogFiles);
  assert.equal(original.gaps, 0, `${name}: the original has no gaps`);
  const want = reorderView(original.records);
  const flows = await tcpFlows(bytes);
  let swapped = 0;
  for (let seed = base; seed < base + seeds; seed++) {
    const { bytes: b, swaps } = swapDirections(bytes, flows, seed, (seed % 4) / 4 + 0.25);
    swapped += swaps;
    const r = await records(b, keyLogFiles);
    assert.equal(r.gaps, 0, `${name} seed ${seed}: ${swaps} swaps gave gaps`);
    assert.equal(reorderView(r.records), want, `${name} seed ${seed}: ${swaps} swaps changed the analysis`);
  }
  assert.ok(swapped >= seeds * 3, `${name}: only ${swapped} swaps in ${seeds} runs`);
}

describe('directions captured apart', () => {
  test('demo-smtp.pcap: 40 random swaps of the two directions give the same analysis', async () => {
    await check('demo', readFileSync(fixture('pcaps', 'demo-smtp.pcap')), 40, 1);
  });

  const lab = [
    'smtp-auth-plain-pipelining.pcap',
    'pop3-retr-dele.pcap',
    'imap-session.pcapng',
    'sieve-forward-rule.pcap',
    'backscatter.pcap',
    'smtp-starttls-keylog.pcap',
    'imap-starttls-keylog.pcap',
  ];
  for (const [i, name] of lab.entries()) {
    test(`lab ${name}: 25 random swaps give the same analysis`, { skip: sharedDir === null ? SHARED_SKIP_REASON : false }, async () => {
      const path = join(sharedDir!, 'corpus', 'lab', name);
      const keylog = path.replace(/\.pcap(ng)?$/, '.keylog');
      await check(name, readFileSync(path), 25, 100 * (i + 1), name.includes('keylog') ? [keylog] : undefined);
    });
  }
});
