import type { At, Side } from '../core/types.js';
import type { AnalyzerContext } from './analyzer.js';

/** Characters of the first unparsed line kept as the sample of an 'unparsed' transcript entry. */
export const UNPARSED_SAMPLE_CHARS = 200;

interface Run {
  bytes: number;
  sample: string;
  first: At;
  last: At;
}

/**
 * Per-side bookkeeping of bytes that did not parse (mid-stream start, garbage, resync): consecutive
 * unparsed lines of one side are summed into a single run, which {@link flush} writes as one
 * `'unparsed'` transcript entry (the first line's sample, the byte count, first..last). One
 * instance per session; no allocation beyond one small object per run.
 */
export class UnparsedRuns {
  readonly #ctx: Pick<AnalyzerContext, 'transcript'>;
  readonly #runs: Record<Side, Run | null> = { client: null, server: null };

  constructor(ctx: Pick<AnalyzerContext, 'transcript'>) {
    this.#ctx = ctx;
  }

  /** Counts `bytes` more unparsed bytes on `side`; `line` becomes the sample when it starts a run. */
  add(side: Side, bytes: number, line: string, first: At, last: At): void {
    const cur = this.#runs[side];
    if (cur !== null) {
      cur.bytes += bytes;
      cur.last = last;
      return;
    }
    this.#runs[side] = { bytes, sample: line.slice(0, UNPARSED_SAMPLE_CHARS), first, last };
  }

  /** True while `side` has a run not yet written. */
  open(side: Side): boolean {
    return this.#runs[side] !== null;
  }

  /** Writes the open run of `side`, if any, as one 'unparsed' transcript entry and closes it. */
  flush(side: Side): void {
    const u = this.#runs[side];
    if (u === null) return;
    this.#runs[side] = null;
    this.#ctx.transcript({ side, kind: 'unparsed', lines: [u.sample], bytes: u.bytes }, u.first, u.last);
  }
}
