import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsonlFile, SHA256_PLACEHOLDER, UNKNOWN_SHA256 } from './jsonl-file.js';

const HASH = 'ab'.repeat(32);

/** Runs `fn` with a fresh temporary folder, removed afterwards. */
function inTmpDir(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'mailsleuth-jsonl-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('close() patches the capture hash into every record, also across the 256 KiB read chunks (the write buffer)', () =>
  inTmpDir((dir) => {
    const f = new JsonlFile(join(dir, 'x.jsonl'));
    // Records of varying length; before each 256 KiB boundary one record is padded so that its
    // placeholder straddles the boundary (10 bytes before, 54 after).
    const n = 60_000;
    const CHUNK = 256 * 1024;
    let bytes = 0;
    let boundary = CHUNK;
    const pads: number[] = [];
    for (let i = 0; i < n; i++) {
      let pad = i % 97;
      const prefix = `{"i":${i},"capture_sha256":"`.length;
      const line = (p: number): number => JSON.stringify({ i, capture_sha256: SHA256_PLACEHOLDER, pad: 'p'.repeat(p) }).length + 1;
      if (bytes + line(pad) + 400 > boundary) {
        // This record's placeholder starts at boundary - 10: fill the gap with a padded record first.
        const gap = boundary - 10 - prefix - bytes;
        const fillerBase = line(0) - 0;
        const fillerPad = gap - fillerBase;
        if (fillerPad >= 0) {
          f.write({ i, capture_sha256: SHA256_PLACEHOLDER, pad: 'p'.repeat(fillerPad) });
          pads.push(fillerPad);
          bytes += line(fillerPad);
          i++;
          pad = i % 97;
        }
        boundary += CHUNK - 63; // the next read starts 63 bytes before the end of this one
      }
      f.write({ i, capture_sha256: SHA256_PLACEHOLDER, pad: 'p'.repeat(pad) });
      pads.push(pad);
      bytes += JSON.stringify({ i, capture_sha256: SHA256_PLACEHOLDER, pad: 'p'.repeat(pad) }).length + 1;
    }
    f.close(HASH);
    const lines = readFileSync(join(dir, 'x.jsonl'), 'utf8').split('\n').filter(Boolean);
    assert.equal(lines.length, n);
    assert.ok(readFileSync(join(dir, 'x.jsonl')).length > 8 * 1024 * 1024, 'spans several read chunks');
    lines.forEach((l, i) => {
      const r = JSON.parse(l) as { i: number; capture_sha256: string; pad: string };
      assert.equal(r.i, i);
      assert.equal(r.capture_sha256, HASH);
      assert.equal(r.pad.length, pads[i]);
    });
  }));

test('an interrupted run (hash unknown) gets 64 dashes, and text that only resembles the placeholder is kept', () =>
  inTmpDir((dir) => {
    const f = new JsonlFile(join(dir, 'y.jsonl'));
    const near = SHA256_PLACEHOLDER.slice(0, 63);
    f.write({ capture_sha256: SHA256_PLACEHOLDER, note: near });
    f.close(undefined);
    const r = JSON.parse(readFileSync(join(dir, 'y.jsonl'), 'utf8')) as { capture_sha256: string; note: string };
    assert.equal(r.capture_sha256, UNKNOWN_SHA256);
    assert.equal(r.note, near);
  }));

test('lines are written whole and in order: non-ASCII text, lines larger than the buffer, many small ones', () =>
  inTmpDir((dir) => {
    const f = new JsonlFile(join(dir, 'z.jsonl'));
    const want: object[] = [];
    for (let i = 0; i < 20_000; i++) {
      // Mostly multi-byte text (the buffer fills mid-line many times), some plain lines, and a
      // few lines larger than the buffer itself.
      const r =
        i % 4000 === 7
          ? { i, big: 'Grüße 📧 '.repeat(60_000) } // ~600 KB of UTF-8
          : { i, subject: i % 5 === 0 ? `plain ${i}` : `Überweisung №${i} – 送金 🙂 ${'ü'.repeat(i % 50)}` };
      want.push({ ...r, capture_sha256: HASH });
      f.write({ ...r, capture_sha256: SHA256_PLACEHOLDER });
    }
    assert.equal(f.lines, 20_000);
    f.close(HASH);
    const got = readFileSync(join(dir, 'z.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as object);
    assert.deepEqual(got, want);
  }));

test('writeStamped: byte for byte the line of the record with capture_sha256 put first, for any record and line length', () =>
  inTmpDir((dir) => {
    const f = new JsonlFile(join(dir, 's.jsonl'));
    const records: object[] = [
      {},
      { a: 1 },
      { text: 'café ✉ 𝄞', n: null, list: [1, 'two', { three: 3 }] },
      { big: 'x'.repeat(300_000) }, // longer than the write buffer
      { big: 'é'.repeat(100_000), after: true }, // multi-byte, past the buffer once encoded
      ...Array.from({ length: 5000 }, (_, i) => ({ i, s: 'ü'.repeat(i % 50) })),
    ];
    for (const r of records) f.writeStamped(r);
    f.close(HASH);
    const want = records.map((r) => JSON.stringify({ capture_sha256: HASH, ...r }) + '\n').join('');
    assert.equal(readFileSync(join(dir, 's.jsonl'), 'utf8'), want);
    assert.equal(f.lines, records.length);
  }));
