import type { At, Side } from '../core/types.js';
import type { AnalyzerContext } from './analyzer.js';
import type { UnparsedRuns } from './unparsed-runs.js';

/**
 * A session the capture joined mid-stream, as the line protocols see it: `<proto>_midstream` is
 * reported once per session, whichever side or cause notices it first. Lines that do not parse
 * while resynchronising are counted into the side's unparsed run; they count as a mid-stream
 * start only when no TCP handshake was seen (after one, they are garbage inside the session).
 */
export class MidstreamNotes {
  readonly #ctx: Pick<AnalyzerContext, 'anomaly' | 'conn'>;
  readonly #unparsed: UnparsedRuns;
  readonly #code: string;
  #reported = false;

  constructor(ctx: Pick<AnalyzerContext, 'anomaly' | 'conn'>, unparsed: UnparsedRuns, code: string) {
    this.#ctx = ctx;
    this.#unparsed = unparsed;
    this.#code = code;
  }

  /** Reports the mid-stream start (once per session). */
  note(detail: string, at: At): void {
    if (this.#reported) return;
    this.#reported = true;
    this.#ctx.anomaly(this.#code, detail, at);
  }

  /**
   * A line of `side` (`bytes` long without its CRLF) that does not parse while resynchronising:
   * counted as unparsed, and noted as a mid-stream start unless the handshake was seen.
   */
  unparsedLine(side: Side, line: string, bytes: number, first: At, last: At, detail: string): void {
    this.#unparsed.add(side, bytes + 2, line, first, last);
    if (!this.#ctx.conn.sawHandshake) this.note(detail, first);
  }
}
