import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsonlFile, SHA256_PLACEHOLDER, UNKNOWN_SHA256 } from './jsonl-file.js';

const HASH = 'ab'.repeat(32);

test('close() patches the capture hash into every record, also across the 4 MiB read chunks', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mailsleuth-jsonl-'));
  try {
    const f = new JsonlFile(join(dir, 'x.jsonl'));
    // Records of varying length so placeholders land on and around every chunk boundary.
    const n = 60_000;
    for (let i = 0; i < n; i++) f.write({ i, capture_sha256: SHA256_PLACEHOLDER, pad: 'p'.repeat(i % 97) });
    f.close(HASH);
    const lines = readFileSync(join(dir, 'x.jsonl'), 'utf8').split('\n').filter(Boolean);
    assert.equal(lines.length, n);
    assert.ok(readFileSync(join(dir, 'x.jsonl')).length > 8 * 1024 * 1024, 'spans several read chunks');
    lines.forEach((l, i) => {
      const r = JSON.parse(l) as { i: number; capture_sha256: string; pad: string };
      assert.equal(r.i, i);
      assert.equal(r.capture_sha256, HASH);
      assert.equal(r.pad.length, i % 97);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an interrupted run (hash unknown) gets 64 dashes, and text that only resembles the placeholder is kept', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mailsleuth-jsonl-'));
  try {
    const f = new JsonlFile(join(dir, 'y.jsonl'));
    const near = SHA256_PLACEHOLDER.slice(0, 63);
    f.write({ capture_sha256: SHA256_PLACEHOLDER, note: near });
    f.close(undefined);
    const r = JSON.parse(readFileSync(join(dir, 'y.jsonl'), 'utf8')) as { capture_sha256: string; note: string };
    assert.equal(r.capture_sha256, UNKNOWN_SHA256);
    assert.equal(r.note, near);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
