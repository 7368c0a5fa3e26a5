import type { At } from '../core/types.js';
import type { AnomalyCodeInfo } from '../core/anomaly.js';

const CR = 0x0d;
const LF = 0x0a;

/** Anomaly codes raised by {@link LineFramer}; protocols may rename `bare_lf` with their prefix. */
export type LineFramerAnomaly = 'line_too_long' | 'bare_lf';

/** Catalog entries for the framer's shared codes (the protocol-specific bare-LF code is listed by each protocol). */
export const LINE_FRAMER_ANOMALIES: readonly AnomalyCodeInfo[] = [
  { code: 'line_too_long', severity: 'warning', description: 'A command/reply line exceeded maxLineBytes; only its first maxLineBytes bytes were kept.' },
];

/**
 * Receiver of framed input. One object per framer, created once per session (not per packet).
 * Every `Uint8Array` is borrowed: valid only during the call.
 */
export interface LineFramerHandler {
  /**
   * One complete line, without its EOL (`\r\n`, bare `\n` or `\r\r\n`). `first` is where the line's
   * first byte arrived, `last` where its LF arrived. Lines longer than maxLineBytes are cut to it.
   */
  onLine(line: Uint8Array, first: At, last: At): void;
  /** Raw bytes of a plain-mode run started by {@link LineFramer.expectBytes}; may come in pieces. */
  onBytes(bytes: Uint8Array, at: At): void;
  /** The plain-mode run is complete (all n bytes delivered or lost in a gap); lines resume. */
  onBytesEnd(at: At): void;
  /** A framing irregularity. `bare_lf` is reported once per framer. */
  onAnomaly(code: LineFramerAnomaly, detail: string, at: At): void;
}

/**
 * CRLF line framer (Zeek's ContentLine_Analyzer): turns an ordered byte stream of one side into
 * lines, with a plain-bytes mode for counted payloads (SMTP BDAT, IMAP literals).
 *
 * - Only a partial line is copied across chunk boundaries; complete lines are views into the chunk.
 * - Memory is bounded by maxLineBytes (+2 for CRs): longer lines are cut (`line_too_long`).
 * - A callback may call {@link pause}: push() then returns the number of bytes consumed so far, and
 *   the caller routes the rest elsewhere (e.g. a DATA body to the dot-unstuffer).
 * - Never throws on any input.
 */
export class LineFramer {
  readonly #h: LineFramerHandler;
  readonly #max: number;
  /** Partial line (owned), grown up to #max + 2 bytes. */
  #buf: Uint8Array;
  #bufLen = 0;
  /** The partial line had more bytes than fit: the line will be cut. */
  #overflow = false;
  #firstAt: At | null = null;
  /** Remaining bytes of the plain-mode run, or -1 in line mode. */
  #plain = -1;
  #paused = false;
  #bareLfReported = false;

  constructor(handler: LineFramerHandler, maxLineBytes: number) {
    this.#h = handler;
    this.#max = Math.max(0, Math.floor(maxLineBytes));
    this.#buf = new Uint8Array(Math.min(256, this.#max + 2));
  }

  /** True while a partial line is buffered. */
  get hasPartialLine(): boolean {
    return this.#bufLen > 0 || this.#overflow;
  }

  /** True while in plain mode. */
  get inPlainMode(): boolean {
    return this.#plain >= 0;
  }

  /**
   * Switches to plain mode: the next `n` bytes go to onBytes, then onBytesEnd, then lines again.
   * Call from onLine (at a line boundary). `n` may be 0 (onBytesEnd fires at once in push()).
   */
  expectBytes(n: number): void {
    this.#plain = Number.isFinite(n) && n > 0 ? Math.floor(n) : 0;
  }

  /** Makes the running push() return after the current callback. */
  pause(): void {
    this.#paused = true;
  }

  /** Drops any partial line and leaves plain mode (after a gap or a mode change). */
  reset(): void {
    this.#bufLen = 0;
    this.#overflow = false;
    this.#firstAt = null;
    this.#plain = -1;
  }

  /**
   * Tells the framer `length` bytes are missing. Inside a plain run the missing bytes count
   * against it (onBytesEnd fires if it is used up). Returns how many of the missing bytes fell
   * inside the plain run; the rest dropped the partial line.
   */
  gap(length: number, at: At): number {
    let inPlain = 0;
    if (this.#plain >= 0) {
      inPlain = Math.min(this.#plain, length);
      this.#plain -= inPlain;
      if (this.#plain === 0) {
        this.#plain = -1;
        this.#h.onBytesEnd(at);
      }
    }
    if (length > inPlain) {
      this.#bufLen = 0;
      this.#overflow = false;
      this.#firstAt = null;
    }
    return inPlain;
  }

  /**
   * Feeds bytes (borrowed). Returns how many were consumed: all of them unless a callback
   * called pause().
   */
  push(bytes: Uint8Array, at: At): number {
    this.#paused = false;
    const len = bytes.length;
    let i = 0;
    for (;;) {
      if (this.#plain >= 0) {
        if (this.#plain === 0) {
          this.#plain = -1;
          this.#h.onBytesEnd(at);
          if (this.#paused) return i;
          continue;
        }
        if (i >= len) return i;
        const take = Math.min(this.#plain, len - i);
        this.#plain -= take;
        this.#h.onBytes(bytes.subarray(i, i + take), at);
        i += take;
        if (this.#paused && this.#plain !== 0) return i;
        continue;
      }
      if (i >= len) return i;
      const lf = bytes.indexOf(LF, i);
      if (lf < 0) {
        this.#append(bytes, i, len, at);
        return len;
      }
      if (this.#bufLen > 0 || this.#overflow) {
        this.#append(bytes, i, lf, at);
        const first = this.#firstAt ?? at;
        const lineLen = this.#bufLen;
        const overflow = this.#overflow;
        this.#bufLen = 0;
        this.#overflow = false;
        this.#firstAt = null;
        i = lf + 1;
        this.#deliver(this.#buf, 0, lineLen, overflow, first, at);
      } else {
        const start = i;
        i = lf + 1;
        this.#deliver(bytes, start, lf, false, at, at);
      }
      if (this.#paused) return i;
    }
  }

  #append(bytes: Uint8Array, from: number, to: number, at: At): void {
    if (to <= from) return;
    if (this.#bufLen === 0 && !this.#overflow) this.#firstAt = at;
    const cap = this.#max + 2;
    const room = cap - this.#bufLen;
    let n = to - from;
    if (n > room) {
      n = room;
      this.#overflow = true;
    }
    if (n <= 0) return;
    const need = this.#bufLen + n;
    if (need > this.#buf.length) {
      let size = this.#buf.length * 2 || 256;
      while (size < need) size *= 2;
      const grown = new Uint8Array(Math.min(size, cap));
      grown.set(this.#buf.subarray(0, this.#bufLen));
      this.#buf = grown;
    }
    this.#buf.set(bytes.subarray(from, from + n), this.#bufLen);
    this.#bufLen += n;
  }

  /** `src[start, end)` is the line content before the LF. */
  #deliver(src: Uint8Array, start: number, end: number, overflow: boolean, first: At, last: At): void {
    let e = end;
    if (!overflow) {
      // Zeek: "Some weird client uses '\r\r\n' for end-of-line" -- accept (\r){0,2}\n.
      if (e > start && src[e - 1] === CR) {
        e--;
        if (e > start && src[e - 1] === CR) e--;
      } else if (!this.#bareLfReported) {
        this.#bareLfReported = true;
        this.#h.onAnomaly('bare_lf', 'line ended by LF without CR', last);
      }
    }
    if (overflow || e - start > this.#max) {
      this.#h.onAnomaly('line_too_long', `line longer than ${this.#max} bytes cut`, last);
      e = start + this.#max;
    }
    this.#h.onLine(src.subarray(start, e), first, last);
  }
}
