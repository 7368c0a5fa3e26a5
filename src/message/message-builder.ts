import { createHash, type Hash } from 'node:crypto';
import { closeSync, openSync, renameSync } from 'node:fs';
import { MailsleuthError } from '../core/errors.js';
import type { MessageExcerpt } from '../core/types.js';
import { writeAllSync, writevAllSync } from '../core/write-all.js';
import { buildMessageHeaders } from './headers.js';
import type { MessageBuilderOptions, MessageBuildResult, MessageFileWriter } from './message-builder-types.js';
import { MimeSplitter } from './mime-splitter.js';
import { OwnedChunks, recycleOwnedChunks } from './owned-chunks.js';

/** Growth step of the in-memory .eml buffer. */
const SPOOL_INITIAL = 64 * 1024;

/**
 * Writes the verbatim .eml. With a writer: keeps the message in owned chunks and hands them to
 * the writer at finish(), unless it grows past `maxInMemory` (then, as without a writer, the rest
 * goes to `${path}.tmp` with sync fs writes). Without: keeps up to `maxInMemory` bytes in memory,
 * then writes them in one large block to `${path}.tmp` (sync); renamed to `path` at finish().
 */
class EmlSpool {
  private readonly path: string;
  private readonly tmp: string;
  private readonly cap: number;
  private fd = -1;
  private buf: Buffer | null = null;
  private len = 0;
  private readonly writer: MessageFileWriter | null;
  /** The message so far while it is to be handed to the writer. */
  private mem: OwnedChunks | null;

  constructor(path: string, maxInMemory: number, writer: MessageFileWriter | null) {
    this.path = path;
    this.tmp = `${path}.tmp`;
    this.cap = Math.max(0, Math.floor(Math.min(maxInMemory, 0x3fffffff)));
    this.writer = writer;
    this.mem = writer ? new OwnedChunks() : null;
  }

  write(bytes: Uint8Array): void {
    if (this.mem) {
      if (this.mem.length + bytes.length <= this.cap) {
        this.mem.append(bytes);
        return;
      }
      // Too large to keep: spool synchronously from here on (memory stays bounded).
      const held = this.mem.take();
      this.mem = null;
      for (const c of held) this.writeAll(c);
      recycleOwnedChunks(held);
    }
    if (this.len + bytes.length > this.cap) {
      this.flush();
      if (bytes.length > this.cap) {
        this.writeAll(bytes);
        return;
      }
    }
    if (!this.buf || this.buf.length < this.len + bytes.length) {
      let size = this.buf ? this.buf.length * 2 : Math.min(SPOOL_INITIAL, this.cap);
      while (size < this.len + bytes.length) size *= 2;
      const grown = Buffer.allocUnsafe(Math.min(size, this.cap));
      if (this.buf) this.buf.copy(grown, 0, 0, this.len);
      this.buf = grown;
    }
    this.buf.set(bytes, this.len);
    this.len += bytes.length;
  }

  private open(): void {
    if (this.fd >= 0) return;
    try {
      this.fd = openSync(this.tmp, 'w');
    } catch (err) {
      throw new MailsleuthError('OUTPUT_UNWRITABLE', `cannot create ${this.tmp}: ${errCode(err)}`, { cause: err });
    }
  }

  private flush(): void {
    if (this.len > 0 && this.buf) this.writeAll(this.buf.subarray(0, this.len));
    this.len = 0;
  }

  private writeAll(bytes: Uint8Array): void {
    this.open();
    try {
      writeAllSync(this.fd, bytes);
    } catch (err) {
      throw new MailsleuthError('OUTPUT_UNWRITABLE', `cannot write ${this.tmp}: ${errCode(err)}`, { cause: err });
    }
  }

  finish(): void {
    if (this.mem) {
      this.writer!.write(this.path, this.mem.take());
      this.mem = null;
      return;
    }
    this.open();
    this.flush();
    this.buf = null;
    try {
      closeSync(this.fd);
      this.fd = -1;
      renameSync(this.tmp, this.path);
    } catch (err) {
      throw new MailsleuthError('OUTPUT_UNWRITABLE', `cannot store ${this.path}: ${errCode(err)}`, { cause: err });
    }
  }
}

/** The system error code (EISDIR, ENOSPC...) or message of a failed file operation. */
function errCode(err: unknown): string {
  return (err as NodeJS.ErrnoException | null)?.code ?? (err instanceof Error ? err.message : String(err));
}

/** Views a BorrowedEmlFile collects before it writes them out, whatever flush() says. */
const MAX_PENDING_VIEWS = 4096;

/**
 * Writes the verbatim .eml straight from bytes the caller keeps valid until flush(): views are
 * collected, then written with one gathered write each flush (sync), into `${path}.tmp`, renamed
 * to `path` at finish(). Nothing is copied; the file is opened at the first flush.
 */
class BorrowedEmlFile {
  private readonly tmp: string;
  private fd = -1;
  private views: Uint8Array[] = [];
  /** The run being extended (not yet in `views`): contiguous bytes of one buffer. */
  private run: Uint8Array | null = null;
  private runLen = 0;

  constructor(private readonly path: string) {
    this.tmp = `${path}.tmp`;
  }

  write(bytes: Uint8Array): void {
    const run = this.run;
    if (run !== null && run.buffer === bytes.buffer && run.byteOffset + this.runLen === bytes.byteOffset) {
      // Contiguous with the run (the usual case: one arena, in order): extend it, no allocation.
      this.runLen += bytes.length;
      return;
    }
    this.closeRun();
    this.run = bytes;
    this.runLen = bytes.length;
    // Bounded bookkeeping however the bytes are interleaved: write out early (still valid).
    if (this.views.length >= MAX_PENDING_VIEWS) this.flush();
  }

  /** Moves the run into `views`. */
  private closeRun(): void {
    const run = this.run;
    if (run === null) return;
    this.views.push(this.runLen === run.length ? run : new Uint8Array(run.buffer, run.byteOffset, this.runLen));
    this.run = null;
    this.runLen = 0;
  }

  flush(): void {
    this.closeRun();
    if (this.views.length === 0) return;
    if (this.fd < 0) {
      try {
        this.fd = openSync(this.tmp, 'w');
      } catch (err) {
        throw new MailsleuthError('OUTPUT_UNWRITABLE', `cannot create ${this.tmp}: ${errCode(err)}`, { cause: err });
      }
    }
    const views = this.views;
    this.views = [];
    try {
      writevAllSync(this.fd, views);
    } catch (err) {
      throw new MailsleuthError('OUTPUT_UNWRITABLE', `cannot write ${this.tmp}: ${errCode(err)}`, { cause: err });
    }
  }

  finish(): void {
    this.flush();
    try {
      if (this.fd < 0) this.fd = openSync(this.tmp, 'w');
      closeSync(this.fd);
      this.fd = -1;
      renameSync(this.tmp, this.path);
    } catch (err) {
      throw new MailsleuthError('OUTPUT_UNWRITABLE', `cannot store ${this.path}: ${errCode(err)}`, { cause: err });
    }
  }
}

/**
 * The part of `bytes` a message keeps when `size` bytes of it are kept already: bytes past
 * `maxMessageBytes` are not stored or hashed (they count as missing).
 */
function keptBytes(bytes: Uint8Array, size: number, maxMessageBytes: number): Uint8Array {
  const room = maxMessageBytes - size;
  return bytes.length > room ? bytes.subarray(0, Math.max(0, room)) : bytes;
}

/**
 * Rebuilds one message from its raw bytes (already dot-unstuffed / de-framed by the protocol
 * layer), streaming: hashes and counts them, spools the verbatim .eml, splits the MIME structure,
 * decodes and stores attachments, and describes the message at end().
 *
 * Bytes past `maxMessageBytes` are not stored or hashed; they count as missing
 * (`message_too_large`, partial). A gap inserts nothing into the .eml: the message becomes partial
 * and the MIME splitter resynchronises (the part in progress is marked partial).
 */
export class MessageBuilder {
  private readonly opts: MessageBuilderOptions;
  private readonly hash: Hash;
  private readonly spool: EmlSpool | BorrowedEmlFile | null;
  private readonly splitter: MimeSplitter;
  private readonly anomalies: string[] = [];
  /** Codes raised by the MIME splitter (dropped for a `'content'` excerpt). */
  private readonly mimeCodes = new Set<string>();
  private size = 0;
  private missing = 0;
  private partial = false;
  private tooLarge = false;
  private result: MessageBuildResult | null = null;

  constructor(opts: MessageBuilderOptions) {
    this.opts = opts;
    this.hash = createHash('sha256');
    this.spool =
      opts.emlPath === null
        ? null
        : opts.emlBorrowedUntilFlush === true
          ? new BorrowedEmlFile(opts.emlPath)
          : new EmlSpool(opts.emlPath, opts.limits.maxInMemoryMessageBytes, opts.writer ?? null);
    this.splitter = new MimeSplitter({
      limits: opts.limits,
      attachmentsDir: opts.attachmentsDir,
      writer: opts.writer ?? null,
      maxInMemoryBytes: opts.limits.maxInMemoryMessageBytes,
      onAnomaly: (code) => {
        this.mimeCodes.add(code);
        this.anomaly(code);
      },
    });
  }

  private anomaly(code: string): void {
    if (!this.anomalies.includes(code)) this.anomalies.push(code);
  }

  /**
   * The next message bytes. Borrowed: copied or consumed during the call (with
   * `emlBorrowedUntilFlush`: kept until the next flush() or end()).
   */
  write(bytes: Uint8Array): void {
    if (this.result || bytes.length === 0) return;
    const part = keptBytes(bytes, this.size, this.opts.limits.maxMessageBytes);
    if (part.length < bytes.length) {
      this.missing += bytes.length - part.length;
      this.partial = true;
      if (!this.tooLarge) {
        this.tooLarge = true;
        this.anomaly('message_too_large');
      }
      if (part.length === 0) return;
    }
    this.size += part.length;
    this.hash.update(part);
    if (this.spool) this.spool.write(part);
    this.splitter.write(part);
  }

  /**
   * With `emlBorrowedUntilFlush`: writes the .eml bytes given since the last flush; the caller
   * may reuse them afterwards. Otherwise nothing to do.
   */
  flush(): void {
    if (this.spool instanceof BorrowedEmlFile && !this.result) this.spool.flush();
  }

  /** `length` bytes of the message are missing here (nothing is inserted). */
  gap(length: number): void {
    if (this.result) return;
    this.partial = true;
    if (length > 0 && Number.isFinite(length)) this.missing += length;
    if (!this.tooLarge) this.splitter.gap();
  }

  /**
   * Ends the message. `complete` is false when the transfer did not finish (connection lost,
   * terminator never seen). `excerpt`: the bytes are the part of a message the client asked for
   * (see MessageExcerpt); the message is partial, but only missing bytes or an unfinished
   * transfer raise `message_partial`, and for a `'content'` excerpt the MIME splitter's codes are
   * dropped (the bytes were never meant to start with a header block). Renames the .eml into place
   * (or hands it to the writer) and returns the description.
   */
  end(complete: boolean, excerpt?: MessageExcerpt): MessageBuildResult {
    if (this.result) return this.result;
    if (!complete) this.partial = true;
    const split = this.splitter.end(!complete || this.tooLarge || excerpt !== undefined);
    if (this.partial) this.anomaly('message_partial');
    else if (excerpt !== undefined) this.partial = true;
    if (excerpt === 'content' && this.mimeCodes.size > 0) {
      const kept = this.anomalies.filter((c) => !this.mimeCodes.has(c));
      this.anomalies.length = 0;
      this.anomalies.push(...kept);
    }
    if (this.spool) this.spool.finish();
    this.result = {
      size: this.size,
      sha256: this.hash.digest('hex'),
      partial: this.partial,
      missing_bytes: this.missing,
      headers: buildMessageHeaders(split.headers),
      parts: split.parts,
      attachments: split.attachments,
      anomalies: this.anomalies,
    };
    return this.result;
  }
}
