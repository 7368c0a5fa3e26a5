/**
 * Truncated captures: the demo capture and lab captures cut at every record boundary (demo) or a
 * seeded sample of boundaries (lab), and at seeded interior offsets. analyze() must return (never
 * throw past the first 4 bytes), name the cut (`capture_truncated_record` / `_header`), and
 * produce a prefix of the full run: the same transcript up to the end of the shortened capture,
 * only complete messages that the full run also has (same sha256), only credentials that the
 * full run also has.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MailsleuthError } from '../../src/core/errors.js';
import type { TranscriptRecord } from '../../src/core/records.js';
import { mulberry32 } from '../helpers/chunkings.js';
import { analyzeBytes, recordLayout, withTimeout } from '../helpers/mutate.js';
import { SHARED_SKIP_REASON, fixture, sharedDir } from '../helpers/paths.js';

type Run = Awaited<ReturnType<typeof analyzeBytes>>;

/** A transcript entry as comparable text (the capture hash differs between cut and full). */
function entryKey(e: TranscriptRecord): string {
  const { capture_sha256: _h, ...rest } = e;
  return JSON.stringify(rest);
}

/** Cut points: boundaries (all, or `maxBoundaries` sampled), plus `interior` seeded offsets inside records. */
function cutPoints(bytes: Uint8Array, seed: number, maxBoundaries: number, interior: number): { boundaries: number[]; inside: number[] } {
  const layout = recordLayout(bytes);
  const rnd = mulberry32(seed);
  let boundaries = layout.boundaries.slice(0, -1); // the full length is the reference run itself
  if (boundaries.length > maxBoundaries) {
    const keep = new Set<number>([boundaries[0]!, boundaries[1]!, boundaries[boundaries.length - 1]!]);
    while (keep.size < maxBoundaries) keep.add(boundaries[Math.floor(rnd() * boundaries.length)]!);
    boundaries = [...keep].sort((a, b) => a - b);
  }
  const starts = new Set(layout.boundaries);
  const inside = new Set<number>();
  // Always one cut inside the first record's header, one inside the last record's data.
  inside.add(layout.boundaries[0]! + 5);
  inside.add(bytes.length - 1);
  while (inside.size < interior) {
    const off = 5 + Math.floor(rnd() * (bytes.length - 5));
    if (!starts.has(off)) inside.add(off);
  }
  return { boundaries, inside: [...inside].sort((a, b) => a - b) };
}

/** Checks a cut run against the full run. */
function assertPrefixConsistent(full: Run, cut: Run, where: string): void {
  const n = cut.input.frames;
  assert.ok(n <= full.input.frames, `${where}: more frames than the full capture`);
  // Transcript: identical prefix; entries after it come from the early end (connection closed at
  // end of capture: a partial DATA, an unterminated line) and were all completed by the last frame read.
  const fk = full.records.transcript.map(entryKey);
  const ck = cut.records.transcript.map(entryKey);
  let k = 0;
  while (k < ck.length && ck[k] === fk[k]) k++;
  for (const e of cut.records.transcript.slice(k)) {
    assert.equal(e.frame_last, n, `${where}: transcript diverges before the end of the cut capture: ${entryKey(e)}`);
  }
  // Messages: a complete message is the full run's message, byte for byte.
  const fullBySha = new Map(full.records.messages.map((m) => [m.sha256, m]));
  for (const m of cut.records.messages) {
    if (!m.partial) {
      assert.ok(fullBySha.has(m.sha256), `${where}: complete message ${m.message_id} (${m.sha256}) not in the full run`);
    } else {
      const same = full.records.messages.find((f) => f.message_id === m.message_id);
      assert.ok(same, `${where}: partial message ${m.message_id} has no counterpart in the full run`);
      assert.ok(m.size <= same.size, `${where}: partial message larger than the full one`);
    }
  }
  // Credentials: what was decoded is what the full run decoded; a decided outcome is the same.
  for (const c of cut.records.credentials) {
    // Matched by where the exchange started; the username may still be missing when the cut falls inside it.
    const f = full.records.credentials.find((x) => x.conn_id === c.conn_id && x.mechanism === c.mechanism && x.frame_first === c.frame_first);
    assert.ok(f, `${where}: credential ${c.mechanism}/${c.username} not in the full run`);
    if (c.username !== null) assert.equal(c.username, f.username, `${where}: username differs`);
    if (c.secret !== null) assert.equal(c.secret, f.secret, `${where}: secret differs`);
    if (c.outcome !== 'unknown') assert.equal(c.outcome, f.outcome, `${where}: outcome differs`);
  }
  assert.equal(cut.anomalies_by_code.internal_error, undefined, `${where}: internal_error`);
}

async function runCuts(bytes: Uint8Array, seed: number, maxBoundaries: number, interior: number): Promise<void> {
  const full = await analyzeBytes(bytes);
  assert.equal(full.anomalies_by_code.capture_truncated_record, undefined, 'the full capture is not truncated');
  const { boundaries, inside } = cutPoints(bytes, seed, maxBoundaries, interior);
  const headerBytes = recordLayout(bytes).boundaries[0]!; // 24 for pcap, 0 for pcapng
  for (const [list, kind] of [
    [boundaries, 'boundary'],
    [inside, 'inside'],
  ] as const) {
    for (const off of list) {
      const where = `cut at ${off} (${kind})`;
      if (off < 4) {
        await assert.rejects(analyzeBytes(bytes.subarray(0, off)), (e: unknown) => e instanceof MailsleuthError && e.code === 'CAPTURE_UNKNOWN_FORMAT');
        continue;
      }
      const cut = await withTimeout(analyzeBytes(bytes.subarray(0, off)), 5000, where);
      const codes = Object.keys(cut.anomalies_by_code);
      if (kind === 'inside' || off < headerBytes) {
        assert.ok(
          codes.includes('capture_truncated_record') || codes.includes('capture_truncated_header'),
          `${where}: no truncation anomaly (got ${codes.join(', ')})`,
        );
      } else {
        assert.ok(!codes.includes('capture_truncated_record'), `${where}: cut on a boundary reported as truncated`);
      }
      assertPrefixConsistent(full, cut, where);
    }
  }
}

describe('truncated captures', () => {
  test('demo-smtp.pcap cut at every record boundary and 40 interior offsets', async () => {
    const bytes = readFileSync(fixture('pcaps', 'demo-smtp.pcap'));
    await runCuts(bytes, 0xdec0de, Infinity, 40);
  });

  test('demo-smtp.pcap cut inside the DATA body gives one partial message, named', async () => {
    const bytes = readFileSync(fixture('pcaps', 'demo-smtp.pcap'));
    const full = await analyzeBytes(bytes);
    assert.equal(full.records.messages[0]!.partial, false);
    // Cut in the middle of the frame that completed the message body: the message must be partial.
    const data = full.records.transcript.find((e) => e.kind === 'data');
    assert.ok(data, 'the full run has a DATA transcript entry');
    const layout = recordLayout(bytes);
    const rec = layout.boundaries[data.frame_last - 1]!;
    const cut = await analyzeBytes(bytes.subarray(0, rec + 30));
    assert.equal(cut.records.messages.length, 1);
    assert.equal(cut.records.messages[0]!.partial, true);
    assert.ok(cut.anomalies_by_code.capture_truncated_record);
    assert.ok(cut.anomalies_by_code.message_partial);
    assert.equal(cut.counts.messages_partial, 1);
  });

  const lab = ['smtp-auth-plain-pipelining.pcap', 'backscatter.pcap', 'auth-bruteforce.pcap', 'imap-session.pcapng', 'pop3-retr-dele.pcap'];
  for (const [i, name] of lab.entries()) {
    test(`lab ${name} cut at sampled boundaries and interior offsets`, { skip: sharedDir === null ? SHARED_SKIP_REASON : false }, async () => {
      const bytes = readFileSync(join(sharedDir!, 'corpus', 'lab', name));
      await runCuts(bytes, 1000 + i, 30, 25);
    });
  }
});
