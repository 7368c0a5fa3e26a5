import type { At } from '../../core/types.js';

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;
const LF_DOT = Buffer.from([LF, DOT]);
/** Buffer's native byte-string search, on any Uint8Array. */
const indexOf = Buffer.prototype.indexOf as (this: Uint8Array, value: Uint8Array, byteOffset: number) => number;
const CR_ONLY = new Uint8Array([CR]);

/** Scanner position relative to lines of the DATA body. */
const enum Pos {
  /** Inside a line. */
  Mid,
  /** Just after CRLF: a line starts here. */
  LineStart,
  /** A line started with "." (dropped, undecided). */
  Dot,
  /** A line started with ".\r" (undecided: end of data if LF follows). */
  DotCr,
  /** The terminator was seen. */
  Done,
}

/** Receiver of the unstuffed body. */
export interface DotUnstufferHandler {
  /** Message bytes (borrowed), in order, in runs as large as the input allows. */
  onBody(bytes: Uint8Array, at: At): void;
  /**
   * `smtp_data_bare_lf_dot`: a "." right after a bare LF, or a "." line ended by a bare LF:
   * the patterns of SMTP smuggling, where sender and receiver disagree on the end of data.
   * Reported once per body.
   */
  onAnomaly(code: 'smtp_data_bare_lf_dot', detail: string, at: At): void;
}

/**
 * The DATA body decoder, RFC 5321 §4.5.2 (transparency) and §4.1.1.4 (end of data = CRLF.CRLF).
 *
 * - Finds `CRLF.CRLF` across chunk boundaries with an indexOf scan for `\n.` (no per-line work,
 *   no allocation per line): bytes between stuffed dots go to onBody as one run per chunk.
 * - Removes the first "." of every line that starts with one (§4.5.2: "If the first character is a
 *   period and there are other characters on the line, the first character is deleted").
 * - The CRLF before the terminating "." belongs to the message; the ".\r\n" does not.
 * - Strict: a line starts only after CRLF. A "." after a bare LF is data (and an anomaly).
 *
 * Usage: begin() when the body starts (just after the DATA line's CRLF), push() wire bytes until
 * `done`; push() returns how many bytes it consumed (the rest belongs to the next command).
 */
export class DotUnstuffer {
  readonly #h: DotUnstufferHandler;
  #pos: Pos = Pos.LineStart;
  /** In Mid: the last byte consumed was CR. */
  #lastCr = false;
  /** In Mid: the previous chunk ended with a bare LF (for the "\n." anomaly across chunks). */
  #bareLfEnd = false;
  #wire = 0;
  #reported = false;

  constructor(handler: DotUnstufferHandler) {
    this.#h = handler;
  }

  /** Starts a new body, positioned at the start of a line. */
  begin(): void {
    this.#pos = Pos.LineStart;
    this.#lastCr = false;
    this.#bareLfEnd = false;
    this.#wire = 0;
    this.#reported = false;
  }

  /** True once the terminator was consumed. */
  get done(): boolean {
    return this.#pos === Pos.Done;
  }

  /** Wire bytes consumed since begin(), terminator included. */
  get wireBytes(): number {
    return this.#wire;
  }

  /** Bytes are missing here: the position in the line is unknown, so the next "\r\n." is awaited. */
  gap(length: number): void {
    if (this.#pos === Pos.Done) return;
    this.#wire += length;
    this.#pos = Pos.Mid;
    this.#lastCr = false;
    this.#bareLfEnd = false;
  }

  /**
   * Feeds wire bytes (borrowed). Returns the number consumed: all of them, or up to and including
   * the terminator's LF when the body ends in this chunk.
   */
  push(bytes: Uint8Array, at: At): number {
    if (this.#pos === Pos.Done) return 0;
    const n = bytes.length;
    // The bytes as they came (a plain Uint8Array from the decoder): wrapping them in a Buffer cost
    // a C++ `buffer` getter and a Buffer per segment, and Buffer's subarray another of each per run.
    const buf = bytes;
    let i = 0;
    let run = 0;
    while (i < n) {
      switch (this.#pos) {
        case Pos.LineStart:
          if (buf[i] === DOT) {
            if (i > run) this.#h.onBody(buf.subarray(run, i), at);
            i++;
            run = i;
            this.#pos = Pos.Dot;
          } else {
            this.#pos = Pos.Mid;
            this.#lastCr = false;
          }
          break;
        case Pos.Dot:
          if (buf[i] === CR) {
            i++;
            run = i;
            this.#pos = Pos.DotCr;
          } else {
            // §4.5.2: the line had other characters; its first "." was removed.
            if (buf[i] === LF) this.#report('"." line ended by a bare LF', at);
            run = i;
            this.#pos = Pos.Mid;
            this.#lastCr = false;
          }
          break;
        case Pos.DotCr:
          if (buf[i] === LF) {
            // §4.1.1.4: <CRLF>.<CRLF> ends the mail data.
            i++;
            this.#pos = Pos.Done;
            this.#wire += i;
            return i;
          }
          // ".\r" followed by something else: a stuffed line whose content starts with CR.
          this.#h.onBody(CR_ONLY, at);
          run = i;
          this.#pos = Pos.Mid;
          this.#lastCr = true;
          break;
        default: {
          // Mid: jump to the next "\n." candidate.
          if (this.#bareLfEnd) {
            this.#bareLfEnd = false;
            if (buf[i] === DOT) this.#report('"." after a bare LF', at);
          }
          const j = indexOf.call(buf, LF_DOT, i);
          if (j < 0) {
            // No line start with a dot here; remember whether the chunk ends at a line start.
            const last = buf[n - 1];
            if (last === LF) {
              const prevCr = n - 2 >= i ? buf[n - 2] === CR : this.#lastCr;
              if (prevCr) this.#pos = Pos.LineStart;
              else {
                this.#lastCr = false;
                this.#bareLfEnd = true;
              }
            } else {
              this.#lastCr = last === CR;
            }
            i = n;
            break;
          }
          const prevCr = j > i ? buf[j - 1] === CR : this.#lastCr;
          if (prevCr) {
            if (j + 1 > run) this.#h.onBody(buf.subarray(run, j + 1), at);
            i = j + 2;
            run = i;
            this.#pos = Pos.Dot;
          } else {
            this.#report('"." after a bare LF', at);
            i = j + 1;
            this.#lastCr = false;
          }
          break;
        }
      }
    }
    if (n > run && this.#pos !== Pos.Dot && this.#pos !== Pos.DotCr) this.#h.onBody(buf.subarray(run, n), at);
    this.#wire += n;
    return n;
  }

  #report(detail: string, at: At): void {
    if (this.#reported) return;
    this.#reported = true;
    this.#h.onAnomaly('smtp_data_bare_lf_dot', detail, at);
  }
}
