import { writeSync, writevSync } from 'node:fs';

/** Writes all of `bytes` at the file's current position, resuming after short writes. */
export function writeAllSync(fd: number, bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
}

/** Most buffers given to one writev call (IOV_MAX is 1024 on Linux). */
const MAX_IOV = 512;

/**
 * Writes `chunks` in order at the file's current position with gathered writes (no concatenated
 * copy: a fresh buffer the size of the file would cost a page fault per 4 KiB), resuming after
 * short writes. Throws the system error of a failed write.
 */
export function writevAllSync(fd: number, chunks: readonly Uint8Array[]): void {
  for (let i = 0; i < chunks.length; i += MAX_IOV) {
    let batch = chunks.slice(i, i + MAX_IOV);
    let left = 0;
    for (const v of batch) left += v.length;
    // A short write resumes where it stopped.
    while (left > 0) {
      let n = writevSync(fd, batch);
      left -= n;
      if (left === 0) break;
      let k = 0;
      while (n >= batch[k]!.length) n -= batch[k++]!.length;
      batch = [batch[k]!.subarray(n), ...batch.slice(k + 1)];
    }
  }
}
