/**
 * Streaming Content-Transfer-Encoding decoders (RFC 2045 section 6). Each takes raw body bytes in
 * arbitrary runs and pushes decoded bytes to a {@link ByteSink}. Bytes given to `write` are
 * borrowed; bytes pushed to the sink are borrowed too (a shared scratch buffer), so sinks must
 * consume them during the call (hash update, copy into a file buffer).
 *
 * Decoded bytes are evidence: they are exactly what the message carried after transfer decoding,
 * with no line-ending rewrite. 7bit / 8bit / binary (and unknown encodings) pass bytes through;
 * quoted-printable keeps its hard line breaks as they appear in the encoded text (CRLF stays
 * CRLF, RFC 2045 section 6.7 rule 4: the canonical form's line breaks), soft breaks vanish. In
 * both, the line terminator just before a delimiter line is not part of the body (RFC 2046
 * section 5.1.1: "the CRLF preceding the boundary delimiter line is conceptually attached to the
 * boundary"). Zeek's extracted files follow the same rules (test: zeek-extracted.test.ts).
 */

/** Receives decoded bytes (borrowed: consume during the call). */
export interface ByteSink {
  push(bytes: Uint8Array): void;
}

/** A streaming body decoder. */
export interface BodyDecoder {
  /** Raw (encoded) body bytes buf[start, end), borrowed. */
  write(buf: Uint8Array, start: number, end: number): void;
  /** Bytes of the body are missing here: resynchronise. */
  gap(): void;
  /**
   * The body ended: at a delimiter line (`atDelimiter`, the last line terminator belongs to the
   * delimiter) or at the end of the message.
   */
  finish(atDelimiter: boolean): void;
  /** Count of input bytes that could not be decoded (base64: characters outside the alphabet). */
  readonly invalid: number;
}

const LF = 0x0a;
const CR = 0x0d;
const EQ = 0x3d;

const SCRATCH_SIZE = 64 * 1024;
/** Shared output staging: flushed before every write() returns (the core is synchronous). */
const scratch = Buffer.allocUnsafe(SCRATCH_SIZE);
const b64Chars = Buffer.allocUnsafe(SCRATCH_SIZE);
const b64Out = Buffer.allocUnsafe((SCRATCH_SIZE / 4) * 3 + 3);
/** Bytes the fast base64 path leaves to the per-byte one: '=' (padding ends a unit), and the base64url digits '-' and '_'. */
const NOT_FAST = [EQ, 0x2d, 0x5f] as const;
/** Largest run given to the fast base64 path at once (its output fits b64Out). */
const FAST_RUN = 32 * 1024;

/**
 * Bytes of line breaks in buf[s, e): every LF, and the CR just before it (not before s). Base64
 * bodies have lines of one length, so from the second line break on, the next one is looked for
 * one line further (no search; a third of the fast path's time when each was searched). Where
 * the lines change, it searches again. An LF inside a line that was stepped over is not counted:
 * then the run decodes to fewer bytes than expected and takes the per-byte path (see fast()).
 */
function lineBreakBytes(buf: Buffer, s: number, e: number): number {
  let k = buf.indexOf(LF, s);
  if (k < 0 || k >= e) return 0;
  let ws = k > s && buf[k - 1] === CR ? 2 : 1;
  let next = buf.indexOf(LF, k + 1);
  if (next < 0 || next >= e) return ws;
  const stride = next - k;
  const crlf = buf[next - 1] === CR;
  const step = crlf ? 2 : 1;
  ws += step;
  k = next;
  while (k + stride < e && buf[k + stride] === LF && (buf[k + stride - 1] === CR) === crlf) {
    k += stride;
    ws += step;
  }
  for (next = buf.indexOf(LF, k + 1); next >= 0 && next < e; next = buf.indexOf(LF, next + 1)) {
    ws += buf[next - 1] === CR ? 2 : 1;
  }
  return ws;
}

/** 1: base64 alphabet, 2: '=', 0: whitespace, -1: anything else. */
const B64_CLASS = new Int8Array(256).fill(-1);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/') B64_CLASS[c.charCodeAt(0)] = 1;
B64_CLASS[EQ] = 2;
B64_CLASS[0x20] = 0;
B64_CLASS[0x09] = 0;
B64_CLASS[CR] = 0;
B64_CLASS[LF] = 0;

/** Hex digit value, -1 when not a hex digit (lowercase tolerated). */
const HEX = new Int8Array(256).fill(-1);
for (let i = 0; i < 10; i++) HEX[0x30 + i] = i;
for (let i = 0; i < 6; i++) {
  HEX[0x41 + i] = 10 + i;
  HEX[0x61 + i] = 10 + i;
}

/**
 * base64 (RFC 2045 section 6.8), decoded by Node's native decoder over 4-character aligned runs.
 * Whitespace is skipped; other characters outside the alphabet are skipped and counted. As in
 * postal-mime, '=' closes a unit: the characters before it are decoded on their own and the next
 * characters start a new 4-aligned unit (some mailers pad every line).
 */
export class Base64Decoder implements BodyDecoder {
  invalid = 0;
  private readonly sink: ByteSink;
  /** Characters carried over (fewer than 4, not yet aligned). */
  private readonly carry = new Uint8Array(4);
  private carryLen = 0;
  /** After a gap, skip to the next line: the rest of the current line is misaligned. */
  private skipLine = false;

  constructor(sink: ByteSink) {
    this.sink = sink;
  }

  write(buf: Uint8Array, start: number, end: number): void {
    let i = start;
    if (this.skipLine) {
      const lf = buf.indexOf(LF, start);
      if (lf < 0 || lf >= end) return;
      this.skipLine = false;
      i = lf + 1;
    }
    const isBuf = Buffer.isBuffer(buf);
    // First '=', '-' or '_' at or after i in buf[i, end) (end: none), searched again only once passed.
    let notFast = -1;
    while (i < end) {
      const stop = Math.min(end, i + FAST_RUN);
      if (isBuf) {
        // The lines before the first '=' (padding at the end of a body) or base64url digit take
        // the fast path; from that line on, the per-byte path.
        if (notFast < i) notFast = this.cleanUntil(buf as Buffer, i, end);
        const clean = Math.min(notFast, stop);
        if (clean < stop) {
          const lineStart = clean > i ? buf.lastIndexOf(LF, clean - 1) + 1 : i;
          if (lineStart > i && this.fast(buf as Buffer, i, lineStart)) i = lineStart;
          this.slow(buf, i, stop);
        } else if (!this.fast(buf as Buffer, i, stop)) this.slow(buf, i, stop);
      } else this.slow(buf, i, stop);
      i = stop;
    }
  }

  /** Position of the first '=', '-' or '_' in buf[s, e), or e. */
  private cleanUntil(buf: Buffer, s: number, e: number): number {
    // Searched in buf[s, e) only: buf may run on far beyond e (a whole arena of other messages).
    const view = e < buf.length ? buf.subarray(s, e) : buf;
    const base = view === buf ? 0 : s;
    let stop = e;
    for (const c of NOT_FAST) {
      const k = view.indexOf(c, s - base);
      if (k >= 0 && k + base < stop) stop = k + base;
    }
    return stop;
  }

  /**
   * Fast path for clean runs (alphabet characters and CRLF / LF only, no '='): Node decodes the
   * run directly (it skips line breaks); the count of decoded bytes proves the run was clean,
   * otherwise nothing is emitted and the slow path redoes the run. Keeps 4-character alignment
   * by carrying the last 1-3 characters.
   */
  private fast(buf: Buffer, s: number, e: number): boolean {
    // buf[s, e) holds no '=', '-' or '_' (cleanUntil): Node's decoder accepts the base64url
    // digits, which RFC 2045 §6.8 does not; those and padding take the slow path.
    const ws = lineBreakBytes(buf, s, e);
    const carryLen = this.carryLen;
    const c = carryLen + (e - s) - ws;
    const rem = c & 3;
    let p = e;
    let r = rem;
    while (r > 0 && p > s) {
      p--;
      const ch = buf[p];
      if (ch !== CR && ch !== LF) r--;
    }
    if (r > 0) return false;
    const expected = ((c - rem) >> 2) * 3;
    let written = 0;
    let from = s;
    if (carryLen > 0 && expected > 0) {
      // Complete the carried unit on its own (no concatenation with the run's long string).
      const unit = this.carry;
      let n = carryLen;
      while (n < 4 && from < p) {
        const ch = buf[from++]!;
        if (ch !== CR && ch !== LF) unit[n++] = ch;
      }
      if (n < 4) return false;
      written = b64Out.write(String.fromCharCode(unit[0]!, unit[1]!, unit[2]!, unit[3]!), 0, 'base64');
    }
    if (from < p) written += b64Out.write(buf.toString('latin1', from, p), written, 'base64');
    if (written !== expected) return false;
    // The carried characters are checked by the next decode (or the slow path at finish).
    for (let q = p; q < e; q++) {
      const ch = buf[q]!;
      if (ch !== CR && ch !== LF && B64_CLASS[ch] !== 1) return false;
    }
    let n = 0;
    for (let q = p; q < e; q++) {
      const ch = buf[q]!;
      if (ch !== CR && ch !== LF) this.carry[n++] = ch;
    }
    this.carryLen = n;
    if (written > 0) this.sink.push(b64Out.subarray(0, written));
    return true;
  }

  /** Per-byte path: skips whitespace, counts invalid characters, honours '=' unit ends. */
  private slow(buf: Uint8Array, start: number, end: number): void {
    const chars = b64Chars;
    let n = this.carryLen;
    for (let k = 0; k < n; k++) chars[k] = this.carry[k]!;
    const limit = SCRATCH_SIZE - 4;
    for (let i = start; i < end; i++) {
      const c = buf[i]!;
      const t = B64_CLASS[c]!;
      if (t === 1) {
        chars[n++] = c;
        if (n >= limit) {
          const aligned = n & ~3;
          this.decode(aligned);
          for (let k = aligned; k < n; k++) chars[k - aligned] = chars[k]!;
          n -= aligned;
        }
      } else if (t === 2) {
        // '=' ends a unit (padding): decode what is pending on its own.
        if (n > 0) {
          this.decode(n);
          n = 0;
        }
      } else if (t < 0) {
        this.invalid++;
      }
    }
    const aligned = n & ~3;
    if (aligned > 0) this.decode(aligned);
    this.carryLen = n - aligned;
    for (let k = 0; k < this.carryLen; k++) this.carry[k] = chars[aligned + k]!;
  }

  /** Decodes b64Chars[0, n). A trailing group of 1 character carries no byte (dropped). */
  private decode(n: number): void {
    if ((n & 3) === 1) n--;
    if (n <= 0) return;
    const written = b64Out.write(b64Chars.toString('latin1', 0, n), 0, 'base64');
    if (written > 0) this.sink.push(b64Out.subarray(0, written));
  }

  gap(): void {
    this.carryLen = 0;
    this.skipLine = true;
  }

  finish(): void {
    if (this.carryLen > 0) {
      for (let k = 0; k < this.carryLen; k++) b64Chars[k] = this.carry[k]!;
      this.decode(this.carryLen);
      this.carryLen = 0;
    }
  }
}

const QP_NORMAL = 0;
/** Seen '='. */
const QP_EQ = 1;
/** Seen '=' and one hex digit (in qpHex). */
const QP_EQ1 = 2;
/** Seen '=' followed by CRs (qpCrs of them). */
const QP_EQ_CR = 3;

/**
 * Base of the line-preserving decoders: withholds the line terminator (LF, CRLF, or a CR that may
 * become one) that ends the input so far, because when a delimiter line follows it belongs to the
 * delimiter (RFC 2046 section 5.1.1). It is handed on when more body bytes come, or at the end of
 * a body that did not end at a delimiter. Mirrors MimeSplitter's body_end (LF and one CR before it).
 */
abstract class DelimiterTrimmingDecoder implements BodyDecoder {
  readonly invalid = 0;
  protected readonly sink: ByteSink;
  /** Withheld tail: CR, LF or CRLF (heldLen 0: none). */
  private readonly held = new Uint8Array(2);
  private heldLen = 0;

  constructor(sink: ByteSink) {
    this.sink = sink;
  }

  /** Decodes buf[start, end) (borrowed), in order. */
  protected abstract decode(buf: Uint8Array, start: number, end: number): void;
  /** The body ended (after any released held bytes). */
  protected abstract done(): void;

  write(buf: Uint8Array, start: number, end: number): void {
    if (end <= start) return;
    // A held CR and a leading LF form one CRLF terminator.
    if (this.heldLen === 1 && this.held[0] === CR && buf[start] === LF) {
      this.held[1] = LF;
      this.heldLen = 2;
      start++;
      if (start >= end) return;
    }
    if (this.heldLen > 0) {
      this.decode(this.held, 0, this.heldLen);
      this.heldLen = 0;
    }
    let e = end;
    if (buf[e - 1] === LF) {
      e--;
      if (e > start && buf[e - 1] === CR) e--;
    } else if (buf[e - 1] === CR) {
      e--;
    }
    for (let k = e; k < end; k++) this.held[this.heldLen++] = buf[k]!;
    if (e > start) this.decode(buf, start, e);
  }

  gap(): void {
    // Held bytes were received before the gap: keep them (a delimiter may still follow).
  }

  finish(atDelimiter: boolean): void {
    const n = this.heldLen;
    this.heldLen = 0;
    // Only a line terminator ending in LF can precede a delimiter line; a lone CR is content.
    if (n > 0 && !(atDelimiter && this.held[n - 1] === LF)) this.decode(this.held, 0, n);
    this.done();
  }
}

/**
 * quoted-printable (RFC 2045 section 6.7), hand-written state machine. Soft line breaks ("=" at
 * the end of a line, CRs between "=" and LF ignored) are removed, "=XX" with upper- or lowercase
 * hex is decoded, invalid sequences are kept literally, hard line breaks are kept as they are in
 * the encoded text (rule 4: CRLF in the canonical form). A "=" ending the body is a soft break.
 * The line terminator before a delimiter is dropped (see DelimiterTrimmingDecoder).
 */
export class QuotedPrintableDecoder extends DelimiterTrimmingDecoder {
  private state = QP_NORMAL;
  private hex = 0;
  private crs = 0;
  private out = 0;

  private emit(b: number): void {
    if (this.out >= SCRATCH_SIZE) this.flush();
    scratch[this.out++] = b;
  }

  private emitRun(buf: Uint8Array, s: number, e: number): void {
    while (s < e) {
      if (this.out >= SCRATCH_SIZE) this.flush();
      const n = Math.min(e - s, SCRATCH_SIZE - this.out);
      scratch.set(buf.subarray(s, s + n), this.out);
      this.out += n;
      s += n;
    }
  }

  private flush(): void {
    if (this.out > 0) {
      this.sink.push(scratch.subarray(0, this.out));
      this.out = 0;
    }
  }

  protected decode(buf: Uint8Array, start: number, end: number): void {
    let i = start;
    while (i < end) {
      if (this.state === QP_NORMAL) {
        // Literal runs (the bulk of a body, line breaks included) are copied up to the next '='.
        let k = buf.indexOf(EQ, i);
        if (k < 0 || k >= end) k = end;
        if (k > i) this.emitRun(buf, i, k);
        if (k >= end) break;
        this.state = QP_EQ;
        i = k + 1;
      } else {
        this.step(buf[i]!);
        i++;
      }
    }
    this.flush();
  }

  private step(c: number): void {
    switch (this.state) {
      case QP_NORMAL:
        if (c === EQ) this.state = QP_EQ;
        else this.emit(c);
        return;
      case QP_EQ:
        if (HEX[c]! >= 0) {
          this.hex = c;
          this.state = QP_EQ1;
        } else if (c === CR) {
          this.crs = 1;
          this.state = QP_EQ_CR;
        } else if (c === LF) {
          this.state = QP_NORMAL; // soft line break
        } else if (c === EQ) {
          this.emit(EQ);
        } else {
          this.emit(EQ);
          this.state = QP_NORMAL;
          this.step(c);
        }
        return;
      case QP_EQ1: {
        const lo = HEX[c]!;
        if (lo >= 0) {
          this.emit((HEX[this.hex]! << 4) | lo);
          this.state = QP_NORMAL;
        } else {
          this.emit(EQ);
          this.emit(this.hex);
          this.state = QP_NORMAL;
          this.step(c);
        }
        return;
      }
      default: // QP_EQ_CR
        if (c === CR) {
          this.crs++;
        } else if (c === LF) {
          this.state = QP_NORMAL; // soft line break with CRLF
        } else {
          this.emit(EQ);
          for (let k = 0; k < this.crs; k++) this.emit(CR);
          this.state = QP_NORMAL;
          this.step(c);
        }
    }
  }

  override gap(): void {
    super.gap();
    this.state = QP_NORMAL;
  }

  protected done(): void {
    if (this.state === QP_EQ1) {
      // "=X" at the very end: not an escape, kept literally.
      this.emit(EQ);
      this.emit(this.hex);
    } // QP_EQ / QP_EQ_CR: a "=" ending the body is a soft break.
    this.state = QP_NORMAL;
    this.flush();
  }
}

/**
 * 7bit, 8bit, binary (RFC 2045 section 6.2: identity encodings) and unknown encodings: the exact
 * bytes, passed through (borrowed) without copying; only the line terminator before a delimiter
 * is dropped (RFC 2046 section 5.1.1). Also records message/rfc822 bodies verbatim.
 */
export class IdentityDecoder extends DelimiterTrimmingDecoder {
  protected decode(buf: Uint8Array, start: number, end: number): void {
    this.sink.push(start === 0 && end === buf.length ? buf : buf.subarray(start, end));
  }

  protected done(): void {}
}
