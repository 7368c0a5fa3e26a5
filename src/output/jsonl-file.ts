import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { writeAllSync } from '../core/write-all.js';

/**
 * Placeholder written in place of the capture's SHA-256 while it is not yet known (the hash is
 * complete only when the whole input has been read). Same length as a hex SHA-256, so the
 * final value is patched in place without rewriting the file.
 */
export const SHA256_PLACEHOLDER = '~capture-sha256-pending~'.padEnd(64, '~');

/** Written instead of the capture hash when the input was not read to its end (interrupted run). */
export const UNKNOWN_SHA256 = '-'.repeat(64);

/** The start of a stamped line (JsonlFile.writeStamped): its first field, the placeholder hash. */
const STAMP_TEXT = `{"capture_sha256":"${SHA256_PLACEHOLDER}"`;
const STAMP = Buffer.from(STAMP_TEXT, 'latin1');
const LF = 0x0a;
const COMMA = 0x2c;
const CLOSE_BRACE = 0x7d;

/** A stamped line as a string (for lines too long for the buffer). */
function stampedLine(json: string): string {
  return json.length === 2 ? `${STAMP_TEXT}}\n` : `${STAMP_TEXT},${json.slice(1)}\n`;
}

/** Bytes buffered per file before a write. */
const BUFFER_BYTES = 256 * 1024;

/**
 * An append-only JSON-lines file with buffered synchronous writes. Lines are encoded straight
 * into one reused buffer (no joined string and no fresh buffer per write: fresh memory costs a
 * page fault per 4 KiB on first touch).
 */
export class JsonlFile {
  readonly path: string;
  #fd: number;
  #buf: Buffer | null = null;
  #used = 0;
  #lines = 0;

  constructor(path: string) {
    this.path = path;
    this.#fd = openSync(path, 'w+');
  }

  get lines(): number {
    return this.#lines;
  }

  write(record: object): void {
    this.#put(JSON.stringify(record), false);
  }

  /**
   * Writes `record` with `capture_sha256` as its first field, holding the placeholder until
   * close() patches the hash in: as `write({ capture_sha256: SHA256_PLACEHOLDER, ...record })`
   * (record must not have that field), without building the spread copy of the record.
   */
  writeStamped(record: object): void {
    this.#put(JSON.stringify(record), true);
  }

  /**
   * One line: `json` (a JSON object), stamped (the placeholder field put first) or not. Encoded
   * straight into the buffer: no `json + '\n'` (a concatenation V8 would flatten, copying the line).
   */
  #put(json: string, stamped: boolean): void {
    this.#lines++;
    const buf = (this.#buf ??= Buffer.allocUnsafeSlow(BUFFER_BYTES));
    const extra = stamped ? STAMP.length + 1 : 1;
    // UTF-8 takes at most 3 bytes per UTF-16 code unit.
    const most = json.length * 3 + extra;
    if (this.#used + most > buf.length) {
      this.flush();
      if (most > buf.length) {
        const line = stamped ? stampedLine(json) : json + '\n';
        writeAllSync(this.#fd, Buffer.from(line, 'utf8'));
        return;
      }
    }
    let at = this.#used;
    if (stamped) {
      STAMP.copy(buf, at);
      at += STAMP.length;
      if (json.length === 2) {
        buf[at++] = CLOSE_BRACE; // '{}': the stamp's field alone
      } else {
        // The record's '{' (one byte) becomes the ',' after the stamp's field.
        const n = buf.write(json, at, 'utf8');
        buf[at] = COMMA;
        at += n;
      }
    } else {
      at += buf.write(json, at, 'utf8');
    }
    buf[at++] = LF;
    this.#used = at;
  }

  flush(): void {
    if (this.#used === 0 || this.#buf === null) return;
    writeAllSync(this.#fd, this.#buf.subarray(0, this.#used));
    this.#used = 0;
  }

  /**
   * Flushes, replaces every placeholder with `sha256` in place (or with 64 '-' when the hash is
   * unknown because the run was interrupted before the input ended), and closes the file.
   */
  close(sha256: string | undefined): void {
    this.flush();
    const value = sha256 && sha256.length === SHA256_PLACEHOLDER.length ? sha256 : UNKNOWN_SHA256;
    // The file's own write buffer (already mapped) is the patch's read buffer.
    patchInPlace(this.#fd, SHA256_PLACEHOLDER, value, this.#buf ?? undefined);
    closeSync(this.#fd);
    this.#buf = null;
  }
}


const PATCH_CHUNK_BYTES = 256 * 1024;
/** One read buffer for every patch of this thread without its own (the files are patched one after another). */
let patchChunk: Buffer | null = null;

/**
 * Overwrites every occurrence of `needle` with `value` (same byte length) in an open file, read
 * in chunks into `scratch` (its contents are overwritten; longer than the needle) or a 256 KiB
 * buffer of this module. Small, reused buffers: fresh memory costs a page fault per 4 KiB.
 */
export function patchInPlace(fd: number, needle: string, value: string, scratch?: Buffer): void {
  const n = Buffer.from(needle, 'latin1');
  const v = Buffer.from(value, 'latin1');
  const chunk = scratch !== undefined && scratch.length > 2 * n.length ? scratch : (patchChunk ??= Buffer.allocUnsafeSlow(PATCH_CHUNK_BYTES));
  let pos = 0;
  for (;;) {
    const got = readSync(fd, chunk, 0, chunk.length, pos);
    if (got <= 0) break;
    const view = chunk.subarray(0, got);
    // Patch the chunk in memory, then write the patched span back with one write.
    let i = view.indexOf(n);
    const first = i;
    let end = -1;
    while (i !== -1) {
      v.copy(view, i);
      end = i + n.length;
      i = view.indexOf(n, end);
    }
    if (first !== -1) {
      let off = first;
      while (off < end) off += writeSync(fd, view, off, end - off, pos + off);
    }
    if (got < chunk.length) break;
    // Step back so a needle straddling two reads is still found.
    pos += got - (n.length - 1);
  }
}
