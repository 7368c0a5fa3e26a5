import { tsDiff, type At, type Side } from '../core/types.js';
import type { Connection } from './connection.js';
import type { ReassemblyContext } from './reassembly-context.js';
import { RetainedBytes } from './retained-bytes.js';
import { SegmentBuffer } from './segment-buffer.js';
import { MAX_SEQ_WINDOW, seqAdd, seqDiff } from './sequence.js';

/** Why a hole was declared a gap (anomaly detail). */
export type GapCause =
  | 'acked'
  | 'fin'
  | 'rst'
  | 'idle_timeout'
  | 'end_of_capture'
  | 'evicted'
  | 'buffer_overflow'
  | 'snaplen';

const EMPTY = new Uint8Array(0);

/**
 * Mid-stream start: when the peer had already ACKed up to A and the first data seen starts at
 * S with 0 < S - A ≤ this, the stream is taken to start at A (the bytes in between were in
 * flight and may still arrive reordered, or become a gap).
 */
const MIDSTREAM_ACK_SLACK = 1 << 18;

/**
 * Capture seconds an "ACK above hole" waits before its hole becomes a gap, unless this side sends
 * data beyond the hole first (see onPeerAck).
 */
const ACK_HOLE_GRACE_SECONDS = 1;

/**
 * One direction of a connection: turns segments (any order, duplicated, overlapping) into
 * in-order `onData` / `onGap` / `onSideEnd('fin')` calls on the connection's handler.
 *
 * Positions are absolute stream offsets (JS numbers): offset 0 is the first byte after the SYN
 * (ISN + 1) or, mid-stream, the first byte seen. Sequence numbers are converted once on entry
 * with mod-2^32 arithmetic, so the 2^32 wrap needs no special case afterwards.
 *
 * Policy (README.md): first-seen bytes win; in-order data is delivered as the borrowed view it
 * arrived in; only out-of-order data is copied, bounded by the buffer limits.
 */
export class HalfStream {
  readonly side: Side;
  readonly #conn: Connection;
  readonly #ctx: ReassemblyContext;

  /** Start of the stream is known (SYN, or first data/FIN seen). */
  initialized = false;
  /** A SYN was seen for this direction; `isn` holds its sequence number. */
  sawSyn = false;
  isn = 0;
  /** Sequence number of stream offset 0. */
  base = 0;
  /** Next stream offset to deliver, and its sequence number. */
  nextOff = 0;
  nextSeq = 0;
  /** A FIN was accepted for this direction, at stream offset `finOff`. */
  finSeen = false;
  finOff = -1;
  finAt: At | null = null;
  /** onSideEnd('fin') was called (or is owed by nobody: ignored connection). */
  finDelivered = false;

  /** Highest ACK the peer sent before this side was initialised (-1: none). */
  #peerAck = -1;
  /**
   * Stream offset up to which the peer acknowledged bytes the capture has not shown yet (at most
   * nextOff when there is no such hole), and the ACK that opened the hole.
   */
  #ackHole = -1;
  #ackHoleAt: At | null = null;
  #buffer: SegmentBuffer | null = null;
  #retained: RetainedBytes | null = null;
  #truncatedReported = false;
  #afterFinReported = false;

  constructor(side: Side, conn: Connection, ctx: ReassemblyContext) {
    this.side = side;
    this.#conn = conn;
    this.#ctx = ctx;
  }

  /** Out-of-order bytes held for this direction. */
  get bufferedBytes(): number {
    return this.#buffer === null ? 0 : this.#buffer.bytes;
  }

  /** A SYN (or SYN-ACK) from this side: the stream starts at ISN + 1 (RFC 9293 §3.4). */
  initFromSyn(seq: number): void {
    if (this.initialized) return;
    this.sawSyn = true;
    this.isn = seq;
    this.#start(seqAdd(seq, 1));
  }

  /** Records that this side's SYN was seen after its data (capture started mid-stream). */
  noteLateSyn(seq: number): void {
    this.sawSyn = true;
    this.isn = seq;
  }

  #start(base: number): void {
    this.initialized = true;
    this.base = base;
    this.nextOff = 0;
    this.nextSeq = base;
  }

  #setNext(off: number): void {
    this.nextOff = off;
    this.nextSeq = seqAdd(this.base, off);
  }

  /**
   * An ACK from the peer for this direction. When the peer acknowledges bytes the capture has not
   * shown, they will not be retransmitted ("ack above hole", as Zeek calls it). They may still be
   * in the capture, later: when the two directions were captured apart (a tap's two ports merged
   * by timestamp), an ACK can come before the data it acknowledges. So the hole becomes a gap
   * only once this side has sent data beyond it (each direction keeps its own order), once
   * ACK_HOLE_GRACE_SECONDS of capture time have passed since the first such ACK (checked at the
   * peer's next ACK above the hole), or when the connection ends. Zeek declares the gap at once,
   * and loses the bytes that arrive after the ACK.
   */
  onPeerAck(ack: number, at: At): void {
    if (!this.initialized) {
      if (this.#peerAck < 0 || seqDiff(ack, this.#peerAck) > 0) this.#peerAck = ack;
      return;
    }
    if (this.finDelivered) return;
    const d = seqDiff(ack, this.nextSeq);
    if (d <= 0 || d > MAX_SEQ_WINDOW) return;
    let target = this.nextOff + d;
    // RFC 9293 §3.4: the FIN occupies one sequence number; the gap stops before it.
    if (this.finSeen && target > this.finOff) target = this.finOff;
    if (target <= this.nextOff) return;
    if (this.#ackHole <= this.nextOff || this.#ackHoleAt === null) this.#ackHoleAt = at;
    if (target > this.#ackHole) this.#ackHole = target;
    // Data of this side already buffered beyond the hole was sent after the hole's bytes: lost.
    const buf = this.#buffer;
    if ((buf !== null && buf.count > 0) || tsDiff(this.#ackHoleAt.ts, at.ts) >= ACK_HOLE_GRACE_SECONDS) this.#closeAckHole(this.#ackHole);
  }

  /** Declares the acknowledged hole a gap up to `to` (at most the hole's end), with the opening ACK's frame. */
  #closeAckHole(to: number): void {
    const at = this.#ackHoleAt as At;
    if (to >= this.#ackHole) {
      to = this.#ackHole;
      this.#ackHole = -1;
      this.#ackHoleAt = null;
    }
    if (to > this.nextOff) this.#skipTo(to, 'acked', at);
    this.#drain();
  }

  /**
   * The stream offset an ACK number from the peer stands for (bytes before it were received by
   * the peer), or -1 when this side's start is unknown or the ACK is far outside the stream.
   */
  offsetOfAck(ack: number): number {
    if (!this.initialized) return -1;
    const d = seqDiff(ack, this.nextSeq);
    if (d > MAX_SEQ_WINDOW || d < -MAX_SEQ_WINDOW) return -1;
    const off = this.nextOff + d;
    return off > 0 ? off : -1;
  }

  /** Whether an ACK number from the peer needs `onPeerAck` (cheap test for the hot path). */
  ackMatters(ack: number): boolean {
    if (!this.initialized) return true;
    return !this.finDelivered && seqDiff(ack, this.nextSeq) > 0;
  }

  /**
   * A segment from this side. `seq` is the sequence number of the first payload byte (after the
   * SYN, if any); `payload` is borrowed; `missing` bytes followed it but were cut by the snaplen.
   * `need` is the peer's stream offset the segment's ACK acknowledges (-1: none or unknown; see
   * DirectionOrder and `offsetOfAck`, called on the peer).
   */
  segment(seq: number, payload: Uint8Array, missing: number, fin: boolean, at: At, need: number): void {
    if (!this.initialized) {
      if (payload.length === 0 && missing === 0 && !fin) return;
      let base = seq;
      if (this.#peerAck >= 0) {
        const d = seqDiff(seq, this.#peerAck);
        if (d > 0 && d <= MIDSTREAM_ACK_SLACK) base = this.#peerAck;
      }
      this.#start(base);
    }
    const d = seqDiff(seq, this.nextSeq);
    if (d > MAX_SEQ_WINDOW) {
      this.#ctx.anomaly(
        'tcp_segment_out_of_window',
        this.#conn.info.id,
        at,
        `${this.side}: segment ${d} bytes ahead of the expected sequence number`,
      );
      return;
    }
    const start = this.nextOff + d;
    const end = start + payload.length + missing;
    if (this.#ackHole > this.nextOff && start > this.nextOff) {
      // Data beyond an acknowledged hole: in this direction's order, the hole's bytes are lost.
      this.#closeAckHole(start);
      if (this.#conn.ignored) return;
    }
    if (fin) this.#noteFin(end, at);
    if (end > this.nextOff) {
      this.#accept(start, payload, missing, at, true, need);
    } else if (end > start) {
      // Fully already delivered: a retransmission. Dropped, but checked against what was delivered.
      this.#ctx.retransmissions++;
      // RFC 9293 §3.8.4 (RFC 1122 §4.2.3.6): a keep-alive may carry one garbage octet at
      // SND.NXT - 1; it is not evidence of conflicting data, so it is not compared.
      const keepAlive = payload.length === 1 && end === this.nextOff;
      if (this.#retained !== null && payload.length > 0 && !keepAlive) {
        const n = this.#retained.countDifferences(payload, start);
        if (n > 0) this.#conflict(n, start, at);
      }
    }
    this.#drain();
  }

  #noteFin(end: number, at: At): void {
    if (this.finSeen || end < this.nextOff) return;
    this.finSeen = true;
    this.finOff = end;
    this.finAt = at;
    const buf = this.#buffer;
    if (buf !== null && buf.end > end) {
      this.#dropBuffered(buf.truncateFrom(end), buf);
      this.#reportAfterFin(at);
    }
  }

  #reportAfterFin(at: At): void {
    if (this.#afterFinReported) return;
    this.#afterFinReported = true;
    this.#ctx.anomaly('tcp_data_after_fin', this.#conn.info.id, at, `${this.side}: data beyond the FIN dropped`);
  }

  #conflict(n: number, off: number, at: At): void {
    this.#ctx.conflictingOverlaps++;
    this.#ctx.anomaly(
      'tcp_conflicting_overlap',
      this.#conn.info.id,
      at,
      `${this.side}: ${n} byte(s) at stream offset ${off} differ from the first-seen data (first-seen kept)`,
    );
  }

  /** Data reaching past nextOff: trim what was delivered, then deliver or buffer. */
  #accept(start: number, payload: Uint8Array, missing: number, at: At, compare: boolean, need: number): void {
    let len = payload.length;
    if (start < this.nextOff) {
      const cut = this.nextOff - start;
      if (compare && len > 0 && this.#retained !== null) {
        const n = this.#retained.countDifferences(payload, start);
        if (n > 0) this.#conflict(n, start, at);
      }
      if (cut >= len) {
        missing -= cut - len;
        payload = EMPTY;
        len = 0;
      } else {
        payload = payload.subarray(cut);
        len -= cut;
      }
      start = this.nextOff;
    }
    if (this.finSeen && start + len + missing > this.finOff) {
      const keep = this.finOff - start;
      this.#reportAfterFin(at);
      if (keep <= 0) return;
      if (keep < len) {
        payload = payload.subarray(0, keep);
        len = keep;
        missing = 0;
      } else {
        missing = keep - len;
      }
    }
    const buf = this.#buffer;
    if (buf !== null && buf.count > 0) {
      if (compare && len > 0) {
        const n = buf.countDifferences(payload, start);
        if (n > 0) this.#conflict(n, start, at);
      }
      if (start === this.nextOff) this.#deliverInterleaved(start, payload, missing, at, buf, need);
      else this.#bufferAhead(start, payload, missing, at, need);
      return;
    }
    if (start === this.nextOff) {
      // Hot path: in order, nothing buffered. The borrowed view goes straight to the handler.
      this.#deliver(payload, at, need);
      if (missing > 0 && !this.#conn.ignored) this.#gap(missing, 'snaplen', at);
      return;
    }
    this.#bufferAhead(start, payload, missing, at, need);
  }

  /**
   * In-order segment while out-of-order segments are buffered: deliver its bytes up to each
   * buffered segment, then the buffered segment (seen first, so it wins), and so on.
   */
  #deliverInterleaved(start: number, payload: Uint8Array, missing: number, at: At, buf: SegmentBuffer, need: number): void {
    const len = payload.length;
    const total = len + missing;
    for (;;) {
      if (this.#conn.ignored) return;
      const first = buf.peek();
      if (first !== undefined && first.start <= this.nextOff) {
        this.#deliverHead(buf);
        continue;
      }
      const idx = this.nextOff - start;
      if (idx >= total) return;
      const limit = first !== undefined ? Math.min(total, first.start - start) : total;
      if (idx < len) {
        const stop = Math.min(len, limit);
        this.#deliver(idx === 0 && stop === len ? payload : payload.subarray(idx, stop), at, need);
      } else {
        this.#gap(limit - idx, 'snaplen', at);
      }
    }
  }

  /** Copies the not-yet-buffered parts of a future segment, within the buffer limits. */
  #bufferAhead(start: number, payload: Uint8Array, missing: number, at: At, need: number): void {
    const ctx = this.#ctx;
    const lim = ctx.limits;
    let reported = false;
    for (;;) {
      let buf = this.#buffer;
      if (buf === null) buf = this.#buffer = new SegmentBuffer();
      const uncovered = buf.uncoveredBytes(start, payload.length);
      if (uncovered === 0) {
        // Everything captured here is buffered already (duplicate); keep any new snaplen-missing span.
        buf.insert(payload, start, missing, at, need);
        if (buf.count > 0) ctx.buffering.add(this);
        ctx.retransmissions++;
        return;
      }
      if (ctx.bufferedTotal + uncovered > lim.maxBufferedBytesTotal) {
        ctx.relieveTotal(this, uncovered);
        // Relief hands other buffers' data to handlers, this connection's included.
        if (this.#conn.ignored || this.#buffer !== buf) return;
      }
      const othersTotal = ctx.bufferedTotal - buf.bytes;
      const room = Math.min(lim.maxBufferedBytesPerStream - this.#conn.order.heldBytes(this.side), lim.maxBufferedBytesTotal - othersTotal);
      if (buf.bytes + uncovered <= room) {
        ctx.bufferedTotal += buf.insert(payload, start, missing, at, need);
        ctx.buffering.add(this);
        return;
      }
      // Over a limit: declare the first hole a gap and deliver what follows it; repeat until
      // the segment fits or has become in-order. Memory never exceeds the limits.
      if (!reported) {
        reported = true;
        const perStream = buf.bytes + uncovered > lim.maxBufferedBytesPerStream - this.#conn.order.heldBytes(this.side);
        ctx.anomaly(
          perStream ? 'tcp_buffer_overflow' : 'tcp_total_buffer_overflow',
          this.#conn.info.id,
          at,
          `${this.side}: ${buf.bytes} byte(s) buffered, ${uncovered} more would exceed the ${perStream ? 'per-stream' : 'total'} limit`,
        );
      }
      const first = buf.peek();
      const target = first !== undefined && first.start < start ? first.start : start;
      this.#gap(target - this.nextOff, 'buffer_overflow', at);
      this.#drain();
      if (this.#conn.ignored || this.finDelivered) return;
      if (this.nextOff >= start) {
        this.#accept(start, payload, missing, at, false, need);
        return;
      }
    }
  }

  /** Delivers the earliest buffered segment (it starts at or before nextOff). */
  #deliverHead(buf: SegmentBuffer): void {
    const s = buf.shift();
    if (s === undefined) return;
    this.#ctx.bufferedTotal -= s.data.length;
    if (buf.count === 0) this.#ctx.buffering.delete(this);
    const skip = this.nextOff - s.start;
    const dlen = s.data.length;
    if (skip < dlen) this.#deliver(skip <= 0 ? s.data : s.data.subarray(skip), s.at, s.need);
    if (this.#conn.ignored) return;
    const end = s.start + dlen + s.missing;
    if (end > this.nextOff) this.#gap(end - this.nextOff, 'snaplen', s.at);
  }

  #deliver(bytes: Uint8Array, at: At, need: number): void {
    const n = bytes.length;
    if (n === 0) return;
    const off = this.nextOff;
    this.#setNext(off + n);
    let r = this.#retained;
    if (r === null) {
      const cap = this.#ctx.limits.maxRetainedBytesPerStream;
      if (cap > 0) r = this.#retained = new RetainedBytes(cap);
    }
    if (r !== null) r.record(bytes, off);
    this.#conn.order.data(this.side, bytes, at, need, off + n);
  }

  #gap(len: number, cause: GapCause, at: At): void {
    if (len <= 0) return;
    const ctx = this.#ctx;
    ctx.gaps++;
    ctx.gapBytes += len;
    this.#setNext(this.nextOff + len);
    if (this.#retained !== null) this.#retained.reset();
    if (cause !== 'snaplen') {
      ctx.anomaly('tcp_content_gap', this.#conn.info.id, at, `${this.side}: ${len} byte(s) missing (${cause})`);
    } else if (!this.#truncatedReported) {
      this.#truncatedReported = true;
      ctx.anomaly('tcp_payload_truncated', this.#conn.info.id, at, `${this.side}: segment payload cut by the snaplen`);
    }
    this.#conn.order.gap(this.side, len, at, this.nextOff);
  }

  /** Advances to `target`, delivering buffered segments and declaring the holes between them gaps. */
  #skipTo(target: number, cause: GapCause, at: At): void {
    const buf = this.#buffer;
    while (this.nextOff < target && !this.#conn.ignored) {
      const first = buf === null ? undefined : buf.peek();
      if (first !== undefined && first.start <= this.nextOff) {
        this.#deliverHead(buf as SegmentBuffer);
        continue;
      }
      const holeEnd = first !== undefined && first.start < target ? first.start : target;
      this.#gap(holeEnd - this.nextOff, cause, at);
    }
  }

  /** Delivers buffered segments that became in order, then the FIN once reached. */
  #drain(): void {
    const buf = this.#buffer;
    if (buf !== null) {
      while (!this.#conn.ignored) {
        const first = buf.peek();
        if (first === undefined || first.start > this.nextOff) break;
        this.#deliverHead(buf);
      }
    }
    if (this.finSeen && !this.finDelivered && this.nextOff >= this.finOff && !this.#conn.ignored) {
      this.finDelivered = true;
      // RFC 9293 §3.4: the FIN occupies one sequence number.
      this.#setNext(this.finOff + 1);
      this.#conn.order.end(this.side, this.finAt as At);
    }
  }

  /**
   * Total-buffer relief: delivers everything buffered, declaring the holes gaps
   * (`tcp_total_buffer_overflow`). Gaps carry the frame of the first buffered segment.
   */
  flushBuffered(): void {
    const buf = this.#buffer;
    const first = buf === null ? undefined : buf.peek();
    if (buf === null || first === undefined) return;
    this.#ctx.anomaly(
      'tcp_total_buffer_overflow',
      this.#conn.info.id,
      first.at,
      `${this.side}: ${buf.bytes} buffered byte(s) flushed to make room`,
    );
    this.#skipTo(buf.end, 'buffer_overflow', first.at);
    this.#drain();
    if (this.#conn.ignored) this.release();
  }

  /**
   * The connection is ending: deliver what is buffered, declare the remaining holes (up to the
   * FIN when one was seen) gaps, deliver the FIN, and free the buffers.
   */
  finish(cause: GapCause, at: At): void {
    if (this.initialized && !this.#conn.ignored) {
      // An acknowledged hole still open is a gap of its own cause, at the ACK's frame.
      if (this.#ackHole > this.nextOff) this.#closeAckHole(this.#ackHole);
      const buf = this.#buffer;
      let target = buf === null ? -1 : buf.end;
      if (this.finSeen && !this.finDelivered && this.finOff > target) target = this.finOff;
      if (target > this.nextOff) this.#skipTo(target, cause, at);
      this.#drain();
    }
    this.release();
  }

  /** Frees buffered and retained bytes (connection ignored or over). */
  release(): void {
    this.#ackHole = -1;
    this.#ackHoleAt = null;
    const buf = this.#buffer;
    if (buf !== null) {
      this.#dropBuffered(buf.clear(), buf);
      this.#buffer = null;
    }
    if (this.#retained !== null) {
      this.#retained.release();
      this.#retained = null;
    }
  }

  #dropBuffered(bytes: number, buf: SegmentBuffer): void {
    this.#ctx.bufferedTotal -= bytes;
    if (buf.count === 0) this.#ctx.buffering.delete(this);
  }
}
