/**
 * A small ring of the most recently delivered bytes of one direction, addressed by stream
 * offset. It exists only to compare a later retransmission with what was already delivered
 * (conflicting-overlap detection); delivery itself never reads from it.
 *
 * Owned memory: at most `capacity` bytes. The ring is allocated on the first `record()` at the
 * size that data needs (at least MIN_RING) and doubles as more contiguous bytes arrive, up to
 * `capacity`: a short SMTP session retains tens of bytes, not `capacity`, per direction.
 */
/** Smallest ring allocated (bytes). */
const MIN_RING = 64;

export class RetainedBytes {
  readonly #capacity: number;
  #buf: Uint8Array | null = null;
  /** Stream offset just past the last recorded byte. */
  #end = 0;
  /** Valid bytes before #end (≤ capacity). */
  #len = 0;

  constructor(capacity: number) {
    this.#capacity = Math.max(0, Math.floor(Math.min(capacity, 1 << 30)));
  }

  /** Bytes currently held (for accounting). */
  get size(): number {
    return this.#buf === null ? 0 : this.#buf.length;
  }

  /**
   * Copies `bytes` (borrowed), delivered at stream offset `start`. A discontinuity (a gap
   * before `start`) forgets everything recorded so far.
   */
  record(bytes: Uint8Array, start: number): void {
    const cap = this.#capacity;
    if (cap === 0) return;
    if (start !== this.#end) this.#len = 0;
    const n = bytes.length;
    const buf = this.#ring(Math.min(cap, this.#len + n));
    const size = buf.length;
    this.#end = start + n;
    if (n >= size) {
      // The ring fills up: only its last `size` bytes survive.
      const src = bytes.subarray(n - size);
      const pos = (start + n - size) % size;
      buf.set(src.subarray(0, size - pos), pos);
      if (pos > 0) buf.set(src.subarray(size - pos), 0);
      this.#len = size;
      return;
    }
    const pos = start % size;
    const first = Math.min(n, size - pos);
    buf.set(first === n ? bytes : bytes.subarray(0, first), pos);
    if (first < n) buf.set(bytes.subarray(first), 0);
    this.#len = Math.min(size, this.#len + n);
  }

  /**
   * The ring, holding at least `want` (<= capacity) bytes: allocated or grown geometrically (capped
   * at capacity), with the valid window moved to its positions modulo the new size.
   */
  #ring(want: number): Uint8Array {
    const old = this.#buf;
    if (old !== null && old.length >= want) return old;
    const cap = this.#capacity;
    const size = Math.min(cap, Math.max(want, MIN_RING, old === null ? 0 : old.length * 2));
    const next = new Uint8Array(size);
    if (old !== null && this.#len > 0) {
      const osize = old.length;
      for (let off = this.#end - this.#len; off < this.#end; ) {
        // Copy runs that are contiguous in both rings.
        const op = off % osize;
        const np = off % size;
        const run = Math.min(this.#end - off, osize - op, size - np);
        next.set(old.subarray(op, op + run), np);
        off += run;
      }
    }
    this.#buf = next;
    return next;
  }

  /** Marks a gap: nothing recorded so far is adjacent to what follows. */
  reset(): void {
    this.#len = 0;
  }

  /** Frees the ring (end of stream, or the connection became ignored). */
  release(): void {
    this.#buf = null;
    this.#len = 0;
  }

  /**
   * Compares `bytes` (borrowed), which sit at stream offset `start`, with the recorded bytes
   * they overlap. Returns how many overlapping bytes differ (0 when none differ or nothing
   * overlaps the retained window).
   */
  countDifferences(bytes: Uint8Array, start: number): number {
    const buf = this.#buf;
    if (buf === null || this.#len === 0) return 0;
    const lo = Math.max(start, this.#end - this.#len);
    const hi = Math.min(start + bytes.length, this.#end);
    const size = buf.length;
    let diff = 0;
    for (let off = lo; off < hi; off++) {
      if (bytes[off - start] !== buf[off % size]) diff++;
    }
    return diff;
  }
}
