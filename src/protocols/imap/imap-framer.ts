import type { At } from '../../core/types.js';
import { LineFramer } from '../line-framer.js';
import type { LineFramerAnomaly } from '../line-framer.js';
import { literalMarker } from './imap-tokenizer.js';
import type { LiteralMarker, LiteralValue } from './imap-tokenizer.js';

/** What to do with the bytes of an announced literal. */
export type LiteralRoute =
  /** Keep the bytes (when not larger than the keep limit) and hand them to onLiteralEnd. */
  | 'keep'
  /** Hand the bytes to onLiteralData as they arrive (message bodies); nothing is kept. */
  | 'stream';

/**
 * Receiver of one side's IMAP framing. All byte arrays are borrowed (valid during the call).
 * A logical line is a run of segments: every segment but the last announces a literal.
 */
export interface ImapFramerHandler {
  /**
   * One line segment without its CRLF. `literal` is the literal announced at its end (its bytes
   * follow), or null when the logical line ends with this segment. Returns the literal's route
   * (ignored when `literal` is null).
   */
  onSegment(seg: Uint8Array, literal: LiteralMarker | null, first: At, last: At): LiteralRoute;
  /** Bytes of a streamed literal, in large runs (views into the input, no copy). */
  onLiteralData(bytes: Uint8Array, at: At): void;
  /** `length` bytes of the current literal are missing (TCP gap). */
  onLiteralGap(length: number, at: At): void;
  /** The literal is complete (all bytes seen or lost); the logical line continues after it. */
  onLiteralEnd(value: LiteralValue, at: At): void;
  onAnomaly(code: LineFramerAnomaly | 'imap_literal_size_invalid', detail: string, at: At): void;
}

interface OpenLiteral {
  readonly marker: LiteralMarker;
  readonly route: LiteralRoute;
  /** Owned copy of a kept literal (allocated at its announced size), else null. */
  readonly keep: Uint8Array | null;
  received: number;
  missing: number;
}

/**
 * IMAP LINE/LITERAL framing for one side (RFC 3501 §4.3, §7.5; RFC 7888 LITERAL+; RFC 3516 `~{n}`):
 * a line ending in `{n}` is followed by exactly n raw bytes, then the line continues.
 *
 * Built on {@link LineFramer}: literal bytes are passed through in plain mode without per-line
 * work. Streamed literals are never copied; kept literals are copied once into a buffer of
 * their announced size, only when it is at most `maxKeepBytes`. Never throws.
 */
export class ImapFramer {
  readonly #h: ImapFramerHandler;
  readonly #lines: LineFramer;
  readonly #maxKeep: number;
  #lit: OpenLiteral | null = null;

  constructor(handler: ImapFramerHandler, maxLineBytes: number, maxKeepBytes: number) {
    this.#h = handler;
    this.#maxKeep = maxKeepBytes;
    this.#lines = new LineFramer(
      {
        onLine: (line, first, last) => this.#line(line, first, last),
        onBytes: (bytes, at) => this.#bytes(bytes, at),
        onBytesEnd: (at) => this.#bytesEnd(at),
        onAnomaly: (code, detail, at) => this.#h.onAnomaly(code, detail, at),
      },
      maxLineBytes,
    );
  }

  /** True while inside a literal. */
  get inLiteral(): boolean {
    return this.#lit !== null;
  }

  /** Bytes of the current literal seen or lost so far (0 outside a literal). */
  get literalProgress(): number {
    return this.#lit === null ? 0 : this.#lit.received + this.#lit.missing;
  }

  /** Bytes of the current literal not yet seen or lost (0 outside a literal). */
  get literalLeft(): number {
    return this.#lit === null ? 0 : Math.max(0, this.#lit.marker.size - this.#lit.received - this.#lit.missing);
  }

  /** True while a partial line is buffered. */
  get hasPartialLine(): boolean {
    return this.#lines.hasPartialLine;
  }

  /** Feeds bytes (borrowed). Returns how many were consumed (all unless a callback called pause()). */
  push(bytes: Uint8Array, at: At): number {
    return this.#lines.push(bytes, at);
  }

  /** Makes the running push() return after the current callback. */
  pause(): void {
    this.#lines.pause();
  }

  /**
   * `length` bytes are missing. Returns how many fell inside the current literal (reported to
   * onLiteralGap, and onLiteralEnd if it is used up); the rest dropped the partial line.
   */
  gap(length: number, at: At): number {
    const lit = this.#lit;
    if (lit !== null) {
      const left = lit.marker.size - lit.received - lit.missing;
      const inLit = Math.min(left, length);
      lit.missing += inLit;
      if (inLit > 0) this.#h.onLiteralGap(inLit, at);
      this.#lines.gap(length, at); // fires onBytesEnd when the literal is used up
      if (length > inLit) this.reset();
      return inLit;
    }
    this.#lines.gap(length, at);
    return 0;
  }

  /** Drops any partial line and literal state (after a gap or a mode change). */
  reset(): void {
    this.#lit = null;
    this.#lines.reset();
  }

  /**
   * Gives up the current literal when none of its bytes came (the server refused a synchronizing
   * literal with a tagged NO/BAD, so the client never sent it). Returns true when cancelled; the
   * handler gets onLiteralEnd with `missing` equal to the size, and lines resume.
   */
  cancelLiteral(at: At): boolean {
    const lit = this.#lit;
    if (lit === null || lit.received > 0 || lit.missing > 0) return false;
    this.#lit = null;
    this.#lines.reset();
    this.#h.onLiteralEnd({ size: lit.marker.size, nonSync: lit.marker.nonSync, binary: lit.marker.binary, bytes: null, missing: lit.marker.size }, at);
    return true;
  }

  #line(line: Uint8Array, first: At, last: At): void {
    const m = literalMarker(line);
    if (m === null) {
      this.#h.onSegment(line, null, first, last);
      return;
    }
    if (m.invalid) {
      // Not framed as a literal: a size that large cannot be real, and trusting it would swallow the stream.
      this.#h.onAnomaly('imap_literal_size_invalid', 'literal size with more than 15 digits', last);
      this.#h.onSegment(line, null, first, last);
      return;
    }
    const route = this.#h.onSegment(line, m, first, last);
    const keep = route === 'keep' && m.size <= this.#maxKeep ? new Uint8Array(m.size) : null;
    this.#lit = { marker: m, route, keep, received: 0, missing: 0 };
    this.#lines.expectBytes(m.size);
  }

  #bytes(bytes: Uint8Array, at: At): void {
    const lit = this.#lit;
    if (lit === null) return;
    if (lit.route === 'stream') this.#h.onLiteralData(bytes, at);
    else if (lit.keep !== null) lit.keep.set(bytes, lit.received + lit.missing);
    lit.received += bytes.length;
  }

  #bytesEnd(at: At): void {
    const lit = this.#lit;
    if (lit === null) return;
    this.#lit = null;
    const m = lit.marker;
    this.#h.onLiteralEnd({ size: m.size, nonSync: m.nonSync, binary: m.binary, bytes: lit.keep, missing: lit.missing }, at);
  }
}
