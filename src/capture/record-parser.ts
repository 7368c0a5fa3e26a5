import type { CaptureFrame, Timestamp } from '../core/types.js';
import type { AnomalyReporter } from '../core/anomaly.js';
import type { CaptureInfo } from './capture-source.js';

/** Receives frames from a RecordParser. The frame's `data` is borrowed (see RecordParser.feed). */
export type FrameSink = (frame: CaptureFrame) => void;

/**
 * A look at a record's bytes (`buf[off, off + caplen)`, borrowed) before a frame object is built:
 * true when it consumed the frame, which is then numbered and its record checked as usual, but
 * not handed to the FrameSink. Lets the pipeline drop most non-mail traffic at the cheapest point.
 */
export type FramePrefilter = (buf: Uint8Array, off: number, caplen: number, linkType: number, index: number, ts: Timestamp) => boolean;

/**
 * Synchronous, push-style record walker over the (decompressed) bytes of a capture file.
 * This is the fast path: one call per chunk, frames delivered by a plain callback.
 *
 * Frame ownership: `frame.data` is a view into `chunk` (or, for the rare record that straddles
 * two chunks or follows a resynchronisation, into an internal buffer). It stays valid until the
 * next `feed()` call provided the caller does not overwrite `chunk` before then.
 *
 * Corruption: a record header that cannot be right (length over maxRecordBytes, impossible pcapng
 * length, mismatched trailing length) starts a bounded search (limits.maxResyncBytes) for the next
 * offset where two plausible records follow each other (or one ends exactly at the end of the
 * input). Found: the corruption anomaly and `capture_resync` (bytes skipped) are reported and reading
 * goes on there. Frame numbers then continue from the last good frame, so they match what Wireshark
 * would show for the file with the skipped bytes removed (Wireshark itself stops reading at such a
 * record). Not found: reading stops at the corrupt record (`info.stoppedAtOffset`).
 */
export interface RecordParser {
  /** Parses every complete record in `chunk` (after the tail kept from the previous chunk). */
  feed(chunk: Uint8Array, onFrame: FrameSink): void;
  /**
   * The input ended: reports a partial trailing record (`capture_truncated_record`) and finishes a
   * pending resynchronisation, which may still deliver frames to `onFrame`.
   */
  end(onFrame?: FrameSink): void;
  /** True once reading stopped at corruption; further `feed()` calls are ignored. */
  readonly stopped: boolean;
  /** See {@link FramePrefilter}; null (the default): every frame goes to the FrameSink. */
  prefilter: FramePrefilter | null;
}

/** Options shared by the parsers. */
export interface RecordParserOptions {
  report: AnomalyReporter;
  maxRecordBytes: number;
  maxDecryptionSecretsBytes: number;
  maxCaptureInterfaces: number;
  /** Bytes searched for a plausible record after a corrupt one (limits.maxResyncBytes). */
  maxResyncBytes: number;
}

/** Creates the empty CaptureInfo filled by a parser. */
export function newCaptureInfo(format: 'pcap' | 'pcapng', gzip: boolean): CaptureInfo {
  return {
    format,
    byteOrder: 'le',
    gzip,
    linkTypes: [],
    interfaces: [],
    sections: 0,
    frames: 0,
    bytesRead: 0,
    fileBytes: 0,
    decryptionSecrets: [],
  };
}

/**
 * Carry buffers are Buffers, like the chunks every capture source yields: records parsed from
 * either then share one object shape, so the optimised record code is not deoptimised (and
 * recompiled) the first time a record straddles two chunks.
 */
const EMPTY: Uint8Array = Buffer.alloc(0);
const NOOP: FrameSink = () => undefined;
/** Smallest carry/scan buffer allocated; larger ones grow geometrically with the bytes that arrive. */
const MIN_BUFFER = 65536;

/** Scan results other than a found offset (>= 0). */
const SCAN_NEED_MORE = -1;
const SCAN_FAILED = -2;

/** Bytes of input at an absolute (decompressed) offset. */
interface Segment {
  readonly buf: Uint8Array;
  readonly abs: number;
}

/** A search for the next plausible record after a corrupt one. */
interface Resync {
  /** Offset of the corrupt record (where reading stops if the search fails). */
  readonly from: number;
  /** info.frames when the corruption was met. */
  readonly afterFrame: number;
  /** The corruption anomaly, reported once the outcome is known. */
  readonly code: string;
  readonly detail: string;
  /** Set for a record cut by the end of the input: reported instead of `code` when nothing is found. */
  readonly truncated: { code: string; detail: string } | null;
  /** Absolute offset past the last byte the search may examine. */
  readonly windowEnd: number;
  buf: Uint8Array;
  dv: DataView;
  /** Absolute offset of buf[0]; bytes held: buf[0, len). */
  start: number;
  len: number;
  /** Absolute offset of the next candidate. */
  pos: number;
  /** Input continues past windowEnd. */
  full: boolean;
}

/**
 * Chunk walker shared by the pcap and pcapng parsers: splits the byte stream into records
 * (`measure` gives a record's total length from its first `headerBytes` bytes, `handle`
 * processes a complete record) and keeps the tail of a chunk in a carry buffer until the
 * record is complete. Only records straddling two chunks are copied; the carry grows with the
 * bytes that actually arrive, never to a claimed length up front. After corruption it
 * resynchronises (see RecordParser) using `plausible`.
 */
export abstract class ChunkedRecordParser implements RecordParser {
  stopped = false;
  prefilter: FramePrefilter | null = null;
  /** Absolute (decompressed) offset of the record being measured/handled, for anomalies. */
  protected recordOffset = 0;
  /** Absolute offset of the start of the next chunk. */
  protected base = 0;
  /**
   * The memory behind the `buf` handed to handle(), and where `buf` starts in it: frames are
   * views made from these. Reading `buf.buffer` for each frame runs V8's C++ getter (a call out of
   * optimised code, ~5 % of the pipeline thread's samples with the payload views below).
   */
  protected bufMemory: ArrayBuffer = EMPTY.buffer as ArrayBuffer;
  protected bufStart = 0;

  // Two carry buffers used alternately: a frame emitted from one stays valid while a new tail is
  // saved into the other during the same feed(). `pinned` lists the buffers that frames of the
  // current feed() point into; they are never written again before the next feed().
  private carry: Uint8Array = EMPTY;
  private spare: Uint8Array = EMPTY;
  private readonly pinned: Uint8Array[] = [];
  private carryLen = 0;
  /** Total length of the record in carry, once known (0: header incomplete). */
  private carryNeed = 0;
  private carryStart = 0;
  /** Set by corrupt() during measure()/handle(). */
  private pending: { code: string; detail: string } | null = null;
  private rs: Resync | null = null;

  protected constructor(
    protected readonly info: CaptureInfo,
    protected readonly opts: RecordParserOptions,
    /** Bytes needed to measure a record. */
    protected readonly headerBytes: number,
  ) {}

  /** Total length of the record at `off` (>= headerBytes), or -1 after calling corrupt(). */
  protected abstract measure(buf: Uint8Array, dv: DataView, off: number): number;

  /** Processes one complete record of `total` bytes at `off`. May call corrupt(). */
  protected abstract handle(buf: Uint8Array, dv: DataView, off: number, total: number, onFrame: FrameSink): void;

  /** Describes what is missing when the input ends inside a record (for the anomaly detail). */
  protected abstract truncatedCode(): string;

  /**
   * Resync test of the `avail` bytes at `off`: the total length of a plausible record starting
   * there, -1 if none starts there, 0 if `avail` bytes are too few to tell. `prev` is -1 for a
   * candidate, or the offset (in `buf`) of the candidate this record would follow, in which case
   * a header-level check suffices.
   */
  protected abstract plausible(buf: Uint8Array, dv: DataView, off: number, avail: number, prev: number): number;

  /**
   * Whether a single plausible record that ends exactly at the end of the input is enough to
   * resynchronise (the test is strong enough alone); otherwise a second record must follow.
   */
  protected abstract lastRecordAlone(): boolean;

  feed(chunk: Uint8Array, onFrame: FrameSink): void {
    const len = chunk.length;
    if (this.stopped || len === 0) {
      this.base += len;
      return;
    }
    this.pinned.length = 0; // frames of the previous feed() are no longer in use
    this.run([{ buf: chunk, abs: this.base }], false, onFrame);
    this.base += len;
    if (!this.stopped) this.info.bytesRead = this.base;
  }

  end(onFrame: FrameSink = NOOP): void {
    const H = this.headerBytes;
    while (!this.stopped) {
      if (this.rs !== null) {
        this.run([], true, onFrame);
        continue;
      }
      if (this.carryLen === 0) break;
      // The input ends inside a record.
      this.recordOffset = this.carryStart;
      if (this.carryNeed === 0 && this.carryLen >= H) {
        const total = this.measure(this.carry, this.view(this.carry), 0);
        if (total < 0) {
          this.run(this.resyncFromCarry(this.carryLen, null), true, onFrame);
          continue;
        }
        this.carryNeed = total;
      }
      const need = this.carryNeed > 0 ? `${this.carryNeed} bytes` : `at least ${H} bytes`;
      const truncated = {
        code: this.truncatedCode(),
        detail: `input ends ${this.carryLen} bytes into a record at offset ${this.carryStart} that needs ${need}`,
      };
      if (this.carryNeed === 0) {
        this.opts.report(truncated);
        this.carryLen = 0;
        break;
      }
      // The length itself may be what is wrong: look for whole records inside the cut one before
      // calling it a truncated file.
      this.pending = {
        code: 'capture_corrupt_record',
        detail: `record at offset ${this.carryStart} claims ${this.carryNeed} bytes but the input ends ${this.carryLen} bytes into it (after frame ${this.info.frames})`,
      };
      this.run(this.resyncFromCarry(this.carryLen, truncated), true, onFrame);
    }
    this.stopped = true;
  }

  /**
   * Records corruption of the record at recordOffset (called from measure()/handle()): the anomaly
   * is reported once the resync outcome is known.
   */
  protected corrupt(code: string, detail: string): void {
    this.pending = { code, detail: `${detail} (offset ${this.recordOffset}, after frame ${this.info.frames})` };
  }

  /** Parses `queue` in order, switching between record parsing and resync scanning. */
  private run(queue: Segment[], eof: boolean, onFrame: FrameSink): void {
    while (!this.stopped) {
      const rs = this.rs;
      if (rs === null) {
        const seg = queue.shift();
        if (seg === undefined) return;
        this.parse(seg, queue, onFrame);
        continue;
      }
      while (queue.length > 0 && !rs.full) {
        const seg = queue[0]!;
        const n = this.scanAppend(rs, seg);
        if (n === seg.buf.length) queue.shift();
        else queue[0] = { buf: seg.buf.subarray(n), abs: seg.abs + n };
      }
      // Without `full`, the queue is empty: everything known is in rs.buf.
      const found = this.scan(rs, rs.full || eof, eof && !rs.full);
      if (found === SCAN_NEED_MORE) return;
      if (found === SCAN_FAILED) {
        this.resyncFailed(rs);
        return;
      }
      queue.unshift(this.resyncFound(rs, found));
    }
  }

  /** Record parsing of one segment; on corruption, queues the bytes after the corrupt record's first byte and starts a resync. */
  private parse(seg: Segment, queue: Segment[], onFrame: FrameSink): void {
    const chunk = seg.buf;
    const len = chunk.length;
    const base = seg.abs;
    let off = 0;
    if (this.carryLen > 0) {
      off = this.feedCarry(chunk, onFrame);
      if (this.pending !== null) {
        queue.unshift(...this.resyncFromCarry(this.carryLen, null), { buf: chunk.subarray(off), abs: base + off });
        return;
      }
      if (this.carryLen > 0) return; // still incomplete: the whole chunk went into carry
    }
    const H = this.headerBytes;
    const mem = chunk.buffer as ArrayBuffer;
    this.bufMemory = mem;
    this.bufStart = chunk.byteOffset;
    const dv = new DataView(mem, chunk.byteOffset, len);
    while (len - off >= H) {
      this.recordOffset = base + off;
      const total = this.measure(chunk, dv, off);
      if (total >= 0) {
        if (total > len - off) break;
        this.handle(chunk, dv, off, total, onFrame);
      }
      if (this.pending !== null) {
        queue.unshift({ buf: chunk.subarray(off + 1), abs: base + off + 1 });
        this.beginResync(base + off, null);
        return;
      }
      off += total;
    }
    if (off < len) this.saveTail(chunk, off, len, base);
  }

  /** Starts a resync for the corrupt record held in carry; returns its bytes after the first. */
  private resyncFromCarry(n: number, truncated: Resync['truncated']): Segment[] {
    const seg: Segment = { buf: this.carry.subarray(1, n), abs: this.carryStart + 1 };
    this.beginResync(this.carryStart, truncated);
    // The segment keeps the old carry buffer alive; it is not written again.
    this.carry = EMPTY;
    this.carryLen = 0;
    this.carryNeed = 0;
    return [seg];
  }

  private beginResync(from: number, truncated: Resync['truncated']): void {
    const p = this.pending!;
    this.pending = null;
    this.rs = {
      from,
      afterFrame: this.info.frames,
      code: p.code,
      detail: p.detail,
      truncated,
      windowEnd: from + 1 + this.opts.maxResyncBytes,
      buf: EMPTY,
      dv: new DataView(EMPTY.buffer),
      start: from + 1,
      len: 0,
      pos: from + 1,
      full: false,
    };
  }

  /** Copies the part of `seg` inside the search window into the scan buffer; returns bytes taken. */
  private scanAppend(rs: Resync, seg: Segment): number {
    const room = Math.max(0, rs.windowEnd - (rs.start + rs.len));
    const n = Math.min(seg.buf.length, room);
    if (n < seg.buf.length) rs.full = true;
    if (n === 0) return 0;
    if (rs.len + n > rs.buf.length) {
      // Drop what lies before the current candidate, then grow geometrically if still short.
      const drop = rs.pos - rs.start;
      if (drop > 0) {
        rs.buf.copyWithin(0, drop, rs.len);
        rs.len -= drop;
        rs.start = rs.pos;
      }
      if (rs.len + n > rs.buf.length) {
        const next = new Uint8Array(Math.max(rs.len + n, Math.min(rs.buf.length * 2, rs.windowEnd - rs.start), MIN_BUFFER));
        next.set(rs.buf.subarray(0, rs.len));
        rs.buf = next;
        rs.dv = new DataView(next.buffer);
      }
    }
    rs.buf.set(seg.buf.subarray(0, n), rs.len);
    rs.len += n;
    return n;
  }

  /**
   * Looks for the first candidate from rs.pos on that is plausible and followed by a plausible
   * record (or ends exactly at the end of the input). Candidates that need bytes not held yet are
   * waited for (so the outcome does not depend on chunking) unless `final`.
   */
  private scan(rs: Resync, final: boolean, atEof: boolean): number {
    const { buf, dv, len } = rs;
    for (let rel = rs.pos - rs.start; rel < len; rel++) {
      const total = this.plausible(buf, dv, rel, len - rel, -1);
      if (total < 0) continue;
      let ok = false;
      if (total > 0 && rel + total <= len) {
        const next = rel + total;
        if (next === len && atEof && this.lastRecordAlone()) ok = true;
        else {
          const t2 = this.plausible(buf, dv, next, len - next, rel);
          if (t2 > 0) ok = true;
          else if (t2 < 0) continue;
        }
      }
      if (ok) return rs.start + rel;
      // Undecided with the bytes held.
      if (!final) {
        rs.pos = rs.start + rel;
        return SCAN_NEED_MORE;
      }
    }
    rs.pos = rs.start + len;
    return final ? SCAN_FAILED : SCAN_NEED_MORE;
  }

  private resyncFound(rs: Resync, at: number): Segment {
    this.rs = null;
    this.opts.report({ code: rs.code, detail: `${rs.detail}; resynchronised at offset ${at}` });
    this.opts.report({
      code: 'capture_resync',
      detail:
        `skipped ${at - rs.from} bytes (offsets ${rs.from}-${at - 1}) after frame ${rs.afterFrame}; reading goes on at offset ${at}. ` +
        `Frame numbers continue from ${rs.afterFrame}: they match Wireshark for the file with these bytes removed (Wireshark stops reading at such corruption)`,
    });
    return { buf: rs.buf.subarray(at - rs.start, rs.len), abs: at };
  }

  private resyncFailed(rs: Resync): void {
    this.rs = null;
    this.stopped = true;
    if (rs.truncated !== null) {
      this.opts.report(rs.truncated);
      return;
    }
    this.opts.report({
      code: rs.code,
      detail: `${rs.detail}; no plausible record within the next ${this.opts.maxResyncBytes} bytes: reading stopped`,
    });
    this.info.stoppedAtOffset = rs.from;
    this.info.bytesRead = rs.from;
  }

  /** Completes the record held in carry with the start of `chunk`; returns the bytes of chunk used. The record stays in carry while incomplete or when corrupt. */
  private feedCarry(chunk: Uint8Array, onFrame: FrameSink): number {
    let used = 0;
    const H = this.headerBytes;
    if (this.carryLen < H) {
      used = Math.min(H - this.carryLen, chunk.length);
      this.appendCarry(chunk, 0, used);
      if (this.carryLen < H) return used;
    }
    this.recordOffset = this.carryStart;
    if (this.carryNeed === 0) {
      const total = this.measure(this.carry, this.view(this.carry), 0);
      if (total < 0) return used;
      this.carryNeed = total;
    }
    const n = Math.min(this.carryNeed - this.carryLen, chunk.length - used);
    if (n > 0) this.appendCarry(chunk, used, used + n);
    used += n;
    if (this.carryLen < this.carryNeed) return used;
    const buf = this.carry;
    this.bufMemory = buf.buffer as ArrayBuffer;
    this.bufStart = buf.byteOffset;
    this.handle(buf, this.view(buf), 0, this.carryNeed, onFrame);
    if (this.pending !== null) return used;
    this.carryLen = 0;
    this.carryNeed = 0;
    this.pinned.push(buf); // the frame may point into it
    return used;
  }

  /** Appends chunk[from, to) to the record under construction, growing carry with what arrives (capped at the claimed length). */
  private appendCarry(chunk: Uint8Array, from: number, to: number): void {
    const size = this.carryLen + (to - from);
    if (size > this.carry.length) {
      const cap = this.carryNeed > 0 ? this.carryNeed : Infinity;
      const next = Buffer.allocUnsafeSlow(Math.max(size, Math.min(this.carry.length * 2, cap)));
      next.set(this.carry.subarray(0, this.carryLen));
      this.carry = next;
    }
    this.carry.set(chunk.subarray(from, to), this.carryLen);
    this.carryLen = size;
  }

  private saveTail(chunk: Uint8Array, off: number, len: number, base: number): void {
    const n = len - off;
    if (this.pinned.includes(this.carry)) {
      const t = this.carry;
      this.carry = this.spare;
      this.spare = t;
    }
    if (this.carry.length < n || this.pinned.includes(this.carry)) {
      this.carry = Buffer.allocUnsafeSlow(Math.max(n, this.headerBytes, MIN_BUFFER));
    }
    this.carry.set(chunk.subarray(off, len), 0);
    this.carryLen = n;
    this.carryNeed = 0;
    this.carryStart = base + off;
  }

  private view(b: Uint8Array): DataView {
    return new DataView(b.buffer, b.byteOffset, b.byteLength);
  }
}

/** Hex of the first bytes, for messages: "3c 68 74 6d". */
export function hexBytes(b: Uint8Array, n = 4): string {
  const out: string[] = [];
  for (let i = 0; i < Math.min(n, b.length); i++) out.push(b[i]!.toString(16).padStart(2, '0'));
  return out.join(' ');
}
