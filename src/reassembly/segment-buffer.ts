import type { At } from '../core/types.js';

/**
 * One buffered (out-of-order) piece of a stream, at absolute stream offsets.
 * It covers [start, start + data.length + missing): `data` was captured, then `missing`
 * bytes were announced but cut by the snaplen.
 */
export interface BufferedSegment {
  readonly start: number;
  /** Owned copy. */
  readonly data: Uint8Array;
  readonly missing: number;
  /** Frame and time of the segment these bytes came from. */
  readonly at: At;
  /** Peer stream offset its ACK acknowledged (-1: none), for DirectionOrder. */
  readonly need: number;
}

const EMPTY = new Uint8Array(0);

function segEnd(s: BufferedSegment): number {
  return s.start + s.data.length + s.missing;
}

/**
 * Sorted, non-overlapping queue of out-of-order segments for one direction.
 * Insertions keep the bytes seen first: a new segment only fills the parts no buffered segment
 * covers yet (see README, "Overlaps"). Not a hot path: in-order data never enters it.
 */
export class SegmentBuffer {
  #segs: BufferedSegment[] = [];
  #head = 0;
  #bytes = 0;

  /** Captured bytes held (the memory the limits count). */
  get bytes(): number {
    return this.#bytes;
  }

  /** Number of buffered segments. */
  get count(): number {
    return this.#segs.length - this.#head;
  }

  /** The earliest buffered segment, if any. */
  peek(): BufferedSegment | undefined {
    return this.#segs[this.#head];
  }

  /** Removes and returns the earliest segment. */
  shift(): BufferedSegment | undefined {
    const s = this.#segs[this.#head];
    if (s === undefined) return undefined;
    this.#head++;
    this.#bytes -= s.data.length;
    if (this.#head === this.#segs.length) {
      this.#segs.length = 0;
      this.#head = 0;
    } else if (this.#head >= 64 && this.#head * 2 >= this.#segs.length) {
      this.#segs.splice(0, this.#head);
      this.#head = 0;
    }
    return s;
  }

  /** Offset just past the last buffered byte, or -1 when empty. */
  get end(): number {
    const n = this.#segs.length;
    return n === this.#head ? -1 : segEnd(this.#segs[n - 1]);
  }

  /** Index of the first segment whose end is after `off`. */
  #firstEndingAfter(off: number): number {
    let lo = this.#head;
    let hi = this.#segs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (segEnd(this.#segs[mid]) > off) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /**
   * Counts the bytes of `bytes` (borrowed, at stream offset `start`) that differ from buffered
   * captured bytes at the same offsets. Snaplen-missing parts are never compared.
   */
  countDifferences(bytes: Uint8Array, start: number): number {
    const end = start + bytes.length;
    let diff = 0;
    const segs = this.#segs;
    for (let i = this.#firstEndingAfter(start); i < segs.length; i++) {
      const s = segs[i];
      if (s.start >= end) break;
      const lo = Math.max(start, s.start);
      const hi = Math.min(end, s.start + s.data.length);
      const d = s.data;
      for (let off = lo; off < hi; off++) {
        if (bytes[off - start] !== d[off - s.start]) diff++;
      }
    }
    return diff;
  }

  /** Captured bytes of [start, start + length) not yet covered by a buffered segment. */
  uncoveredBytes(start: number, length: number): number {
    const end = start + length;
    let cursor = start;
    let n = 0;
    const segs = this.#segs;
    for (let i = this.#firstEndingAfter(start); i < segs.length && cursor < end; i++) {
      const s = segs[i];
      if (s.start >= end) break;
      if (s.start > cursor) n += s.start - cursor;
      cursor = Math.max(cursor, segEnd(s));
    }
    if (cursor < end) n += end - cursor;
    return n;
  }

  /**
   * Buffers copies of the parts of a segment no buffered segment covers (first seen wins).
   * `bytes` is borrowed; `missing` snaplen-cut bytes follow it. Returns captured bytes added.
   */
  insert(bytes: Uint8Array, start: number, missing: number, at: At, need: number): number {
    const dataEnd = start + bytes.length;
    const end = dataEnd + missing;
    if (end <= start) return 0;
    const segs = this.#segs;
    const i0 = this.#firstEndingAfter(start);
    let i1 = i0;
    const merged: BufferedSegment[] = [];
    let cursor = start;
    let added = 0;
    const addPiece = (lo: number, hi: number): void => {
      const dHi = Math.min(hi, dataEnd);
      const data = dHi > lo ? bytes.slice(lo - start, dHi - start) : EMPTY;
      const miss = hi - Math.max(lo, dataEnd);
      merged.push({ start: lo, data, missing: miss > 0 ? miss : 0, at, need });
      added += data.length;
    };
    while (i1 < segs.length && segs[i1].start < end) {
      const s = segs[i1];
      if (s.start > cursor) addPiece(cursor, s.start);
      merged.push(s);
      cursor = Math.max(cursor, segEnd(s));
      i1++;
    }
    if (cursor < end) addPiece(cursor, end);
    if (added === 0 && merged.length === i1 - i0) return 0;
    segs.splice(i0, i1 - i0, ...merged);
    this.#bytes += added;
    return added;
  }

  /** Drops everything at or after stream offset `off` (data beyond a FIN). Returns captured bytes dropped. */
  truncateFrom(off: number): number {
    const segs = this.#segs;
    let removed = 0;
    while (segs.length > this.#head) {
      const last = segs[segs.length - 1];
      if (segEnd(last) <= off) break;
      if (last.start >= off) {
        segs.pop();
        removed += last.data.length;
        continue;
      }
      const keepData = Math.min(last.data.length, off - last.start);
      const keepMissing = off - last.start - keepData;
      segs[segs.length - 1] = { start: last.start, data: last.data.slice(0, keepData), missing: keepMissing, at: last.at, need: last.need };
      removed += last.data.length - keepData;
      break;
    }
    if (segs.length === this.#head) {
      segs.length = 0;
      this.#head = 0;
    }
    this.#bytes -= removed;
    return removed;
  }

  /** Drops everything. Returns captured bytes dropped. */
  clear(): number {
    const b = this.#bytes;
    this.#segs = [];
    this.#head = 0;
    this.#bytes = 0;
    return b;
  }
}
