import type { At } from '../../core/types.js';
import type { AnalyzerContext } from '../analyzer.js';
import type { SaslExchange } from './sasl-exchange.js';

/** One finished SASL attempt as an analyzer tracked it (its AUTH / AUTHENTICATE command and exchange). */
export interface SaslAttempt {
  /** The decoder, or null when it was dropped after an error. */
  readonly exchange: SaslExchange | null;
  /** Mechanism as named on the command line; the exchange's own name wins when it has one. */
  readonly mechanism: string;
  /** Where the command's first byte arrived. */
  readonly first: At;
  /** The client cancelled with "*" (RFC 4422 §3.5), as seen by the analyzer. */
  readonly cancelled: boolean;
}

/** How the attempt ended, in the protocol's own terms already mapped to a credential outcome. */
export interface SaslEnding {
  outcome: 'success' | 'failure' | 'unknown';
  /** The final reply's text, or null when none was seen. */
  reply: string | null;
  /** Where the final reply completed (the credential's last point). */
  last: At;
}

/** Protocol-specific names used while reporting a SASL credential. */
export interface SaslNaming {
  /** Command verb used in anomaly details: "AUTH" (SMTP, POP3) or "AUTHENTICATE" (IMAP, ManageSieve). */
  command: string;
  /** Anomaly code when the decoder throws, e.g. `smtp_sasl_error`. */
  errorCode: string;
}

/**
 * Turns a finished SASL attempt into one credential: reads the exchange's result (mechanism,
 * username, authzid, secret, hashcat line, detail), reports its `sasl_*` anomalies at `at` (as
 * "<command> <mechanism>"), marks `detail.cancelled` when either the analyzer or the exchange saw a
 * "*" cancel, and calls `ctx.credential(..., attempt.first, ending.last)`. A throwing decoder is
 * reported as `naming.errorCode` (detail cut to 200 chars) and the credential is still written
 * with what the command line gave.
 *
 * @returns the mechanism, username and authzid written, for the analyzer's session facts.
 */
export function saslCredential(
  ctx: Pick<AnalyzerContext, 'anomaly' | 'credential'>,
  attempt: SaslAttempt,
  ending: SaslEnding,
  naming: SaslNaming,
  at: At,
): { mechanism: string; username: string | null; authzid: string | null } {
  let username: string | null = null;
  let authzid: string | null = null;
  let secret: string | null = null;
  let hashcat: { mode: number; line: string } | null = null;
  let detail: Record<string, string> = {};
  let mechanism = attempt.mechanism;
  let cancelled = attempt.cancelled;
  if (attempt.exchange !== null) {
    try {
      const r = attempt.exchange.result();
      mechanism = r.mechanism || mechanism;
      username = r.username;
      authzid = r.authzid;
      secret = r.secret;
      hashcat = r.hashcat;
      detail = { ...r.detail };
      if (r.cancelled) cancelled = true;
      for (const code of r.anomalies) ctx.anomaly(code, `${naming.command} ${mechanism}`, at);
    } catch (e) {
      ctx.anomaly(naming.errorCode, String(e).slice(0, 200), at);
    }
  }
  if (cancelled) detail.cancelled = 'true';
  ctx.credential(
    { mechanism, username, authzid, secret, hashcat, detail, outcome: ending.outcome, reply: ending.reply },
    attempt.first,
    ending.last,
  );
  return { mechanism, username, authzid };
}

/**
 * Feeds one SASL step (a challenge or a response) to an attempt's decoder. The decoder never
 * throws on wire input by contract; should it, the anomaly `errorCode` is recorded and the
 * decoder is dropped (the attempt is still reported, without decoded fields).
 */
export function saslStep(
  ctx: AnalyzerContext,
  attempt: { exchange: SaslExchange | null },
  step: (x: SaslExchange) => void,
  errorCode: string,
  at: At,
): void {
  if (attempt.exchange === null) return;
  try {
    step(attempt.exchange);
  } catch (e) {
    ctx.anomaly(errorCode, String(e).slice(0, 200), at);
    attempt.exchange = null;
  }
}
