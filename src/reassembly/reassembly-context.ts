import type { AnomalyReporter } from '../core/anomaly.js';
import type { At } from '../core/types.js';
import type { Limits } from '../core/limits.js';

/** Something holding bytes under maxBufferedBytesTotal that can hand them on to make room. */
export interface BufferHolder {
  readonly bufferedBytes: number;
  flushBuffered(): void;
}

/**
 * State shared by every half-stream of one reassembler: limits, the anomaly reporter, the
 * counters behind `TcpReassembler.stats`, and the total of buffered out-of-order bytes.
 */
export class ReassemblyContext {
  readonly limits: Limits;
  readonly #report: AnomalyReporter;
  gaps = 0;
  gapBytes = 0;
  conflictingOverlaps = 0;
  retransmissions = 0;
  /** Out-of-order bytes buffered over all connections. */
  bufferedTotal = 0;
  /**
   * Half-streams whose out-of-order buffer is not empty, and connections holding bytes for the
   * order of their two directions (insertion order: deterministic).
   */
  readonly buffering = new Set<BufferHolder>();

  constructor(limits: Limits, report: AnomalyReporter) {
    this.limits = limits;
    this.#report = report;
  }

  /** Reports a reassembly anomaly. */
  anomaly(code: string, connId: string, at: At, detail?: string): void {
    this.#report(detail === undefined ? { code, connId, at } : { code, detail, connId, at });
  }

  /**
   * Makes room for `need` more buffered bytes under maxBufferedBytesTotal by flushing the
   * largest other buffers (their holes become gaps). Stops when nothing else is buffered;
   * the requester then enforces the rest on itself.
   */
  relieveTotal(requester: BufferHolder, need: number): void {
    const limit = this.limits.maxBufferedBytesTotal;
    while (this.bufferedTotal + need > limit) {
      let largest: BufferHolder | null = null;
      let max = 0;
      for (const h of this.buffering) {
        const b = h.bufferedBytes;
        if (h !== requester && b > max) {
          max = b;
          largest = h;
        }
      }
      if (largest === null) return;
      largest.flushBuffered();
    }
  }
}
