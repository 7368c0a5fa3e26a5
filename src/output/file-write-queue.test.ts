import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileWriteQueue } from './file-write-queue.js';

function withDir(fn: (dir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fwq-test-'));
    try {
      await fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

/** Deterministic bytes (value depends on seed and position). */
function bytes(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 7) & 0xff;
  return b;
}

describe('FileWriteQueue', () => {
  it('writes the chunks concatenated, many files in flight, nothing left as .tmp', withDir(async (dir) => {
    const q = new FileWriteQueue({ concurrency: 3 });
    const expected = new Map<string, Buffer>();
    for (let i = 0; i < 40; i++) {
      const chunks = [bytes(100 + i, i), bytes(0, 0), bytes(70_000 + i * 13, i + 1), bytes(3, i + 2)];
      const p = join(dir, `f${i}.eml`);
      expected.set(p, Buffer.concat(chunks));
      q.write(p, chunks);
    }
    assert.ok(q.pendingBytes > 40 * 70_000, 'bytes are pending until written');
    await q.drain();
    assert.equal(q.pendingBytes, 0);
    assert.equal(q.error, null);
    for (const [p, want] of expected) assert.deepEqual(readFileSync(p), want, p);
    assert.deepEqual(readdirSync(dir).filter((n) => n.includes('.tmp')), []);
  }));

  it('an empty write creates an empty file', withDir(async (dir) => {
    const q = new FileWriteQueue();
    q.write(join(dir, 'empty'), []);
    await q.drain();
    assert.deepEqual(readFileSync(join(dir, 'empty')), Buffer.alloc(0));
  }));

  it('writes to the same path land in the order queued (last one wins)', withDir(async (dir) => {
    const q = new FileWriteQueue({ concurrency: 4 });
    const p = join(dir, 'same');
    const versions = [bytes(200_000, 1), bytes(10, 2), bytes(50_000, 3), bytes(7, 4)];
    for (const v of versions) q.write(p, [v]);
    await q.drain();
    assert.deepEqual(readFileSync(p), Buffer.from(versions[3]!));
  }));

  it('replaces an existing file by default', withDir(async (dir) => {
    const p = join(dir, 'm.eml');
    writeFileSync(p, 'old contents');
    const q = new FileWriteQueue();
    q.write(p, [Buffer.from('new')]);
    await q.drain();
    assert.equal(readFileSync(p, 'latin1'), 'new');
  }));

  it('keepExisting never overwrites a content-addressed file, and writes a name once per run', withDir(async (dir) => {
    const existing = join(dir, 'a'.repeat(64));
    writeFileSync(existing, 'evidence already there');
    const recycled: Uint8Array[][] = [];
    const q = new FileWriteQueue({ recycle: (c) => recycled.push(c) });
    const other = bytes(1000, 9);
    q.write(existing, [bytes(5, 1)], { keepExisting: true });
    const fresh = join(dir, 'b'.repeat(64));
    q.write(fresh, [other], { keepExisting: true });
    // Same name again while the first is queued or in flight: skipped at once (and released).
    q.write(fresh, [bytes(1000, 10)], { keepExisting: true });
    assert.equal(recycled.length, 1, 'the duplicate is released at once');
    await q.drain();
    assert.equal(readFileSync(existing, 'latin1'), 'evidence already there');
    assert.deepEqual(readFileSync(fresh), Buffer.from(other));
    // Again after it was written: still skipped.
    q.write(fresh, [bytes(1000, 11)], { keepExisting: true });
    await q.drain();
    assert.deepEqual(readFileSync(fresh), Buffer.from(other));
    assert.equal(recycled.length, 4, 'every write hands its chunks back once done');
    assert.deepEqual(readdirSync(dir).sort(), ['a'.repeat(64), 'b'.repeat(64)]);
  }));

  it('drain(max) resolves once no more than max bytes are pending', withDir(async (dir) => {
    const q = new FileWriteQueue({ concurrency: 1 });
    for (let i = 0; i < 8; i++) q.write(join(dir, `f${i}`), [bytes(256 * 1024, i)]);
    const total = q.pendingBytes;
    assert.equal(total, 8 * 256 * 1024);
    await q.drain(total - 1);
    assert.ok(q.pendingBytes <= total - 1 && q.pendingBytes > 0, `pending ${q.pendingBytes}`);
    await q.drain();
    assert.equal(q.pendingBytes, 0);
    await q.drain(); // already drained: resolves at once
  }));

  it('surfaces the first failure in error, drops later writes, and drain still resolves', withDir(async (dir) => {
    const q = new FileWriteQueue({ concurrency: 1 });
    q.write(join(dir, 'ok'), [bytes(10, 1)]);
    q.write(join(dir, 'missing-folder', 'x.eml'), [bytes(10, 2)]);
    q.write(join(dir, 'after'), [bytes(10, 3)]);
    await q.drain();
    assert.ok(q.error instanceof Error);
    assert.match(q.error.message, /missing-folder.*ENOENT/);
    assert.equal(q.pendingBytes, 0);
    assert.deepEqual(readFileSync(join(dir, 'ok')), Buffer.from(bytes(10, 1)));
    const names = readdirSync(dir);
    assert.ok(!names.includes('after'), 'writes queued after the failure are dropped');
    q.write(join(dir, 'later'), [bytes(10, 4)]);
    await q.drain();
    assert.ok(!readdirSync(dir).includes('later'));
    assert.match(q.error.message, /missing-folder/, 'the first failure is kept');
  }));

  it('past maxPendingBytes a write is done synchronously (memory stays bounded)', withDir(async (dir) => {
    const q = new FileWriteQueue({ maxPendingBytes: 1000, concurrency: 1 });
    q.write(join(dir, 'a'), [bytes(800, 1)]);
    assert.equal(q.pendingBytes, 800);
    q.write(join(dir, 'b'), [bytes(800, 2)]);
    assert.equal(q.pendingBytes, 800, 'the second write did not queue');
    assert.deepEqual(readFileSync(join(dir, 'b')), Buffer.from(bytes(800, 2)), 'written before write() returned');
    await q.drain();
    assert.deepEqual(readFileSync(join(dir, 'a')), Buffer.from(bytes(800, 1)));
  }));

  for (const maxPendingBytes of [0, 1 << 20]) {
    it(`a file that cannot be put in place leaves no .tmp behind (maxPendingBytes ${maxPendingBytes})`, withDir(async (dir) => {
      const q = new FileWriteQueue({ maxPendingBytes });
      mkdirSync(join(dir, 'taken', 'inner'), { recursive: true }); // a non-empty directory: rename fails
      q.write(join(dir, 'taken'), [bytes(100, 1)]);
      await q.drain();
      assert.match(String(q.error?.message), /cannot write .*taken/);
      assert.deepEqual(readdirSync(dir), ['taken']);
      assert.deepEqual(readdirSync(join(dir, 'taken')), ['inner']);
    }));
  }

  it('maxPendingBytes 0: every write is done (or skipped) before write() returns, its chunks recycled at once', withDir(async (dir) => {
    const recycled: Uint8Array[][] = [];
    const q = new FileWriteQueue({ maxPendingBytes: 0, recycle: (c) => recycled.push(c) });
    // Many chunks (past one writev's 512 buffers) of varied sizes, gathered without a copy.
    const chunks = Array.from({ length: 1300 }, (_, i) => bytes(1 + ((i * 37) % 500), i));
    q.write(join(dir, 'big'), chunks);
    assert.deepEqual(readFileSync(join(dir, 'big')), Buffer.concat(chunks));
    assert.equal(recycled.length, 1);
    q.write(join(dir, 'empty'), []);
    assert.equal(readFileSync(join(dir, 'empty')).length, 0, 'an empty file too');
    writeFileSync(join(dir, 'kept'), 'evidence');
    q.write(join(dir, 'kept'), [bytes(10, 3)], { keepExisting: true });
    assert.equal(readFileSync(join(dir, 'kept'), 'utf8'), 'evidence', 'an existing content-addressed file is kept');
    assert.equal(recycled.length, 3, 'chunks of a skipped write come back too');
    assert.equal(q.pendingBytes, 0);
    assert.deepEqual(readdirSync(dir).sort(), ['big', 'empty', 'kept'], 'nothing left as .tmp');
    await q.drain();
    assert.equal(q.error, null);
  }));
});
