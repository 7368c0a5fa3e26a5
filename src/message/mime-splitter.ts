import { createHash, randomBytes, type Hash } from 'node:crypto';
import { closeSync, existsSync, openSync, renameSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { MailsleuthError } from '../core/errors.js';
import { writeAllSync } from '../core/write-all.js';
import type { AttachmentRecord, MimePartRecord } from '../core/records.js';
import { decodeWords, parseStructured } from './encoded-words.js';
import { decodeHeaderBytes, firstField, parseHeaderFields, type HeaderField } from './headers.js';
import {
  Base64Decoder,
  IdentityDecoder,
  QuotedPrintableDecoder,
  type BodyDecoder,
  type ByteSink,
} from './transfer-decoders.js';
import type { MessageFileWriter } from './message-builder-types.js';
import { OwnedChunks, recycleOwnedChunks } from './owned-chunks.js';

/** Limits the splitter enforces (a subset of core Limits, `message` section). */
export interface MimeSplitterLimits {
  maxMimeDepth: number;
  maxMimeParts: number;
  maxHeaderBytes: number;
}

export interface MimeSplitterOptions {
  limits: MimeSplitterLimits;
  /** Folder for decoded attachments (`<sha256>`), or null to write none. */
  attachmentsDir: string | null;
  /** Called with an anomaly code (may repeat). */
  onAnomaly: (code: string) => void;
  /**
   * When set (with attachmentsDir), decoded attachments are kept in memory, at most
   * `maxInMemoryBytes` over all parts of the message, and handed to it at end(); the part that
   * would go past that bound is spooled to a temp file as without a writer.
   */
  writer?: MessageFileWriter | null;
  /** In-memory bound for decoded attachment bytes of one message (with a writer). Default 0. */
  maxInMemoryBytes?: number;
}

/** What the splitter found, once ended. */
export interface MimeSplitResult {
  /** Top-level header fields (the message's own header block). */
  headers: HeaderField[];
  parts: MimePartRecord[];
  attachments: AttachmentRecord[];
}

const LF = 0x0a;
const CR = 0x0d;
const DASH = 0x2d;
const NL_DASH_DASH = Buffer.from('\n--', 'latin1');
/** RFC 2046 5.1.1: boundaries are 1..70 characters; longer ones (up to a line) are tolerated. */
const MAX_BOUNDARY = 998;
/** Room for "--" boundary "--", trailing whitespace and CRLF while a boundary line is undecided. */
const CARRY_CAP = MAX_BOUNDARY + 4 + 256;
/** postal-mime parses at most 10 levels of message/rfc822 inline; deeper ones are attachments. */
const MAX_RFC822_INLINE_DEPTH = 10;
const FILE_BUF = 256 * 1024;

const KIND_LEAF = 0;
const KIND_MULTIPART = 1;
const KIND_MESSAGE = 2;
/** Past maxMimeParts: content is skipped, nothing recorded. */
const KIND_IGNORED = 3;

function joinPath(prefix: string, part: string): string {
  return prefix === '' ? part : `${prefix}.${part}`;
}

/** Bytes of decoded output the splitter may still keep in memory (shared by a message's parts). */
interface MemoryBudget {
  left: number;
}

/**
 * Decoded output of one leaf: SHA-256, size, and optionally its bytes: in memory (`mem`, while
 * the budget allows) or in a temp file in attachmentsDir.
 */
class DecodedOutput implements ByteSink {
  readonly hash: Hash = createHash('sha256');
  size = 0;
  sha256 = '';
  file: TempFile | null = null;
  mem: OwnedChunks | null = null;
  budget: MemoryBudget | null = null;
  dir: string | null = null;

  push(bytes: Uint8Array): void {
    this.size += bytes.length;
    this.hash.update(bytes);
    const mem = this.mem;
    if (mem) {
      const budget = this.budget!;
      if (bytes.length <= budget.left) {
        mem.append(bytes);
        budget.left -= bytes.length;
        return;
      }
      this.spill();
    }
    if (this.file) this.file.write(bytes);
  }

  /** Over the memory budget: move what is held to a temp file (sync) and continue there. */
  private spill(): void {
    const mem = this.mem!;
    this.budget!.left += mem.length;
    this.mem = null;
    this.file = new TempFile(this.dir!);
    const held = mem.take();
    for (const c of held) this.file.write(c);
    recycleOwnedChunks(held);
  }

  /** Gives the in-memory bytes away (owned by the caller) and returns their budget. */
  takeMemory(): Uint8Array[] {
    const mem = this.mem!;
    this.budget!.left += mem.length;
    this.mem = null;
    return mem.take();
  }

  /** Drops the bytes (memory or temp file). */
  discard(): void {
    if (this.mem) recycleOwnedChunks(this.takeMemory());
    if (this.file) this.file.discard();
  }

  finish(): void {
    if (!this.sha256) this.sha256 = this.hash.digest('hex');
    if (this.file) this.file.close();
  }
}

/** A temp file `.tmp-<random>` in the attachments folder, written with sync, buffered writes. */
class TempFile {
  readonly path: string;
  private fd: number;
  private buf: Buffer | null = Buffer.allocUnsafe(FILE_BUF);
  private len = 0;

  constructor(dir: string) {
    this.path = join(dir, `.tmp-${randomBytes(8).toString('hex')}`);
    try {
      this.fd = openSync(this.path, 'wx');
    } catch (err) {
      throw new MailsleuthError('OUTPUT_UNWRITABLE', `cannot create ${this.path}`, { cause: err });
    }
  }

  write(bytes: Uint8Array): void {
    if (this.fd < 0 || !this.buf) return;
    if (this.len + bytes.length > this.buf.length) this.flush();
    if (bytes.length > this.buf.length) {
      this.writeAll(bytes);
    } else {
      this.buf.set(bytes, this.len);
      this.len += bytes.length;
    }
  }

  private flush(): void {
    if (this.len > 0 && this.buf) this.writeAll(this.buf.subarray(0, this.len));
    this.len = 0;
  }

  private writeAll(bytes: Uint8Array): void {
    try {
      writeAllSync(this.fd, bytes);
    } catch (err) {
      throw new MailsleuthError('OUTPUT_UNWRITABLE', `cannot write ${this.path}`, { cause: err });
    }
  }

  close(): void {
    if (this.fd < 0) return;
    this.flush();
    closeSync(this.fd);
    this.fd = -1;
    this.buf = null;
  }

  /** Moves the file to dir/name, or drops it when that file exists already (same content). */
  keepAs(dir: string, name: string): void {
    this.close();
    const target = join(dir, name);
    try {
      if (existsSync(target)) unlinkSync(this.path);
      else renameSync(this.path, target);
    } catch (err) {
      throw new MailsleuthError('OUTPUT_UNWRITABLE', `cannot store ${target}`, { cause: err });
    }
  }

  discard(): void {
    this.close();
    try {
      unlinkSync(this.path);
    } catch {
      /* already gone */
    }
  }
}

/** One MIME entity (the message itself, a body part, or an encapsulated message). */
class Entity {
  path = '';
  /** Prefix for the paths of this entity's children. */
  childPrefix = '';
  readonly parent: Entity | null;
  readonly depth: number;
  /** Nearest enclosing message/rfc822 entity (null: the top-level message). */
  readonly scope: Entity | null;
  /** Count of message/rfc822 entities enclosing this one. */
  readonly rfc822Depth: number;
  readonly headerStart: number;
  bodyStart = -1;
  bodyEnd = -1;
  inHeader = true;
  hdr: Uint8Array | null = null;
  hdrLen = 0;
  hdrOverflow = false;
  /** The current header line has a byte other than CR (so it is not the blank line). */
  lineHasContent = false;
  fields: HeaderField[] = [];
  contentType = 'text/plain';
  charset: string | null = null;
  cte = '';
  disposition: string | null = null;
  filename: string | null = null;
  kind: number;
  boundary: Buffer | null = null;
  terminated = false;
  childCount = 0;
  decoder: BodyDecoder | null = null;
  out: DecodedOutput | null = null;
  /** Leaf classified as an attachment (message/rfc822 entities are decided at the end). */
  attachment = false;
  partial = false;

  constructor(parent: Entity | null, headerStart: number, kind: number) {
    this.parent = parent;
    this.depth = parent ? parent.depth + 1 : 0;
    this.headerStart = headerStart;
    this.kind = kind;
    if (parent && parent.kind === KIND_MESSAGE) {
      this.scope = parent;
      this.rfc822Depth = parent.rfc822Depth + 1;
    } else {
      this.scope = parent ? parent.scope : null;
      this.rfc822Depth = parent ? parent.rfc822Depth : 0;
    }
  }
}

/**
 * Streaming MIME splitter (RFC 2045, RFC 2046, RFC 5322). Takes the raw message in arbitrary
 * chunks (borrowed), finds header blocks and multipart boundaries without converting bodies to
 * strings (Buffer.indexOf on the chunk), descends into message/rfc822 parts, decodes leaf bodies
 * as they stream (hash + size; attachments to temp files, or to memory for the writer) and
 * records byte ranges into the raw message. Paths are IMAP-like: "" for the message, "1", "1.2"
 * for parts; the entity inside a message/rfc822 part P is "P.1" when it is a single part,
 * "P.TEXT" when it is a multipart (its children are then "P.1", "P.2" as in IMAP).
 *
 * Hostile input never throws (only file-system failures do, as MailsleuthError); memory is bounded
 * by maxHeaderBytes per entity, the boundary line carry, the limits on depth and parts, and
 * maxInMemoryBytes for attachments kept for the writer.
 */
export class MimeSplitter {
  private readonly limits: MimeSplitterLimits;
  private readonly attachmentsDir: string | null;
  private readonly onAnomaly: (code: string) => void;
  private readonly writer: MessageFileWriter | null;
  private readonly budget: MemoryBudget;
  private readonly root: Entity;
  /** Open entities, outermost first. */
  private readonly stack: Entity[] = [];
  /** Every recorded entity, in order of appearance. */
  private readonly entities: Entity[] = [];
  /** Open message/rfc822 entities in body state (they see every byte of their body). */
  private readonly openMessages: Entity[] = [];
  private activeBoundaries = 0;
  private total = 0;
  private base = 0;
  private atLineStart = true;
  private carry: Uint8Array | null = null;
  private carryLen = 0;
  private carryAbs = 0;
  /** Last two bytes consumed (to find the line terminator before a delimiter). */
  private last1 = -1;
  private last2 = -1;
  private ended: MimeSplitResult | null = null;
  // Result of the last boundary check.
  private mEnt: Entity | null = null;
  private mTerm = false;
  private mLineEnd = 0;

  constructor(opts: MimeSplitterOptions) {
    this.limits = opts.limits;
    this.attachmentsDir = opts.attachmentsDir;
    this.onAnomaly = opts.onAnomaly;
    this.writer = opts.attachmentsDir !== null ? (opts.writer ?? null) : null;
    this.budget = { left: Math.max(0, opts.maxInMemoryBytes ?? 0) };
    this.root = new Entity(null, 0, KIND_LEAF);
    this.stack.push(this.root);
    this.entities.push(this.root);
  }

  /** Feeds the next bytes of the message (borrowed). */
  write(chunk: Uint8Array): void {
    if (this.ended || chunk.length === 0) return;
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const end = buf.length;
    this.base = this.total;
    this.total += end;
    let pos = 0;
    if (this.carryLen > 0) {
      pos = this.resolveCarry(buf, 0, end, false);
      if (this.carryLen > 0) return;
    }
    while (pos < end) {
      if (this.atLineStart && this.activeBoundaries > 0) {
        const r = this.checkBoundary(buf, pos, end, false);
        if (r === 1) {
          const lineEnd = this.mLineEnd;
          this.onBoundary(buf, pos, lineEnd, this.base);
          pos = lineEnd;
          this.atLineStart = true;
          continue;
        }
        if (r === -1 && end - pos <= CARRY_CAP) {
          this.startCarry(buf, pos, end);
          return;
        }
      }
      const cur = this.stack[this.stack.length - 1]!;
      if (cur.inHeader) {
        const lf = buf.indexOf(LF, pos);
        const lineEnd = lf < 0 ? end : lf + 1;
        this.consumeExtra(buf, pos, lineEnd);
        this.feedHeader(cur, buf, pos, lineEnd, lf >= 0, this.base);
        pos = lineEnd;
        this.atLineStart = lf >= 0;
        continue;
      }
      if (this.activeBoundaries > 0) {
        const k = buf.indexOf(NL_DASH_DASH, pos);
        if (k >= 0) {
          this.deliver(cur, buf, pos, k + 1);
          pos = k + 1;
          this.atLineStart = true;
          continue;
        }
        if (buf[end - 1] === LF) {
          this.deliver(cur, buf, pos, end);
          this.atLineStart = true;
        } else if (end - pos >= 2 && buf[end - 2] === LF && buf[end - 1] === DASH) {
          this.deliver(cur, buf, pos, end - 1);
          pos = end - 1;
          this.atLineStart = true;
          continue;
        } else {
          this.deliver(cur, buf, pos, end);
          this.atLineStart = false;
        }
        pos = end;
      } else {
        this.deliver(cur, buf, pos, end);
        this.atLineStart = buf[end - 1] === LF;
        pos = end;
      }
    }
  }

  /** Bytes are missing here (not inserted anywhere): the current part is partial; resynchronise. */
  gap(): void {
    if (this.ended) return;
    if (this.carryLen > 0) this.flushCarryAsContent();
    const cur = this.stack[this.stack.length - 1]!;
    cur.partial = true;
    if (cur.decoder) cur.decoder.gap();
    if (cur.inHeader) cur.lineHasContent = true;
    for (const m of this.openMessages) {
      m.partial = true;
      if (m.decoder) m.decoder.gap();
    }
    // The next byte may start a line (a boundary line after the gap is still found).
    this.atLineStart = true;
  }

  /**
   * Ends the message. `truncated`: the message did not end normally (open parts are partial).
   * Returns the structure; attachment files are moved into place or removed.
   */
  end(truncated: boolean): MimeSplitResult {
    if (this.ended) return this.ended;
    if (this.carryLen > 0) this.resolveCarry(Buffer.alloc(0), 0, 0, true);
    while (this.stack.length > 0) {
      const e = this.stack.pop()!;
      if (truncated) e.partial = true;
      this.close(e, this.total, false);
    }
    this.ended = this.collect();
    return this.ended;
  }

  // ---------------------------------------------------------------- boundary handling

  /**
   * Is b[s..) a delimiter line of an open multipart (innermost first)? RFC 2046 5.1.1:
   * "--" boundary ["--"] then optional whitespace, then the line end. 1: yes (mEnt, mTerm,
   * mLineEnd set), 0: no, -1: cannot tell yet (need more bytes).
   */
  private checkBoundary(b: Uint8Array, s: number, e: number, eof: boolean): number {
    if (b[s] !== DASH) return 0;
    if (e - s < 2) return eof ? 0 : -1;
    if (b[s + 1] !== DASH) return 0;
    const stack = this.stack;
    for (let i = stack.length - 1; i >= 0; i--) {
      const ent = stack[i]!;
      const bd = ent.boundary;
      if (ent.kind !== KIND_MULTIPART || bd === null || ent.terminated) continue;
      const avail = e - s - 2;
      const n = avail < bd.length ? avail : bd.length;
      let j = 0;
      while (j < n && b[s + 2 + j] === bd[j]) j++;
      if (j < n) continue;
      if (n < bd.length) {
        if (eof) continue;
        return -1;
      }
      let p = s + 2 + bd.length;
      let term = false;
      if (p < e && b[p] === DASH) {
        if (p + 1 >= e) {
          if (!eof) return -1;
        } else if (b[p + 1] === DASH) {
          term = true;
          p += 2;
        }
      }
      while (p < e && (b[p] === 0x20 || b[p] === 0x09)) p++;
      while (p < e && b[p] === CR) p++;
      if (p >= e) {
        if (!eof) return -1;
        this.mEnt = ent;
        this.mTerm = term;
        this.mLineEnd = e;
        return 1;
      }
      if (b[p] !== LF) continue;
      this.mEnt = ent;
      this.mTerm = term;
      this.mLineEnd = p + 1;
      return 1;
    }
    return 0;
  }

  /** A delimiter line b[s, lineEnd) of this.mEnt was found; abs0 is the offset of b[0]. */
  private onBoundary(b: Uint8Array, s: number, lineEnd: number, abs0: number): void {
    const ent = this.mEnt!;
    const term = this.mTerm;
    const lineStartAbs = abs0 + s;
    while (this.stack[this.stack.length - 1] !== ent) {
      this.close(this.stack.pop()!, lineStartAbs, true);
    }
    this.consumeExtra(b, s, lineEnd);
    if (term) {
      ent.terminated = true;
      this.activeBoundaries--;
      return;
    }
    this.openChild(ent, abs0 + lineEnd);
  }

  private startCarry(b: Uint8Array, s: number, e: number): void {
    if (!this.carry) this.carry = new Uint8Array(CARRY_CAP);
    this.carry.set(b.subarray(s, e), 0);
    this.carryLen = e - s;
    this.carryAbs = this.base + s;
  }

  /** Adds bytes to an undecided boundary line and decides it when possible; returns the new pos. */
  private resolveCarry(buf: Uint8Array, pos: number, end: number, eof: boolean): number {
    const carry = this.carry!;
    if (pos < end) {
      const lf = buf.indexOf(LF, pos);
      const lim = lf < 0 || lf >= end ? end : lf + 1;
      const n = Math.min(lim - pos, CARRY_CAP - this.carryLen);
      carry.set(buf.subarray(pos, pos + n), this.carryLen);
      this.carryLen += n;
      pos += n;
    }
    let r = this.checkBoundary(carry, 0, this.carryLen, eof);
    if (r === -1) {
      if (!eof && this.carryLen < CARRY_CAP && pos === end) return pos;
      r = 0;
    }
    if (r === 1) {
      const lineEnd = this.mLineEnd;
      this.carryLen = 0;
      this.onBoundary(carry, 0, lineEnd, this.carryAbs);
      this.atLineStart = true;
      return pos;
    }
    this.flushCarryAsContent();
    return pos;
  }

  /** The carried bytes are not a delimiter: hand them to the current entity. */
  private flushCarryAsContent(): void {
    const carry = this.carry!;
    const len = this.carryLen;
    this.carryLen = 0;
    const cur = this.stack[this.stack.length - 1]!;
    const complete = carry[len - 1] === LF;
    if (cur.inHeader) {
      this.consumeExtra(carry, 0, len);
      this.feedHeader(cur, carry, 0, len, complete, this.carryAbs);
    } else {
      this.deliver(cur, carry, 0, len);
    }
    this.atLineStart = complete;
  }

  // ---------------------------------------------------------------- consumption

  /** Body bytes of the current entity. */
  private deliver(cur: Entity, b: Uint8Array, s: number, e: number): void {
    if (e <= s) return;
    if (cur.decoder) cur.decoder.write(b, s, e);
    this.consumeExtra(b, s, e);
  }

  /** Every consumed byte: encapsulated messages see it; remember the last two bytes. */
  private consumeExtra(b: Uint8Array, s: number, e: number): void {
    if (e <= s) return;
    const msgs = this.openMessages;
    for (let i = 0; i < msgs.length; i++) msgs[i]!.decoder!.write(b, s, e);
    if (e - s >= 2) {
      this.last2 = b[e - 2]!;
      this.last1 = b[e - 1]!;
    } else {
      this.last2 = this.last1;
      this.last1 = b[e - 1]!;
    }
  }

  /** Header bytes b[s, e) of ent; `complete` when they end with LF. */
  private feedHeader(ent: Entity, b: Uint8Array, s: number, e: number, complete: boolean, abs0: number): void {
    if (ent.kind !== KIND_IGNORED && !ent.hdrOverflow) {
      const max = this.limits.maxHeaderBytes;
      let n = e - s;
      if (ent.hdrLen + n > max) {
        n = Math.max(0, max - ent.hdrLen);
        ent.hdrOverflow = true;
        this.onAnomaly('mime_header_too_large');
      }
      if (n > 0) {
        if (!ent.hdr || ent.hdr.length < ent.hdrLen + n) {
          let size = ent.hdr ? ent.hdr.length * 2 : 1024;
          while (size < ent.hdrLen + n) size *= 2;
          const grown = new Uint8Array(Math.min(size, Math.max(max, ent.hdrLen + n)));
          if (ent.hdr) grown.set(ent.hdr.subarray(0, ent.hdrLen));
          ent.hdr = grown;
        }
        ent.hdr.set(b.subarray(s, s + n), ent.hdrLen);
        ent.hdrLen += n;
      }
    }
    if (!ent.lineHasContent) {
      const t = complete ? e - 1 : e;
      for (let k = s; k < t; k++) {
        if (b[k] !== CR) {
          ent.lineHasContent = true;
          break;
        }
      }
    }
    if (complete) {
      if (ent.lineHasContent) ent.lineHasContent = false;
      else this.endHeaders(ent, abs0 + e, true);
    }
  }

  // ---------------------------------------------------------------- entities

  private openChild(parent: Entity, headerStart: number): void {
    let kind = KIND_LEAF;
    if (parent.kind === KIND_IGNORED) {
      kind = KIND_IGNORED;
    } else if (this.entities.length >= this.limits.maxMimeParts) {
      this.onAnomaly('mime_too_many_parts');
      kind = KIND_IGNORED;
    }
    const child = new Entity(parent, headerStart, kind);
    if (parent.kind === KIND_MULTIPART) {
      parent.childCount++;
      child.path = joinPath(parent.childPrefix, String(parent.childCount));
    }
    this.stack.push(child);
    if (kind !== KIND_IGNORED) this.entities.push(child);
  }

  /** The header block of ent ended; its body starts at bodyStart. */
  private endHeaders(ent: Entity, bodyStart: number, canDescend: boolean): void {
    ent.inHeader = false;
    ent.bodyStart = bodyStart;
    if (ent.kind === KIND_IGNORED) return;
    let fields: HeaderField[] = [];
    if (ent.hdrLen > 0) {
      const { text, eightBit } = decodeHeaderBytes(ent.hdr!.subarray(0, ent.hdrLen));
      if (eightBit) this.onAnomaly('mime_header_8bit');
      const parsed = parseHeaderFields(text);
      if (parsed.badLines > 0) this.onAnomaly('mime_header_bad_line');
      fields = parsed.fields;
    }
    ent.hdr = null;
    ent.fields = fields;
    this.setup(ent, canDescend);
  }

  /** Reads the content headers and prepares the body (boundary, decoder, outputs). */
  private setup(ent: Entity, canDescend: boolean): void {
    const parent = ent.parent;
    const ctField = firstField(ent.fields, 'content-type');
    const defaultType = parent && parent.kind === KIND_MULTIPART && parent.contentType === 'multipart/digest' ? 'message/rfc822' : 'text/plain';
    const ct = ctField ? parseStructured(ctField.value) : { value: defaultType, params: Object.create(null) as Record<string, string> };
    ent.contentType = ct.value;
    ent.charset = ct.params['charset'] ?? null;
    const cteField = firstField(ent.fields, 'content-transfer-encoding');
    if (cteField) {
      const m = /[\w-]+/.exec(cteField.value.replace(/\([^()]*\)/g, ' ').toLowerCase());
      ent.cte = m ? m[0] : '';
    }
    const cdField = firstField(ent.fields, 'content-disposition');
    let filename: string | undefined;
    if (cdField) {
      const cd = parseStructured(cdField.value);
      ent.disposition = cd.value || null;
      filename = cd.params['filename'];
    }
    if (!filename) filename = ct.params['name'];
    ent.filename = filename ? decodeWords(filename) : null;

    const isMultipart = ent.contentType.startsWith('multipart/');
    const identity = ent.cte === '' || ent.cte === '7bit' || ent.cte === '8bit' || ent.cte === 'binary';
    if (isMultipart) {
      if (canDescend && ent.depth >= this.limits.maxMimeDepth) {
        this.onAnomaly('mime_too_deep');
      } else if (canDescend) {
        ent.kind = KIND_MULTIPART;
        if (parent && parent.kind === KIND_MESSAGE) {
          // IMAP numbers the parts of an encapsulated multipart P.1, P.2 ...
          ent.childPrefix = parent.path;
          ent.path = joinPath(parent.path, 'TEXT');
        } else {
          ent.childPrefix = ent.path;
        }
        const b = ct.params['boundary'];
        if (!b || b.length > MAX_BOUNDARY) {
          this.onAnomaly('mime_boundary_missing');
        } else {
          ent.boundary = Buffer.from(b, 'utf8');
          this.activeBoundaries++;
        }
        return;
      }
    } else if (ent.contentType === 'message/rfc822') {
      if (!identity) {
        this.onAnomaly('mime_encoded_message');
      } else if (canDescend && ent.depth >= this.limits.maxMimeDepth) {
        this.onAnomaly('mime_too_deep');
      } else if (canDescend) {
        ent.kind = KIND_MESSAGE;
        ent.out = this.newOutput(true);
        ent.decoder = new IdentityDecoder(ent.out);
        this.openMessages.push(ent);
        this.openChild(ent, ent.bodyStart);
        return;
      }
    }
    // A leaf (or an entity kept opaque).
    if (ent.parent && ent.parent.kind === KIND_MESSAGE) {
      // The single-part body of an encapsulated message (IMAP: P.1).
      ent.path = joinPath(ent.parent.path, '1');
    }
    ent.attachment = this.isAttachmentLeaf(ent, isMultipart);
    ent.out = this.newOutput(ent.attachment);
    ent.decoder = this.newDecoder(ent);
  }

  /**
   * postal-mime's notion: a leaf is an attachment unless it is inline text (text/plain or
   * text/html without `Content-Disposition: attachment`); multipart types are never attachments.
   */
  private isAttachmentLeaf(ent: Entity, isMultipart: boolean): boolean {
    if (isMultipart) return false;
    if (ent.disposition === 'attachment') return true;
    return ent.contentType !== 'text/plain' && ent.contentType !== 'text/html';
  }

  private newOutput(toFile: boolean): DecodedOutput {
    const out = new DecodedOutput();
    if (toFile && this.attachmentsDir !== null) {
      if (this.writer) {
        out.mem = new OwnedChunks();
        out.budget = this.budget;
        out.dir = this.attachmentsDir;
      } else {
        out.file = new TempFile(this.attachmentsDir);
      }
    }
    return out;
  }

  private newDecoder(ent: Entity): BodyDecoder {
    const out = ent.out!;
    switch (ent.cte) {
      case 'base64':
        return new Base64Decoder(out);
      case 'quoted-printable':
        return new QuotedPrintableDecoder(out);
      case 'binary':
      case '':
      case '7bit':
      case '8bit':
        return new IdentityDecoder(out);
      default:
        this.onAnomaly('mime_unknown_encoding');
        return new IdentityDecoder(out);
    }
  }

  /** Closes ent at endAbs (the delimiter line start, or the end of the message). */
  private close(ent: Entity, endAbs: number, atDelimiter: boolean): void {
    if (ent.inHeader) {
      if (ent.hdrLen > 0) this.onAnomaly('mime_header_incomplete');
      this.endHeaders(ent, endAbs, false);
    }
    let bodyEnd = endAbs;
    if (atDelimiter) {
      // RFC 2046 5.1.1: the line break before "--boundary" belongs to the delimiter.
      if (this.last1 === LF) {
        bodyEnd--;
        if (this.last2 === CR) bodyEnd--;
      }
    }
    ent.bodyEnd = Math.max(ent.bodyStart, bodyEnd);
    if (ent.decoder) {
      ent.decoder.finish(atDelimiter);
      if (ent.decoder.invalid > 0) this.onAnomaly('mime_bad_base64');
    }
    if (ent.out) ent.out.finish();
    if (ent.kind === KIND_MULTIPART && ent.boundary && !ent.terminated) {
      this.onAnomaly('mime_boundary_missing');
      this.activeBoundaries--;
    }
    if (ent.kind === KIND_MESSAGE) {
      const i = this.openMessages.indexOf(ent);
      if (i >= 0) this.openMessages.splice(i, 1);
    }
  }

  // ---------------------------------------------------------------- results

  private collect(): MimeSplitResult {
    // postal-mime: a delivery-status / feedback report keeps the message/rfc822 parts of the
    // same (encapsulation) scope as attachments rather than inline messages.
    const reportScopes = new Set<Entity | null>();
    for (const e of this.entities) {
      if (e.kind !== KIND_MULTIPART && (e.contentType === 'message/delivery-status' || e.contentType === 'message/feedback-report')) {
        reportScopes.add(e.scope);
      }
    }
    const inline = (m: Entity): boolean =>
      (m.disposition ?? 'inline') === 'inline' && !reportScopes.has(m.scope) && m.rfc822Depth < MAX_RFC822_INLINE_DEPTH;
    const included = (e: Entity): boolean => {
      for (let s = e.scope; s !== null; s = s.scope) if (!inline(s)) return false;
      return true;
    };

    const parts: MimePartRecord[] = [];
    const attachments: AttachmentRecord[] = [];
    const dir = this.attachmentsDir;
    for (const e of this.entities) {
      const rec: MimePartRecord = {
        path: e.path,
        content_type: e.contentType,
        charset: e.charset,
        transfer_encoding: e.cte || '7bit',
        disposition: e.disposition,
        filename: e.filename,
        header_start: e.headerStart,
        body_start: e.bodyStart,
        body_end: e.bodyEnd,
      };
      const out = e.out;
      if (out) {
        rec.decoded_size = out.size;
        rec.sha256 = out.sha256;
      }
      parts.push(rec);
      if (!out) continue;
      const isAtt = included(e) && (e.kind === KIND_MESSAGE ? !inline(e) : e.kind === KIND_LEAF && e.attachment);
      if (isAtt) {
        if (out.mem && dir !== null) {
          // Content-addressed: the writer skips a file that exists or was already handed over.
          this.writer!.write(join(dir, out.sha256), out.takeMemory(), { keepExisting: true });
        } else if (out.file && dir !== null) out.file.keepAs(dir, out.sha256);
        attachments.push({
          part: rec.path,
          filename: e.filename,
          media_type: e.contentType,
          size: out.size,
          sha256: out.sha256,
          path: dir !== null ? `attachments/${out.sha256}` : null,
          partial: e.partial,
        });
      } else {
        out.discard();
      }
    }
    return { headers: this.root.fields, parts, attachments };
  }
}
