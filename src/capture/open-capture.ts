import { createHash, type Hash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import { createGunzip, type Gunzip } from 'node:zlib';
import type { CaptureFrame } from '../core/types.js';
import { MailsleuthError } from '../core/errors.js';
import { DEFAULT_LIMITS } from '../core/limits.js';
import type { CaptureInfo, CaptureSource, ChunkHasher, OpenCaptureOptions } from './capture-source.js';
import {
  PCAP_MAGIC_NS_BE,
  PCAP_MAGIC_NS_LE,
  PCAP_MAGIC_US_BE,
  PCAP_MAGIC_US_LE,
  PcapParser,
} from './pcap-parser.js';
import { PCAPNG_SHB, PcapngParser } from './pcapng-parser.js';
import { hexBytes, newCaptureInfo, type FramePrefilter, type RecordParser, type RecordParserOptions } from './record-parser.js';

/**
 * Size of each file read (two buffers of this size are used alternately, with read-ahead; up to
 * HASHED_READ_BUFFERS with a hashing thread). 2 MiB: against 4 MiB, ~5,500 fewer first-touch page
 * faults per run and ~0.15 s less CPU on the 1 GiB bench file (paired runs); 1 MiB was slower
 * again (docs/performance.md).
 */
export const READ_CHUNK_BYTES = 2 * 1024 * 1024;
/**
 * Read buffers start this many bytes into their memory. The kernel copies file pages into a
 * buffer at a third to a quarter of the speed when the buffer's address lies 1-31 bytes past a
 * page boundary (measured on this project's AMD EPYC VMs: 1 GiB from the page cache cost 0.7 s of
 * system time into such a buffer, 0.16 s at 32 bytes or more past a boundary, or on one). glibc
 * puts a large allocation 16 bytes past a page boundary, so a buffer used as allocated is on the
 * slow path; 64 bytes further it is not, whatever the allocator's alignment (short of 4,033-4,063
 * bytes past a page). See docs/performance.md.
 */
export const READ_BUFFER_OFFSET = 64;
const GUNZIP_CHUNK_BYTES = 1024 * 1024;
/** Files at least this large are hashed on a worker thread (SHA-256 costs ~0.6 s/GiB of CPU). */
export const WORKER_HASH_MIN_BYTES = 64 * 1024 * 1024;

const EXPECTED =
  'expected a pcap (magic a1b2c3d4, d4c3b2a1, a1b23c4d, 4d3cb2a1), pcapng (0a0d0d0a) or gzip (1f 8b) file';

/**
 * A capture read in batches: each batch holds the frames of one read chunk, in order.
 * Frames of a batch (and their `data`) stay valid until the next batch is pulled.
 * This is the fast interface for the pipeline: one `await` per ~4 MiB instead of per frame.
 */
export interface CaptureBatchSource extends AsyncIterable<readonly CaptureFrame[]> {
  readonly info: CaptureInfo;
  /**
   * The fastest interface: every frame is handed to `onFrame` while its read chunk is parsed
   * (the frame and its `data` are valid only during the call, so nothing piles up in a batch
   * array); yields once after each read chunk that delivered frames. A `prefilter` sees each
   * record's bytes first and may consume the frame (see FramePrefilter). Like iterating, only once.
   */
  stream(onFrame: (frame: CaptureFrame) => void, prefilter?: FramePrefilter): AsyncIterable<void>;
}

/**
 * Opens a capture: `input` is a file path, `-` for stdin, or a readable stream.
 * Sniffs the format (gzip is decompressed on the fly, then pcap or pcapng).
 * Throws MailsleuthError `CAPTURE_UNREADABLE` (cannot open/read) or `CAPTURE_UNKNOWN_FORMAT`.
 * Iterating yields every frame; for speed prefer {@link openCaptureBatches}.
 */
export async function openCapture(input: string | NodeJS.ReadableStream, opts: OpenCaptureOptions): Promise<CaptureSource> {
  const batches = await openCaptureBatches(input, opts);
  return {
    info: batches.info,
    async *[Symbol.asyncIterator](): AsyncGenerator<CaptureFrame> {
      for await (const batch of batches) {
        for (let i = 0; i < batch.length; i++) yield batch[i]!;
      }
    },
  };
}

/** Like {@link openCapture}, but yields the frames of each read chunk as one array. */
export async function openCaptureBatches(
  input: string | NodeJS.ReadableStream,
  opts: OpenCaptureOptions,
): Promise<CaptureBatchSource> {
  const hash = createHash('sha256');
  const tap: RawTap = { hash, bytes: 0, update: (c: Uint8Array) => void hash.update(c) };
  let raw: ByteSource;
  let fileBytes = 0;
  const label = typeof input === 'string' ? (input === '-' ? 'stdin' : input) : 'input stream';
  if (typeof input === 'string' && input !== '-') {
    let fh: FileHandle | undefined;
    try {
      fh = await open(input, 'r');
      const st = await fh.stat();
      if (!st.isFile()) throw new Error('not a regular file');
      fileBytes = st.size;
    } catch (e) {
      await fh?.close().catch(() => undefined);
      throw new MailsleuthError('CAPTURE_UNREADABLE', `cannot read ${label}: ${errMessage(e)}`, { cause: e });
    }
    let hasher: ChunkHasher | null = null;
    if (fileBytes >= (opts.workerHashMinBytes ?? WORKER_HASH_MIN_BYTES)) {
      try {
        hasher = opts.chunkHasher?.() ?? new FileHasher();
      } catch {
        hasher = null; // no worker threads: hash inline
      }
    }
    raw = new FileSource(fh, tap, label, hasher, fileBytes);
  } else {
    raw = new StreamSource(input === '-' ? process.stdin : (input as NodeJS.ReadableStream), tap, label);
  }

  let gz: GunzipSource | null = null;
  try {
    const rawHead = await readHead(raw, 4);
    if (rawHead.length === 0) {
      throw new MailsleuthError('CAPTURE_UNKNOWN_FORMAT', `${label}: empty input (0 bytes); ${EXPECTED}`);
    }
    let src: ByteSource = raw;
    let head = rawHead;
    if (rawHead[0] === 0x1f && rawHead[1] === 0x8b) {
      gz = new GunzipSource(raw, rawHead);
      src = gz;
      head = await readHead(gz, 4);
      if (gz.error !== null && head.length < 4) {
        throw new MailsleuthError('CAPTURE_CORRUPT', `${label}: gzip data is corrupt (${errMessage(gz.error)})`, {
          cause: gz.error,
        });
      }
    }
    const made = createRecordParser(head, null, opts);
    if (made === null) {
      const what = gz ? 'gzip-compressed, but the content is not a pcap or pcapng file' : 'not a pcap, pcapng or gzip file';
      throw new MailsleuthError(
        'CAPTURE_UNKNOWN_FORMAT',
        `${label}: ${what} (first bytes ${hexBytes(head)}${head.length < 4 ? `, only ${head.length} bytes` : ''}); ${EXPECTED}`,
      );
    }
    const { info, parser } = made;
    info.gzip = gz !== null;
    info.fileBytes = fileBytes;
    return new BatchSource(info, parser, head, src, raw, gz, tap, opts);
  } catch (e) {
    await (gz ?? raw).close();
    if (e instanceof MailsleuthError) throw e;
    throw new MailsleuthError('CAPTURE_UNREADABLE', `cannot read ${label}: ${errMessage(e)}`, { cause: e });
  }
}

/**
 * Creates the synchronous record parser for a capture whose first bytes are `head`
 * (pcap or pcapng; not gzip), for callers that do their own I/O. Returns null for an unknown magic.
 */
export function createRecordParser(
  head: Uint8Array,
  info: CaptureInfo | null,
  opts: OpenCaptureOptions,
): { parser: RecordParser; info: CaptureInfo } | null {
  if (head.length < 4) return null;
  const magic = ((head[0]! << 24) | (head[1]! << 16) | (head[2]! << 8) | head[3]!) >>> 0;
  const popts: RecordParserOptions = {
    report: opts.report,
    maxRecordBytes: opts.maxRecordBytes ?? DEFAULT_LIMITS.maxRecordBytes,
    maxDecryptionSecretsBytes: opts.maxDecryptionSecretsBytes ?? DEFAULT_LIMITS.maxDecryptionSecretsBytes,
    maxCaptureInterfaces: opts.maxCaptureInterfaces ?? DEFAULT_LIMITS.maxCaptureInterfaces,
    maxResyncBytes: opts.maxResyncBytes ?? DEFAULT_LIMITS.maxResyncBytes,
  };
  if (magic === PCAP_MAGIC_US_BE || magic === PCAP_MAGIC_US_LE || magic === PCAP_MAGIC_NS_BE || magic === PCAP_MAGIC_NS_LE) {
    const i = info ?? newCaptureInfo('pcap', false);
    return { parser: new PcapParser(i, popts), info: i };
  }
  if (magic === PCAPNG_SHB) {
    const i = info ?? newCaptureInfo('pcapng', false);
    return { parser: new PcapngParser(i, popts), info: i };
  }
  return null;
}

class BatchSource implements CaptureBatchSource {
  private started = false;

  constructor(
    readonly info: CaptureInfo,
    private readonly parser: RecordParser,
    private readonly head: Uint8Array,
    private readonly src: ByteSource,
    private readonly raw: ByteSource,
    private readonly gz: GunzipSource | null,
    private readonly tap: RawTap,
    private readonly opts: OpenCaptureOptions,
  ) {}

  async *[Symbol.asyncIterator](): AsyncGenerator<readonly CaptureFrame[]> {
    let batch: CaptureFrame[] = [];
    for await (const _ of this.stream((f) => void batch.push(f))) {
      const b = batch;
      batch = [];
      yield b;
    }
  }

  async *stream(sink: (frame: CaptureFrame) => void, prefilter?: FramePrefilter): AsyncGenerator<void> {
    if (this.started) throw new MailsleuthError('USAGE', 'a capture source can be iterated only once');
    this.started = true;
    const { parser, info } = this;
    parser.prefilter = prefilter ?? null;
    try {
      let chunk: Uint8Array | null = this.head;
      while (chunk !== null) {
        const before = info.frames;
        parser.feed(chunk, sink);
        if (info.frames !== before) yield;
        if (parser.stopped) break;
        chunk = await this.src.next();
      }
      if (this.gz?.error) {
        this.opts.report({
          code: 'capture_gzip_error',
          detail: `${errMessage(this.gz.error)} after ${info.bytesRead} decompressed bytes (frame ${info.frames})`,
        });
      }
      // A resync pending at the end of the input may still deliver frames.
      const before = info.frames;
      parser.end(sink);
      if (info.frames !== before) yield;
      // Hash the rest of the input as stored, even when parsing stopped early.
      if (this.gz) await this.gz.drain();
      else while ((await this.raw.next()) !== null);
      info.fileBytes = this.tap.bytes;
      info.sha256 = this.raw instanceof FileSource ? await this.raw.digest() : this.tap.hash.digest('hex');
    } finally {
      await this.src.close();
      if (this.src !== this.raw) await this.raw.close();
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Byte sources (the only async part): raw file/stream chunks, hashed as stored; gunzip on top.

interface RawTap {
  readonly hash: Hash;
  bytes: number;
  /** Hashes one raw chunk. */
  readonly update: (chunk: Uint8Array) => void;
}

/** A pull source of chunks. A chunk is borrowed: valid until the next `next()` call. */
interface ByteSource {
  next(): Promise<Uint8Array | null>;
  close(): Promise<void>;
}

/**
 * Read buffers in use at most with a hashing thread: the parser's chunk, the read-ahead, four
 * queued for hashing (the message worker, when it hashes, takes them between its batches).
 */
const HASHED_READ_BUFFERS = 6;

/**
 * Reads a file in READ_CHUNK_BYTES chunks, one chunk ahead. Without a {@link ChunkHasher} the
 * bytes are hashed on this thread and two buffers are used in turn. With one, each chunk's buffer
 * is handed to the hash worker (transferred, not copied) once the parser is done with it, and
 * comes back for another read: the file is read once and hashed off this thread, and the digest
 * covers exactly the bytes parsed. This thread waits only when the hasher is four chunks behind.
 */
class FileSource implements ByteSource {
  private readonly bufs: Uint8Array[];
  private readonly size: number;
  private cur = 0;
  private pos = 0;
  private pending: Promise<number> | null = null;
  private eof = false;
  private closed = false;
  /** Hash-worker mode: buffers free for a read, how many exist, and the chunk the parser holds. */
  private readonly free: ArrayBuffer[] = [];
  private allocated = 0;
  private pendingBuf: ArrayBuffer | null = null;
  private lent: { buf: ArrayBuffer; n: number } | null = null;

  constructor(
    private readonly fh: FileHandle,
    private readonly tap: RawTap,
    private readonly label: string,
    private readonly hasher: ChunkHasher | null,
    sizeHint: number,
  ) {
    // Small files get small buffers (a larger file is still read whole, chunk by chunk).
    this.size = Math.min(READ_CHUNK_BYTES, Math.max(65536, sizeHint + 1));
    this.bufs = hasher ? [] : [readBuffer(this.size), readBuffer(this.size)];
    hasher?.onReturn((buf) => this.free.push(buf));
  }

  private async read(i: number): Promise<number> {
    const r = await this.fh.read(this.bufs[i]!, 0, this.size, this.pos);
    return r.bytesRead;
  }

  /** Hash-worker mode: reads the chunk at `at` into a free buffer (this.pendingBuf). */
  private async readIntoFree(at: number): Promise<number> {
    const hasher = this.hasher!;
    let buf = this.free.pop();
    while (buf === undefined) {
      if (this.allocated < HASHED_READ_BUFFERS) {
        this.allocated++;
        buf = new ArrayBuffer(this.size + READ_BUFFER_OFFSET);
      } else {
        await hasher.returned();
        buf = this.free.pop();
      }
    }
    this.pendingBuf = buf;
    const r = await this.fh.read(new Uint8Array(buf, READ_BUFFER_OFFSET, this.size), 0, this.size, at);
    return r.bytesRead;
  }

  async next(): Promise<Uint8Array | null> {
    if (this.eof || this.closed) return null;
    const hasher = this.hasher;
    // The chunk returned last is no longer in use: hash it (its buffer moves to the worker).
    if (hasher && this.lent) {
      hasher.hash(this.lent.buf, READ_BUFFER_OFFSET, this.lent.n);
      this.lent = null;
    }
    let n: number;
    try {
      n = await (this.pending ?? (hasher ? this.readIntoFree(this.pos) : this.read(this.cur)));
    } catch (e) {
      throw new MailsleuthError('CAPTURE_UNREADABLE', `read error in ${this.label} at offset ${this.pos}: ${errMessage(e)}`, {
        cause: e,
      });
    }
    this.pending = null;
    if (n === 0) {
      this.eof = true;
      if (this.pendingBuf) this.free.push(this.pendingBuf);
      this.pendingBuf = null;
      return null;
    }
    let chunk: Uint8Array;
    if (hasher) {
      const buf = this.pendingBuf!;
      this.pendingBuf = null;
      this.lent = { buf, n };
      chunk = Buffer.from(buf, READ_BUFFER_OFFSET, n);
    } else {
      chunk = this.bufs[this.cur]!.subarray(0, n);
      this.tap.update(chunk);
      this.cur ^= 1;
    }
    this.pos += n;
    this.tap.bytes += n;
    // Read ahead (into the other buffer, or a free one): the chunk returned before this one is no longer in use.
    const p = hasher ? this.readIntoFree(this.pos) : this.read(this.cur);
    p.catch(() => undefined); // observed when awaited; avoids an unhandled rejection if never awaited
    this.pending = p;
    return chunk;
  }

  /** SHA-256 hex of everything returned so far (call after the end). */
  async digest(): Promise<string> {
    if (!this.hasher) return this.tap.hash.digest('hex');
    if (this.lent) {
      this.hasher.hash(this.lent.buf, READ_BUFFER_OFFSET, this.lent.n);
      this.lent = null;
    }
    try {
      return await this.hasher.digest();
    } catch (e) {
      throw new MailsleuthError('CAPTURE_UNREADABLE', `cannot hash ${this.label}: ${errMessage(e)}`, { cause: e });
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.pending) await this.pending.catch(() => undefined);
    await this.hasher?.close();
    await this.fh.close().catch(() => undefined);
  }
}

/** A read buffer of `size` bytes, READ_BUFFER_OFFSET bytes into its memory. */
function readBuffer(size: number): Buffer {
  return Buffer.allocUnsafeSlow(size + READ_BUFFER_OFFSET).subarray(READ_BUFFER_OFFSET);
}

/**
 * The hash worker: hashes each chunk it is handed (the buffer is transferred), in order, and
 * hands the buffer back for the next read; `end` asks for the digest.
 */
const HASH_WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const hash = createHash('sha256');
parentPort.on('message', (m) => {
  if (m.buf !== undefined) {
    hash.update(new Uint8Array(m.buf, m.off, m.n));
    parentPort.postMessage({ ret: m.buf }, [m.buf]);
  } else if (m.end) {
    parentPort.postMessage({ hex: hash.digest('hex') });
    parentPort.close();
  }
});
`;

/** SHA-256 of a file on a hash worker of its own, over the parser's own read buffers (passed back and forth). */
class FileHasher implements ChunkHasher {
  private readonly worker: Worker;
  private readonly result: Promise<string>;
  private failure: Error | null = null;
  private returnTo: ((buf: ArrayBuffer) => void) | null = null;
  private waiters: (() => void)[] = [];

  constructor() {
    this.worker = new Worker(HASH_WORKER_SOURCE, { eval: true });
    this.result = new Promise<string>((resolve, reject) => {
      this.worker.on('message', (m: { ret?: ArrayBuffer; hex?: string }) => {
        if (m.ret !== undefined) {
          this.returnTo?.(m.ret);
          this.wake();
        } else if (m.hex !== undefined) resolve(m.hex);
      });
      this.worker.on('error', reject);
      this.worker.on('exit', () => reject(new Error('hash worker exited')));
    });
    this.result.catch((e: unknown) => {
      this.failure = e instanceof Error ? e : new Error(String(e));
      this.wake();
    });
    // Referenced only while awaited, so an abandoned source never keeps the process alive.
    // (After the listeners: adding a 'message' listener references the worker again.)
    this.worker.unref();
  }

  onReturn(fn: (buf: ArrayBuffer) => void): void {
    this.returnTo = fn;
  }

  hash(buf: ArrayBuffer, off: number, n: number): void {
    this.worker.postMessage({ buf, off, n }, [buf]);
  }

  async returned(): Promise<void> {
    if (this.failure) throw this.failure;
    this.worker.ref();
    try {
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    } finally {
      this.worker.unref();
    }
    if (this.failure) throw this.failure;
  }

  async digest(): Promise<string> {
    this.worker.postMessage({ end: true });
    this.worker.ref();
    try {
      return await this.result;
    } finally {
      this.worker.unref();
    }
  }

  async close(): Promise<void> {
    await this.worker.terminate();
    this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

/** Chunks from a Node readable stream (stdin or a caller's stream). */
class StreamSource implements ByteSource {
  private readonly it: AsyncIterator<string | Buffer>;
  private done = false;

  constructor(
    stream: NodeJS.ReadableStream,
    private readonly tap: RawTap,
    private readonly label: string,
  ) {
    this.it = stream[Symbol.asyncIterator]();
  }

  async next(): Promise<Uint8Array | null> {
    if (this.done) return null;
    for (;;) {
      let r: IteratorResult<string | Buffer>;
      try {
        r = await this.it.next();
      } catch (e) {
        this.done = true;
        throw new MailsleuthError('CAPTURE_UNREADABLE', `read error in ${this.label}: ${errMessage(e)}`, { cause: e });
      }
      if (r.done) {
        this.done = true;
        return null;
      }
      const chunk = typeof r.value === 'string' ? Buffer.from(r.value, 'latin1') : r.value;
      if (chunk.length === 0) continue;
      this.tap.bytes += chunk.length;
      this.tap.update(chunk);
      return chunk;
    }
  }

  async close(): Promise<void> {
    if (this.done) return;
    this.done = true;
    // Ending the iterator early destroys the stream (Readable async-iterator semantics).
    await this.it.return?.().catch(() => undefined);
  }
}

/**
 * Streaming gunzip over a raw source. A pump writes raw chunks into zlib, waiting for each
 * write to be consumed (raw buffers are reused); `next()` returns decompressed chunks.
 * A zlib error ends the stream (kept in `error`) instead of throwing; a raw read error throws.
 */
class GunzipSource implements ByteSource {
  error: Error | null = null;
  private readonly gz: Gunzip;
  private readonly pumpDone: Promise<void>;
  private rawError: unknown = null;
  /** Set once decompressed output is no longer wanted: the pump only reads (and hashes) raw bytes. */
  private discard = false;
  /** Decompressed chunks not yet returned ('data' events: unlike the stream's async iterator, output already produced survives a later zlib error). */
  private readonly queue: Buffer[] = [];
  private ended = false;
  private waiter: (() => void) | null = null;

  constructor(
    private readonly raw: ByteSource,
    head: Uint8Array,
  ) {
    const gz = createGunzip({ chunkSize: GUNZIP_CHUNK_BYTES });
    this.gz = gz;
    gz.on('data', (c: Buffer) => {
      this.queue.push(c);
      if (this.queue.length >= 4) gz.pause();
      this.wake();
    });
    gz.on('end', () => this.finish());
    gz.on('close', () => this.finish());
    gz.on('error', (e: Error) => {
      if (this.rawError === null && !this.discard) this.error = e;
      this.finish();
    });
    this.pumpDone = this.pump(head);
  }

  private finish(): void {
    this.ended = true;
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  private write(chunk: Uint8Array): Promise<void> {
    const gz = this.gz;
    return new Promise((resolve, reject) => {
      if (gz.destroyed) {
        reject(new Error('gunzip closed'));
        return;
      }
      // A destroyed Transform may never call back a write it holds: 'close' settles it too.
      const onClose = (): void => reject(new Error('gunzip closed'));
      gz.once('close', onClose);
      gz.write(chunk, (err) => {
        gz.off('close', onClose);
        if (err) reject(err);
        else resolve();
      });
    });
  }

  private async pump(head: Uint8Array): Promise<void> {
    let zlibOk = true;
    let chunk: Uint8Array | null = head;
    try {
      while (chunk !== null) {
        if (zlibOk && !this.discard) {
          try {
            await this.write(chunk);
          } catch {
            zlibOk = false; // reported through the 'error' event
          }
        }
        chunk = await this.raw.next();
      }
      if (zlibOk && !this.discard) this.gz.end();
    } catch (e) {
      this.rawError = e;
      this.gz.destroy(e instanceof Error ? e : new Error(String(e)));
    }
  }

  async next(): Promise<Uint8Array | null> {
    for (;;) {
      const c = this.queue.shift();
      if (c !== undefined) {
        if (this.queue.length < 2 && !this.discard) this.gz.resume();
        return c;
      }
      if (this.rawError !== null) throw this.rawError;
      if (this.ended || this.discard) return null;
      await new Promise<void>((r) => (this.waiter = r));
    }
  }

  /** Stops decompressing and reads the rest of the raw input (so that it is hashed). */
  async drain(): Promise<void> {
    this.discard = true;
    this.queue.length = 0;
    this.gz.destroy();
    await this.pumpDone;
    if (this.rawError !== null) throw this.rawError;
  }

  async close(): Promise<void> {
    this.discard = true;
    this.queue.length = 0;
    this.gz.destroy();
    await this.raw.close();
  }
}

/** Reads until at least `min` bytes are available (or the end); returns the first chunk when it is enough. */
async function readHead(src: ByteSource, min: number): Promise<Uint8Array> {
  const first = await src.next();
  if (first === null) return new Uint8Array(0);
  if (first.length >= min) return first;
  let acc = Uint8Array.from(first);
  while (acc.length < min) {
    const c = await src.next();
    if (c === null) break;
    const next = new Uint8Array(acc.length + c.length);
    next.set(acc);
    next.set(c, acc.length);
    acc = next;
  }
  return acc;
}

function errMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
