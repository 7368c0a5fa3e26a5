import { closeSync, existsSync, openSync, renameSync, unlinkSync } from 'node:fs';
import { access, open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { writevAllSync } from '../core/write-all.js';

/** Options of one {@link FileWriteQueue.write}. */
export interface FileWriteOptions {
  /**
   * The file is content-addressed (named after its SHA-256): when it exists already, or was
   * already handed to this queue, nothing is written (evidence is never overwritten).
   * Otherwise (default) an existing file is replaced atomically (rename).
   */
  keepExisting?: boolean;
}

/** Options of a {@link FileWriteQueue}. */
export interface FileWriteQueueOptions {
  /**
   * Hard bound on bytes held by the queue. A write that would go past it is done synchronously
   * in write() instead (memory stays bounded even when nobody calls drain()). 0: every write is
   * synchronous (the chunks are recycled at once). Default 256 MiB.
   */
  maxPendingBytes?: number;
  /**
   * Files written at once. Each takes a libuv threadpool thread (4 by default, shared with
   * capture reads and zlib), so keep one free. Default 3.
   */
  concurrency?: number;
  /**
   * Called with a write's chunks once the queue is done with them (written, skipped, failed or
   * dropped), e.g. to reuse their memory. Not called for chunks of a write() that returned early.
   */
  recycle?: (chunks: Uint8Array[]) => void;
  /** Content-addressed paths remembered to skip repeated writes. Past it the set is cleared (the existence check still holds). Default 100 000. */
  maxRememberedPaths?: number;
}

interface Job {
  path: string;
  chunks: Uint8Array[] | null;
  bytes: number;
  keepExisting: boolean;
}

interface Waiter {
  max: number;
  resolve: () => void;
}

const DEFAULT_MAX_PENDING = 256 * 1024 * 1024;
const DEFAULT_CONCURRENCY = 3;
const DEFAULT_MAX_REMEMBERED = 100_000;

/**
 * Writes case-folder files (messages, attachments, artifacts) off the main thread: each file is
 * written through fs.promises (libuv threadpool) to `path.tmp` and renamed into place, so a file
 * at its final name is always complete. Several files are in flight at once (bounded); writes to
 * the same path complete in the order they were queued.
 *
 * The synchronous analysis core calls write() and goes on; the pipeline awaits drain() between
 * capture batches (bounding memory) and before closing the case folder, then checks `error`.
 * Failures never reject: the first one is kept in `error` and later writes are dropped.
 */
export class FileWriteQueue {
  readonly #maxPending: number;
  readonly #concurrency: number;
  readonly #maxRemembered: number;
  readonly #recycle: ((chunks: Uint8Array[]) => void) | null;
  readonly #waiting: Job[] = [];
  /** Paths being written now. */
  readonly #running = new Set<string>();
  /** Content-addressed paths already queued or written in this run. */
  readonly #kept = new Set<string>();
  #waiters: Waiter[] = [];
  #pending = 0;
  /** Jobs queued or running (a zero-byte file is pending too). */
  #jobs = 0;
  #error: Error | null = null;

  constructor(opts: FileWriteQueueOptions = {}) {
    this.#maxPending = opts.maxPendingBytes ?? DEFAULT_MAX_PENDING;
    this.#concurrency = Math.max(1, Math.floor(opts.concurrency ?? DEFAULT_CONCURRENCY));
    this.#maxRemembered = Math.max(1, opts.maxRememberedPaths ?? DEFAULT_MAX_REMEMBERED);
    this.#recycle = opts.recycle ?? null;
  }

  /**
   * Queues `chunks` (concatenated) to be written to `path`. Ownership of the chunks passes to the
   * queue: they must not be views of a buffer the caller reuses. Returns at once; when the queue
   * already holds maxPendingBytes, the file is written synchronously here instead.
   */
  write(path: string, chunks: Uint8Array[], opts?: FileWriteOptions): void {
    if (this.#error) return this.#release(chunks);
    const keepExisting = opts?.keepExisting === true;
    if (keepExisting) {
      if (this.#kept.has(path)) return this.#release(chunks);
      if (this.#kept.size >= this.#maxRemembered) this.#kept.clear();
      this.#kept.add(path);
    }
    let bytes = 0;
    for (const c of chunks) bytes += c.length;
    const job: Job = { path, chunks, bytes, keepExisting };
    if ((this.#maxPending === 0 || this.#pending + bytes > this.#maxPending) && !this.#running.has(path) && !this.#waiting.some((j) => j.path === path)) {
      this.#writeSync(job);
      return;
    }
    this.#pending += bytes;
    this.#jobs++;
    this.#waiting.push(job);
    this.#pump();
  }

  /** Bytes handed to write() and not yet on disk (or dropped after an error). */
  get pendingBytes(): number {
    return this.#pending;
  }

  /** The first write failure (the path and the system error), or null. */
  get error(): Error | null {
    return this.#error;
  }

  /**
   * Resolves once pendingBytes ≤ maxPending; with 0 (the default) once every queued file is
   * written or failed. Never rejects.
   */
  drain(maxPending = 0): Promise<void> {
    if (this.#settled(maxPending)) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.#waiters.push({ max: maxPending, resolve });
    });
  }

  #settled(max: number): boolean {
    return this.#pending <= max && (max > 0 || this.#jobs === 0);
  }

  #pump(): void {
    while (this.#running.size < this.#concurrency && this.#waiting.length > 0) {
      // First queued job whose path is not being written (same-path writes stay in order).
      let i = 0;
      while (i < this.#waiting.length && this.#running.has(this.#waiting[i]!.path)) i++;
      if (i >= this.#waiting.length) return;
      const job = i === 0 ? this.#waiting.shift()! : this.#waiting.splice(i, 1)[0]!;
      this.#running.add(job.path);
      this.#run(job).then(
        () => this.#done(job),
        (err: unknown) => {
          this.#fail(job, err);
          this.#done(job);
        },
      );
    }
  }

  async #run(job: Job): Promise<void> {
    if (this.#error) return;
    if (job.keepExisting && (await exists(job.path))) return;
    const tmp = `${job.path}.tmp`;
    const fh = await open(tmp, 'w');
    let ok = false;
    try {
      await writeAllv(fh, job.chunks!);
      ok = true;
    } finally {
      await fh.close();
      if (!ok) await unlink(tmp).catch(() => undefined);
    }
    try {
      await rename(tmp, job.path);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
  }

  #release(chunks: Uint8Array[] | null): void {
    if (chunks && this.#recycle) this.#recycle(chunks);
  }

  #done(job: Job): void {
    this.#release(job.chunks);
    job.chunks = null;
    this.#running.delete(job.path);
    this.#pending -= job.bytes;
    this.#jobs--;
    if (this.#error) {
      // Nothing more is written: release what waits.
      for (const j of this.#waiting) {
        this.#pending -= j.bytes;
        this.#jobs--;
        this.#release(j.chunks);
        j.chunks = null;
      }
      this.#waiting.length = 0;
    }
    this.#wake();
    this.#pump();
  }

  #fail(job: Job, err: unknown): void {
    if (this.#error) return;
    const code = (err as NodeJS.ErrnoException | null)?.code;
    const why = code ?? (err instanceof Error ? err.message : String(err));
    this.#error = new Error(`cannot write ${job.path}: ${why}`, { cause: err });
  }

  #wake(): void {
    if (this.#waiters.length === 0) return;
    const keep: Waiter[] = [];
    for (const w of this.#waiters) {
      if (this.#settled(w.max)) w.resolve();
      else keep.push(w);
    }
    this.#waiters = keep;
  }

  /** Past the memory bound (or with maxPendingBytes 0): the same steps, synchronously. */
  #writeSync(job: Job): void {
    try {
      if (job.keepExisting && existsSync(job.path)) return;
      const tmp = `${job.path}.tmp`;
      const fd = openSync(tmp, 'w');
      try {
        try {
          writevAllSync(fd, job.chunks!);
        } finally {
          closeSync(fd);
        }
        renameSync(tmp, job.path);
      } catch (err) {
        // No partial file is left behind (as in the asynchronous path).
        try {
          unlinkSync(tmp);
        } catch {
          // already gone
        }
        throw err;
      }
    } catch (err) {
      this.#fail(job, err);
    } finally {
      this.#release(job.chunks);
      job.chunks = null;
    }
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** Writes every chunk in order with writev, continuing after short writes. */
async function writeAllv(fh: FileHandle, chunks: Uint8Array[]): Promise<void> {
  let bufs = chunks.filter((c) => c.length > 0);
  while (bufs.length > 0) {
    const { bytesWritten } = await fh.writev(bufs);
    let n = bytesWritten;
    let i = 0;
    while (i < bufs.length && n >= bufs[i]!.length) n -= bufs[i++]!.length;
    if (i === 0 && n === 0 && bytesWritten === 0) throw new Error('write returned 0 bytes');
    bufs = bufs.slice(i);
    if (n > 0 && bufs.length > 0) bufs[0] = bufs[0]!.subarray(n);
  }
}
