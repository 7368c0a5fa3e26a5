import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_LIMITS } from '../core/limits.js';
import { fixture } from '../../test/helpers/paths.js';
import { MessageBuilder } from './message-builder.js';
import type { MessageBuilderOptions, MessageBuildResult, MessageFileWriter } from './message-builder-types.js';
import { OwnedChunks, recycleOwnedChunks } from './owned-chunks.js';

const LIMITS: MessageBuilderOptions['limits'] = {
  maxMessageBytes: DEFAULT_LIMITS.maxMessageBytes,
  maxInMemoryMessageBytes: DEFAULT_LIMITS.maxInMemoryMessageBytes,
  maxMimeDepth: DEFAULT_LIMITS.maxMimeDepth,
  maxMimeParts: DEFAULT_LIMITS.maxMimeParts,
  maxHeaderBytes: DEFAULT_LIMITS.maxHeaderBytes,
};

function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

function fixtureFiles(): string[] {
  const dir = fixture('eml');
  return readdirSync(dir)
    .filter((n) => n.endsWith('.eml'))
    .map((n) => join(dir, n));
}

interface Handed {
  path: string;
  chunks: Uint8Array[];
  keepExisting: boolean;
}

/** A writer that keeps what it is handed (and so owns it: nothing may change it later). */
class CollectingWriter implements MessageFileWriter {
  readonly handed: Handed[] = [];
  write(path: string, chunks: Uint8Array[], opts?: { keepExisting?: boolean }): void {
    this.handed.push({ path, chunks, keepExisting: opts?.keepExisting === true });
  }
  bytes(path: string): Buffer | undefined {
    const h = this.handed.find((x) => x.path === path);
    return h ? Buffer.concat(h.chunks) : undefined;
  }
}

/** Feeds buf in seeded pseudo-random chunks through a scratch buffer clobbered after each write. */
function build(buf: Uint8Array, opts: Partial<MessageBuilderOptions>): MessageBuildResult {
  const b = new MessageBuilder({ emlPath: null, attachmentsDir: null, limits: LIMITS, ...opts });
  const scratch = new Uint8Array(4096);
  let seed = 12345;
  for (let i = 0; i < buf.length; ) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    const n = Math.min(buf.length - i, 1 + (seed % 3000));
    scratch.set(buf.subarray(i, i + n));
    b.write(scratch.subarray(0, n));
    scratch.fill(0x41);
    i += n;
  }
  return b.end(true);
}

function withDir(fn: (dir: string, att: string) => void): () => void {
  return () => {
    const dir = mkdtempSync(join(tmpdir(), 'msg-writer-test-'));
    try {
      const att = join(dir, 'attachments');
      mkdirSync(att);
      fn(dir, att);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

describe('MessageBuilder with a writer', () => {
  it('hands over the verbatim .eml and each attachment by hash; same records as without', withDir((dir, att) => {
    let attachmentsSeen = 0;
    for (const f of fixtureFiles()) {
      const buf = readFileSync(f);
      const eml = join(dir, 'm.eml');
      const w = new CollectingWriter();
      const r = build(buf, { emlPath: eml, attachmentsDir: att, writer: w });
      // Later messages reuse blocks given back at once (as the queue does once written): what was
      // handed over before must not change.
      const recycling: MessageFileWriter = { write: (_p, chunks) => recycleOwnedChunks(chunks) };
      for (let k = 0; k < 3; k++) build(buf, { emlPath: join(dir, `x${k}.eml`), attachmentsDir: att, writer: recycling });
      assert.deepEqual(w.bytes(eml), buf, `${f}: .eml handed over byte for byte`);
      assert.equal(existsSync(eml), false, 'nothing written synchronously');
      const emlWrite = w.handed.find((h) => h.path === eml)!;
      assert.equal(emlWrite.keepExisting, false);
      for (const a of r.attachments) {
        const p = join(att, a.sha256);
        const got = w.bytes(p);
        assert.ok(got, `${f}: attachment ${a.part} handed over`);
        assert.equal(sha256(got), a.sha256);
        assert.equal(got.length, a.size);
        assert.equal(w.handed.find((h) => h.path === p)!.keepExisting, true, 'content-addressed');
        attachmentsSeen++;
      }
      assert.equal(w.handed.length, 1 + r.attachments.length, `${f}: nothing else handed over`);
      const noWriter = build(buf, { emlPath: null, attachmentsDir: null });
      assert.deepEqual(
        { ...r, attachments: r.attachments.map((a) => ({ ...a, path: null })) },
        noWriter,
        `${f}: records do not depend on the writer`,
      );
    }
    assert.ok(attachmentsSeen > 5, `attachments checked: ${attachmentsSeen}`);
    assert.deepEqual(readdirSync(att), [], 'no temp file left behind');
  }));

  it('past maxInMemoryMessageBytes: .eml and attachments are written synchronously instead', withDir((dir, att) => {
    let spilled = 0;
    for (const f of fixtureFiles()) {
      const buf = readFileSync(f);
      const eml = join(dir, 'big.eml');
      rmSync(eml, { force: true });
      const w = new CollectingWriter();
      const limits = { ...LIMITS, maxInMemoryMessageBytes: 300 };
      const r = build(buf, { emlPath: eml, attachmentsDir: att, writer: w, limits });
      if (buf.length > 300) {
        assert.deepEqual(readFileSync(eml), buf, `${f}: .eml spooled to disk`);
        assert.equal(w.bytes(eml), undefined);
      } else {
        assert.deepEqual(w.bytes(eml), buf);
      }
      for (const a of r.attachments) {
        const p = join(att, a.sha256);
        const handed = w.bytes(p);
        if (handed) {
          assert.equal(sha256(handed), a.sha256);
        } else {
          assert.equal(sha256(readFileSync(p)), a.sha256, `${f}: large attachment stored by the temp-file path`);
          spilled++;
        }
      }
      assert.equal(existsSync(`${eml}.tmp`), false);
    }
    assert.ok(spilled > 0, 'some attachments went past the bound');
    for (const n of readdirSync(att)) assert.match(n, /^[0-9a-f]{64}$/, 'no temp file left');
  }));
});

describe('OwnedChunks', () => {
  it('keeps a copy of every byte, in order, across block boundaries', () => {
    const o = new OwnedChunks();
    const want: Buffer[] = [];
    const scratch = new Uint8Array(700_000);
    for (const n of [0, 1, 5000, 16_384, 300_000, 3, 700_000, 12]) {
      for (let i = 0; i < n; i++) scratch[i] = (i * 7 + n) & 0xff;
      o.append(scratch.subarray(0, n));
      want.push(Buffer.from(scratch.subarray(0, n)));
      scratch.fill(0);
    }
    const total = want.reduce((s, b) => s + b.length, 0);
    assert.equal(o.length, total);
    const got = o.take();
    assert.deepEqual(Buffer.concat(got), Buffer.concat(want));
    assert.equal(o.length, 0);
    assert.deepEqual(o.take(), []);
  });

  it('a recycled block is reused once; blocks not given back are never reused', () => {
    const a = new OwnedChunks();
    a.append(new Uint8Array(16 * 1024 + 10).fill(1)); // first block + one pooled block
    const taken = a.take();
    assert.equal(taken.length, 2);
    const keep = new OwnedChunks();
    keep.append(new Uint8Array(16 * 1024 + 10).fill(2));
    const kept = keep.take();
    recycleOwnedChunks(taken);
    recycleOwnedChunks(taken); // a second time is ignored
    const buffers = new Set<ArrayBufferLike>();
    for (let i = 0; i < 4; i++) {
      const o = new OwnedChunks();
      o.append(new Uint8Array(16 * 1024 + 10).fill(3 + i));
      for (const c of o.take()) {
        assert.ok(!buffers.has(c.buffer), 'a block is handed out to one owner at a time');
        buffers.add(c.buffer);
      }
    }
    assert.deepEqual(Buffer.concat(kept), Buffer.alloc(16 * 1024 + 10, 2), 'blocks not recycled are untouched');
  });
});

describe('emlBorrowedUntilFlush: the .eml is written straight from bytes kept valid until flush()', () => {
  it('every fixture .eml is byte-exact when the arena is clobbered after each flush, with many views per flush', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mailsleuth-borrowed-'));
    try {
      for (const [i, file] of fixtureFiles().entries()) {
        const raw = readFileSync(file);
        const emlPath = join(dir, `m${i}.eml`);
        const writer = new CollectingWriter();
        const b = new MessageBuilder({ emlPath, attachmentsDir: null, writer, emlBorrowedUntilFlush: true, limits: LIMITS });
        // An "arena" holding pieces with a one-byte hole between them (so views cannot be merged):
        // up to 6000 views per flush (more than one writev, and past the early-write bound),
        // then clobbered.
        const arena = new Uint8Array(256 * 1024);
        let used = 0;
        let views = 0;
        let seed = 777 + i;
        for (let off = 0; off < raw.length; ) {
          seed = (seed * 1103515245 + 12345) >>> 0;
          const n = Math.min(raw.length - off, 1 + (seed % 40));
          if (used + n + 1 > arena.length || views >= 6000) {
            b.flush();
            assert.equal(existsSync(emlPath), false, 'the .eml appears only at end()');
            arena.fill(0x5a);
            used = 0;
            views = 0;
          }
          arena.set(raw.subarray(off, off + n), used);
          b.write(arena.subarray(used, used + n));
          used += n + (seed & 1 ? 1 : 0); // a hole after about half of the pieces
          views++;
          off += n;
        }
        const r = b.end(true);
        arena.fill(0x5a);
        assert.equal(r.sha256, sha256(raw));
        assert.deepEqual(readFileSync(emlPath), raw, file);
        assert.equal(existsSync(`${emlPath}.tmp`), false);
        assert.equal(writer.bytes(emlPath), undefined, 'the .eml is not handed to the writer');
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('scattered views: written out early past a bound (memory stays bounded), byte-exact, several writev calls each', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mailsleuth-borrowed-'));
    try {
      const lines: string[] = ['From: a@example.com', 'To: b@example.com', 'Subject: many pieces', ''];
      for (let i = 0; i < 4000; i++) lines.push(`line ${i} ${'x'.repeat(i % 60)}`);
      const raw = Buffer.from(lines.join('\r\n') + '\r\n', 'latin1');
      const emlPath = join(dir, 'scattered.eml');
      const b = new MessageBuilder({ emlPath, attachmentsDir: null, emlBorrowedUntilFlush: true, limits: LIMITS });
      // Pieces of 1-8 bytes, each followed by a hole: no two views can be merged.
      const arena = new Uint8Array(raw.length * 2 + 16);
      let used = 0;
      let views = 0;
      let seed = 99;
      let sawEarlyWrite = false;
      for (let off = 0; off < raw.length; ) {
        seed = (seed * 1103515245 + 12345) >>> 0;
        const n = Math.min(raw.length - off, 1 + (seed % 8));
        arena.set(raw.subarray(off, off + n), used);
        b.write(arena.subarray(used, used + n));
        used += n + 1;
        off += n;
        if (++views === 5000) sawEarlyWrite = existsSync(`${emlPath}.tmp`) && statSync(`${emlPath}.tmp`).size > 0;
      }
      assert.ok(views > 20_000, `${views} views`);
      assert.ok(sawEarlyWrite, 'bytes were written out before flush() once the views passed the bound');
      b.end(true);
      arena.fill(0);
      assert.deepEqual(readFileSync(emlPath), raw);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an empty message still gives an (empty) .eml', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mailsleuth-borrowed-'));
    try {
      const emlPath = join(dir, 'empty.eml');
      const b = new MessageBuilder({ emlPath, attachmentsDir: null, emlBorrowedUntilFlush: true, limits: LIMITS });
      b.flush();
      b.end(false);
      assert.equal(readFileSync(emlPath).length, 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
