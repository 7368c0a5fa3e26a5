import type { AnomalyReporter } from '../core/anomaly.js';
import type { Timestamp } from '../core/types.js';

/** A datagram rebuilt from fragments (owned bytes: the IP payload after the fragmented header). */
export interface ReassembledDatagram {
  readonly ipVersion: 4 | 6;
  /** Transport protocol (IPv4 protocol / IPv6 next header after the Fragment header). */
  readonly protocol: number;
  readonly src: string;
  readonly dst: string;
  readonly data: Uint8Array;
}

interface Piece {
  readonly off: number;
  readonly data: Uint8Array;
}

interface Pending {
  readonly key: string;
  readonly ipVersion: 4 | 6;
  readonly protocol: number;
  readonly src: string;
  readonly dst: string;
  readonly firstTs: Timestamp;
  readonly firstFrame: number;
  readonly pieces: Piece[];
  /** Length of the whole payload, known once the last fragment (MF=0) arrived; -1 before. */
  totalLen: number;
  bytes: number;
}

/** Largest IP payload a fragmented datagram can describe (16-bit length field). */
const MAX_DATAGRAM = 65535;

/** One fragment handed to the defragmenter; `data` is borrowed (copied when kept). */
export interface FragmentInput {
  readonly frame: number;
  readonly ts: Timestamp;
  readonly ipVersion: 4 | 6;
  /** Datagram identity without the version: src, dst, [protocol], identification. */
  readonly key: string;
  readonly protocol: number;
  readonly src: string;
  readonly dst: string;
  /** Byte offset of this fragment in the datagram payload. */
  readonly offset: number;
  readonly moreFragments: boolean;
  readonly data: Uint8Array;
  /** Bytes of this fragment the capture did not hold (snaplen). */
  readonly missing: number;
}

/**
 * IPv4 (RFC 791 §3.2) and IPv6 (RFC 8200 §4.5) fragment reassembly with bounded memory:
 * at most `maxBytes` of fragment data over all datagrams (oldest dropped first:
 * `ip_fragment_buffer_full`), incomplete datagrams expire after `timeoutSeconds` of capture
 * time (`ip_fragment_timeout`). Overlaps: IPv4 keeps the bytes that arrived first
 * (`ip_fragment_overlap`); IPv6 discards the datagram (RFC 5722 §4). Exact duplicates are ignored.
 */
export class IpDefragmenter {
  private readonly pending = new Map<string, Pending>();
  private totalBytes = 0;

  constructor(
    private readonly report: AnomalyReporter,
    private readonly maxBytes: number,
    private readonly timeoutSeconds: number,
  ) {}

  /** Bytes currently buffered. */
  get bufferedBytes(): number {
    return this.totalBytes;
  }

  /** Datagrams waiting for fragments. */
  get pendingCount(): number {
    return this.pending.size;
  }

  /** Adds a fragment; returns the datagram when this fragment completed it. */
  add(f: FragmentInput): ReassembledDatagram | null {
    this.flushExpired(f.ts);
    const at = { frame: f.frame, ts: f.ts };
    const key = f.key;
    let p = this.pending.get(key);
    const len = f.data.length;
    const end = f.offset + len + f.missing;
    if (f.missing > 0) {
      this.report({ code: 'ip_fragment_truncated', detail: `fragment at offset ${f.offset} cut by the snaplen; datagram dropped`, at });
      if (p) this.drop(p);
      return null;
    }
    if (end > MAX_DATAGRAM) {
      this.report({ code: 'ip_fragment_too_large', detail: `fragment ends at ${end} > ${MAX_DATAGRAM}; datagram dropped`, at });
      if (p) this.drop(p);
      return null;
    }
    if (f.moreFragments && (len & 7) !== 0) {
      // RFC 791 / RFC 8200 §4.5: every fragment but the last is a multiple of 8 bytes.
      this.report({ code: 'ip_fragment_bad_length', detail: `non-final fragment of ${len} bytes (not a multiple of 8); ignored`, at });
      return null;
    }
    if (len > this.maxBytes) {
      this.report({ code: 'ip_fragment_buffer_full', detail: `fragment of ${len} bytes exceeds maxFragmentBytes ${this.maxBytes}`, at });
      if (p) this.drop(p);
      return null;
    }
    if (!p) {
      p = {
        key,
        ipVersion: f.ipVersion,
        protocol: f.protocol,
        src: f.src,
        dst: f.dst,
        firstTs: f.ts,
        firstFrame: f.frame,
        pieces: [],
        totalLen: -1,
        bytes: 0,
      };
      this.pending.set(key, p);
    }
    if (!f.moreFragments) {
      if (p.totalLen >= 0 && p.totalLen !== end) {
        this.report({ code: 'ip_fragment_overlap', detail: `two last fragments (lengths ${p.totalLen} and ${end}); datagram dropped`, at });
        this.drop(p);
        return null;
      }
      p.totalLen = end;
    }
    // Overlap check against what is there.
    let overlap = false;
    for (const q of p.pieces) {
      const qEnd = q.off + q.data.length;
      if (f.offset < qEnd && q.off < end) {
        if (q.off === f.offset && q.data.length === len && sameBytes(q.data, f.data)) return null; // exact duplicate
        overlap = true;
      }
      if (p.totalLen >= 0 && qEnd > p.totalLen) overlap = true;
    }
    if (overlap) {
      if (p.ipVersion === 6) {
        this.report({ code: 'ip_fragment_overlap', detail: 'overlapping IPv6 fragments; datagram dropped (RFC 5722)', at });
        this.drop(p);
        return null;
      }
      this.report({ code: 'ip_fragment_overlap', detail: `overlapping fragment at offset ${f.offset} (${len} bytes); earlier bytes kept`, at });
    }
    p.pieces.push({ off: f.offset, data: f.data.slice() });
    p.bytes += len;
    this.totalBytes += len;
    while (this.totalBytes > this.maxBytes) {
      const oldest = this.pending.values().next().value as Pending;
      this.report({
        code: 'ip_fragment_buffer_full',
        detail: `maxFragmentBytes ${this.maxBytes} reached; dropped the datagram started in frame ${oldest.firstFrame}`,
        at,
      });
      this.drop(oldest);
      if (oldest === p) return null;
    }
    if (p.totalLen < 0 || !covers(p.pieces, p.totalLen)) return null;
    const out = new Uint8Array(p.totalLen);
    // Later pieces first, so that bytes that arrived first win on overlap.
    for (let i = p.pieces.length - 1; i >= 0; i--) {
      const q = p.pieces[i]!;
      const n = Math.min(q.data.length, p.totalLen - q.off);
      if (n > 0) out.set(n === q.data.length ? q.data : q.data.subarray(0, n), q.off);
    }
    this.drop(p);
    return { ipVersion: p.ipVersion, protocol: p.protocol, src: p.src, dst: p.dst, data: out };
  }

  /**
   * Drops datagrams whose first fragment is older than `timeoutSeconds` before `now`.
   * Walks in arrival order and stops at the first one still young (capture time is taken as
   * roughly monotonic), so calling it per packet is cheap.
   */
  flushExpired(now: Timestamp): void {
    if (this.pending.size === 0) return;
    for (const p of this.pending.values()) {
      const age = now.sec - p.firstTs.sec + (now.nsec - p.firstTs.nsec) / 1e9;
      if (age <= this.timeoutSeconds) break;
      this.report({
        code: 'ip_fragment_timeout',
        detail: `incomplete datagram from frame ${p.firstFrame} (${p.pieces.length} fragments, ${p.bytes} bytes) expired`,
        at: { frame: p.firstFrame, ts: p.firstTs },
      });
      this.drop(p);
    }
  }

  private drop(p: Pending): void {
    if (this.pending.get(p.key) === p) {
      this.pending.delete(p.key);
      this.totalBytes -= p.bytes;
    }
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** True when the pieces cover [0, total) without a hole. */
function covers(pieces: readonly Piece[], total: number): boolean {
  const sorted = pieces.slice().sort((a, b) => a.off - b.off);
  let reached = 0;
  for (const q of sorted) {
    if (q.off > reached) return false;
    const e = q.off + q.data.length;
    if (e > reached) reached = e;
    if (reached >= total) return true;
  }
  return reached >= total;
}
