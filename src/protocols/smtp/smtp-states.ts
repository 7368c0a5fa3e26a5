/**
 * The SMTP session state machine (Zeek's SMTP_State / UpdateState as data).
 *
 * States move optimistically on commands (a pipelining client sends MAIL, RCPT and DATA before
 * any reply) and are corrected by replies. The analyzer owns framing (lines / body / encrypted)
 * and transaction records; this module only decides the protocol phase and names sequence errors.
 */

/** One state per phase, each documented by its entry condition. */
export type SmtpState =
  /** TCP open, no greeting seen yet. */
  | 'connected'
  /** 220 greeting seen, no HELO/EHLO accepted yet. */
  | 'greeted'
  /** HELO/EHLO/LHLO accepted (2xx), or a transaction ended (final reply, RSET): no transaction open. */
  | 'ready'
  /** AUTH sent; until its final (non-334) reply. */
  | 'auth'
  /** MAIL sent (and not refused): RCPT expected. */
  | 'mail'
  /** RCPT sent after MAIL: more RCPT, DATA or BDAT expected. */
  | 'rcpt'
  /** DATA sent: 354 expected, then the body until CRLF.CRLF. */
  | 'data'
  /** BDAT without LAST sent: more chunks expected. */
  | 'bdat'
  /** End of data seen (CRLF.CRLF or BDAT LAST): the final reply is expected. */
  | 'after_data'
  /**
   * STARTTLS accepted (220): the rest is encrypted. Terminal on the wire; when the TLS layer is
   * decrypted, a `tls_restart` event starts the protocol over inside TLS.
   */
  | 'tls'
  /** QUIT sent. */
  | 'quit'
  /** Bytes were lost (gap) or the capture started mid-session: phase unknown until a reply. */
  | 'after_gap';

/** What drives a transition. `verb` is the upper-case command the reply answers (null: none). */
export type SmtpEvent =
  | { readonly kind: 'command'; readonly verb: string; readonly last?: boolean }
  | {
      readonly kind: 'reply';
      readonly verb: string | null;
      readonly code: number;
      readonly last?: boolean;
      /**
       * The phase of a mail transaction the server still holds after a refusal (a refused DATA or
       * a refused nested MAIL leaves the open transaction in place, RFC 5321 §4.1.4 / §3.3).
       * Set by the analyzer, which knows the earlier replies; absent when no transaction stays open.
       */
      readonly held?: 'mail' | 'rcpt';
    }
  | { readonly kind: 'body_end' }
  | { readonly kind: 'gap' }
  /** Decrypted bytes follow the accepted STARTTLS: the dialogue restarts inside TLS. */
  | { readonly kind: 'tls_restart' };

/** Result of one transition: the next state and an anomaly code when the sequence was invalid. */
export interface SmtpStep {
  readonly state: SmtpState;
  readonly anomaly: string | null;
}

const IN_TRANSACTION: ReadonlySet<SmtpState> = new Set<SmtpState>(['mail', 'rcpt', 'data', 'bdat', 'after_data']);
/** States where the phase is not known well enough to call a sequence wrong. */
const UNCERTAIN: ReadonlySet<SmtpState> = new Set<SmtpState>(['after_gap', 'connected']);

function step(state: SmtpState, anomaly: string | null = null): SmtpStep {
  return { state, anomaly };
}

function onCommand(state: SmtpState, verb: string, last: boolean): SmtpStep {
  if (state === 'tls') return step('tls');
  const sure = !UNCERTAIN.has(state);
  switch (verb) {
    case 'HELO':
    case 'EHLO':
    case 'LHLO':
      // RFC 5321 §4.1.4: only an accepted HELO/EHLO resets the state: the reply decides.
      return step(state);
    case 'MAIL':
    case 'SEND':
    case 'SOML':
    case 'SAML':
      // RFC 5321 §4.1.4: MAIL inside a transaction is a sequence error (Zeek smtp_nested_mail_transaction).
      return step('mail', sure && IN_TRANSACTION.has(state) && state !== 'after_data' ? 'smtp_nested_mail_transaction' : null);
    case 'RCPT':
      return step('rcpt', sure && state !== 'mail' && state !== 'rcpt' ? 'smtp_rcpt_without_mail' : null);
    case 'DATA':
      return step('data', sure && state !== 'rcpt' ? 'smtp_data_without_rcpt' : null);
    case 'BDAT':
      return step(last ? 'after_data' : 'bdat', sure && state !== 'rcpt' && state !== 'bdat' ? 'smtp_data_without_rcpt' : null);
    case 'RSET':
      return step('ready');
    case 'AUTH':
      return step('auth', sure && IN_TRANSACTION.has(state) ? 'smtp_auth_in_transaction' : null);
    case 'QUIT':
      return step('quit');
    default:
      return step(state);
  }
}

function onReply(state: SmtpState, verb: string | null, code: number, last: boolean, held: 'mail' | 'rcpt' | undefined): SmtpStep {
  if (state === 'tls') return step('tls');
  const ok = code >= 200 && code < 300;
  if (verb === null) {
    // The greeting, or a reply we cannot match.
    if (state === 'connected') return step(code === 220 ? 'greeted' : 'connected');
    if (state === 'after_gap') return step('ready');
    return step(state);
  }
  switch (verb) {
    case 'HELO':
    case 'EHLO':
    case 'LHLO':
      return step(ok ? 'ready' : state === 'connected' ? 'greeted' : state);
    case 'MAIL':
    case 'SEND':
    case 'SOML':
    case 'SAML':
      // A refused nested MAIL ("503 sender already given") leaves the open transaction as it was.
      if (!ok && held !== undefined) return step(held);
      return step(ok ? state : state === 'mail' ? 'ready' : state);
    case 'DATA':
      if (code === 354) return step(state === 'after_data' ? 'after_data' : 'data');
      // RFC 5321 §3.3: a DATA refused before any body keeps the server's transaction (MAIL, RCPTs).
      if (held !== undefined) return step(held);
      // A final reply ends the transaction (accepted, body rejected, or DATA refused with no transaction).
      return step('ready');
    case 'BDAT':
      return step(last || !ok ? 'ready' : state);
    case 'RSET':
      return step('ready');
    case 'AUTH':
      return step(code === 334 ? 'auth' : state === 'auth' ? 'ready' : state);
    case 'STARTTLS':
      // RFC 3207 §4: 220 = go ahead with the TLS negotiation.
      return step(code === 220 ? 'tls' : state);
    case 'QUIT':
      return step('quit');
    default:
      return step(state === 'after_gap' ? 'ready' : state);
  }
}

/**
 * The one transition function. Pure: the analyzer calls it for every command, reply,
 * end of body and gap, stores the returned state and reports the anomaly if any.
 */
export function smtpTransition(state: SmtpState, ev: SmtpEvent): SmtpStep {
  switch (ev.kind) {
    case 'command':
      return onCommand(state, ev.verb, ev.last === true);
    case 'reply':
      return onReply(state, ev.verb, ev.code, ev.last === true, ev.held);
    case 'body_end':
      return step(state === 'tls' ? 'tls' : 'after_data');
    case 'gap':
      return step(state === 'tls' ? 'tls' : 'after_gap');
    case 'tls_restart':
      // RFC 3207 §4.2: the server sends no new greeting; the client must start again with EHLO,
      // and everything known before TLS (except history) is discarded.
      return step('greeted');
  }
}
