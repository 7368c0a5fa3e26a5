import type { At } from '../core/types.js';
import type { AnalyzerContext } from './analyzer.js';

/**
 * Forwards a session's framer anomalies to the context: `bare_lf` is renamed to the protocol's
 * own code (e.g. `pop3_bare_lf`) and reported once per session, whichever side or framer saw it
 * first; every other code passes through unchanged.
 */
export class FramerAnomalies {
  readonly #ctx: Pick<AnalyzerContext, 'anomaly'>;
  readonly #bareLfCode: string;
  #bareLfReported = false;

  constructor(ctx: Pick<AnalyzerContext, 'anomaly'>, bareLfCode: string) {
    this.#ctx = ctx;
    this.#bareLfCode = bareLfCode;
  }

  /** Reports one framer anomaly (see the class note for `bare_lf`). */
  report(code: string, detail: string, at: At): void {
    if (code === 'bare_lf') {
      if (this.#bareLfReported) return;
      this.#bareLfReported = true;
      this.#ctx.anomaly(this.#bareLfCode, detail, at);
      return;
    }
    this.#ctx.anomaly(code, detail, at);
  }
}
