import type { CaptureFrame } from '../core/types.js';
import type { AnomalyReporter } from '../core/anomaly.js';
import type { CaptureInfo } from './capture-source.js';

/** Receives frames from a RecordParser. The frame's `data` is borrowed (see RecordParser.feed). */
export type FrameSink = (frame: CaptureFrame) => void;

/**
 * Synchronous, push-style record walker over the (decompressed) bytes of a capture file.
 * This is the fast path: one call per chunk, frames delivered by a plain callback.
 *
 * Frame ownership: `frame.data` is a view into `chunk` (or, for the rare record that straddles
 * two chunks, into an internal carry buffer). It stays valid until the next `feed()` call
 * provided the caller does not overwrite `chunk` before then.
 */
export interface RecordParser {
  /** Parses every complete record in `chunk` (after the tail kept from the previous chunk). */
  feed(chunk: Uint8Array, onFrame: FrameSink): void;
  /** The input ended: reports a partial trailing record (`capture_truncated_record`). */
  end(): void;
  /** True once reading stopped at corruption; further `feed()` calls are ignored. */
  readonly stopped: boolean;
}

/** Options shared by the parsers. */
export interface RecordParserOptions {
  report: AnomalyReporter;
  maxRecordBytes: number;
  maxDecryptionSecretsBytes: number;
  maxCaptureInterfaces: number;
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

const EMPTY = new Uint8Array(0);

/**
 * Chunk walker shared by the pcap and pcapng parsers: splits the byte stream into records
 * (`measure` gives a record's total length from its first `headerBytes` bytes, `handle`
 * processes a complete record) and keeps the tail of a chunk in a carry buffer until the
 * record is complete. Only records straddling two chunks are copied.
 */
export abstract class ChunkedRecordParser implements RecordParser {
  stopped = false;
  /** Absolute (decompressed) offset of the record being measured/handled, for anomalies. */
  protected recordOffset = 0;
  /** Absolute offset of the start of the next chunk. */
  protected base = 0;

  // Two carry buffers used alternately: a frame emitted from one stays valid while a new
  // tail is saved into the other during the same feed().
  private carry: Uint8Array = EMPTY;
  private carryView: DataView = new DataView(EMPTY.buffer);
  private spare: Uint8Array = EMPTY;
  private carryLen = 0;
  /** Total length of the record in carry, once known (0: header incomplete). */
  private carryNeed = 0;
  private carryStart = 0;

  protected constructor(
    protected readonly info: CaptureInfo,
    protected readonly opts: RecordParserOptions,
    /** Bytes needed to measure a record. */
    protected readonly headerBytes: number,
  ) {}

  /** Total length of the record at `off` (>= headerBytes), or -1 after reporting corruption. */
  protected abstract measure(buf: Uint8Array, dv: DataView, off: number): number;

  /** Processes one complete record of `total` bytes at `off`. May call `stop()`. */
  protected abstract handle(buf: Uint8Array, dv: DataView, off: number, total: number, onFrame: FrameSink): void;

  /** Describes what is missing when the input ends inside a record (for the anomaly detail). */
  protected abstract truncatedCode(): string;

  feed(chunk: Uint8Array, onFrame: FrameSink): void {
    const len = chunk.length;
    if (this.stopped || len === 0) {
      this.base += len;
      return;
    }
    const dv = new DataView(chunk.buffer, chunk.byteOffset, len);
    let off = 0;
    if (this.carryLen > 0) {
      off = this.feedCarry(chunk, onFrame);
      if (off < 0 || this.stopped) {
        this.base += len;
        if (!this.stopped) this.info.bytesRead = this.base;
        return;
      }
    }
    const H = this.headerBytes;
    const base = this.base;
    while (len - off >= H) {
      this.recordOffset = base + off;
      const total = this.measure(chunk, dv, off);
      if (total < 0) break; // measure() stopped the parser
      if (total > len - off) break;
      this.handle(chunk, dv, off, total, onFrame);
      off += total;
      if (this.stopped) break;
    }
    if (!this.stopped && off < len) this.saveTail(chunk, off, len);
    this.base = base + len;
    if (!this.stopped) this.info.bytesRead = this.base;
  }

  end(): void {
    if (this.stopped) return;
    if (this.carryLen > 0) {
      if (this.carryNeed === 0 && this.carryLen >= this.headerBytes) {
        this.recordOffset = this.carryStart;
        const total = this.measure(this.carry, this.carryView, 0);
        if (total < 0) return; // the partial record's header is itself corrupt (reported)
        this.carryNeed = total;
      }
      const need = this.carryNeed > 0 ? `${this.carryNeed} bytes` : `at least ${this.headerBytes} bytes`;
      this.opts.report({
        code: this.truncatedCode(),
        detail: `input ends ${this.carryLen} bytes into a record at offset ${this.carryStart} that needs ${need}`,
      });
      this.carryLen = 0;
      this.carryNeed = 0;
    }
    this.stopped = true;
  }

  /** Stops reading at the current record because of corruption. */
  protected stop(code: string, detail: string): void {
    this.opts.report({ code, detail: `${detail} (offset ${this.recordOffset}, after frame ${this.info.frames})` });
    this.info.stoppedAtOffset = this.recordOffset;
    this.info.bytesRead = this.recordOffset;
    this.stopped = true;
    this.carryLen = 0;
  }

  /** Completes the record held in carry with the start of `chunk`; returns bytes used or -1. */
  private feedCarry(chunk: Uint8Array, onFrame: FrameSink): number {
    let used = 0;
    const H = this.headerBytes;
    if (this.carryLen < H) {
      const n = Math.min(H - this.carryLen, chunk.length);
      this.carry.set(chunk.subarray(0, n), this.carryLen);
      this.carryLen += n;
      used = n;
      if (this.carryLen < H) return -1;
    }
    this.recordOffset = this.carryStart;
    if (this.carryNeed === 0) {
      const total = this.measure(this.carry, this.carryView, 0);
      if (total < 0) return -1;
      this.carryNeed = total;
      this.ensureCarry(total, this.carryLen);
    }
    const n = Math.min(this.carryNeed - this.carryLen, chunk.length - used);
    if (n > 0) this.carry.set(chunk.subarray(used, used + n), this.carryLen);
    this.carryLen += n;
    used += n;
    if (this.carryLen < this.carryNeed) return -1;
    const total = this.carryNeed;
    this.carryLen = 0;
    this.carryNeed = 0;
    this.handle(this.carry, this.carryView, 0, total, onFrame);
    // The frame may point into carry: the next tail goes to the other buffer.
    const t = this.carry;
    this.carry = this.spare;
    this.spare = t;
    this.carryView = new DataView(this.carry.buffer, this.carry.byteOffset, this.carry.byteLength);
    return used;
  }

  private saveTail(chunk: Uint8Array, off: number, len: number): void {
    const n = len - off;
    this.ensureCarry(Math.max(n, this.headerBytes), 0);
    this.carry.set(chunk.subarray(off, len), 0);
    this.carryLen = n;
    this.carryNeed = 0;
    this.carryStart = this.base + off;
  }

  /** Makes carry hold at least `size` bytes, keeping its first `keep` bytes. */
  private ensureCarry(size: number, keep: number): void {
    if (this.carry.length >= size) return;
    const next = new Uint8Array(Math.max(size, this.carry.length * 2, 65536));
    if (keep > 0) next.set(this.carry.subarray(0, keep));
    this.carry = next;
    this.carryView = new DataView(next.buffer);
  }
}

/** Hex of the first bytes, for messages: "3c 68 74 6d". */
export function hexBytes(b: Uint8Array, n = 4): string {
  const out: string[] = [];
  for (let i = 0; i < Math.min(n, b.length); i++) out.push(b[i]!.toString(16).padStart(2, '0'));
  return out.join(' ');
}
