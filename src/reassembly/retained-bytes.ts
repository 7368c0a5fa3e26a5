/**
 * A small ring of the most recently delivered bytes of one direction, addressed by stream
 * offset. It exists only to compare a later retransmission with what was already delivered
 * (conflicting-overlap detection); delivery itself never reads from it.
 *
 * Owned memory: at most `capacity` bytes, allocated on the first `record()`.
 */
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
    let buf = this.#buf;
    if (buf === null) buf = this.#buf = new Uint8Array(cap);
    const n = bytes.length;
    this.#end = start + n;
    if (n >= cap) {
      // Only the last `cap` bytes survive.
      const src = bytes.subarray(n - cap);
      const pos = (start + n - cap) % cap;
      buf.set(src.subarray(0, cap - pos), pos);
      if (pos > 0) buf.set(src.subarray(cap - pos), 0);
      this.#len = cap;
      return;
    }
    const pos = start % cap;
    const first = Math.min(n, cap - pos);
    buf.set(first === n ? bytes : bytes.subarray(0, first), pos);
    if (first < n) buf.set(bytes.subarray(first), 0);
    this.#len = Math.min(cap, this.#len + n);
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
    const cap = this.#capacity;
    let diff = 0;
    for (let off = lo; off < hi; off++) {
      if (bytes[off - start] !== buf[off % cap]) diff++;
    }
    return diff;
  }
}
