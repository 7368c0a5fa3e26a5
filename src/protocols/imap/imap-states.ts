/**
 * The IMAP connection state machine (RFC 3501 §3, RFC 9051 §3) as data: the analyzer calls
 * {@link imapTransition} for the greeting, every command, every tagged completion, BYE and gaps,
 * and stores the state. Framing modes (literal, IDLE, AUTHENTICATE, TLS, DEFLATE) live in the analyzer.
 */

export type ImapState =
  /** TCP open, no greeting yet. */
  | 'connected'
  /** `* OK` greeting (RFC 3501 §3.1), or LOGIN/AUTHENTICATE refused. */
  | 'not_authenticated'
  /** `* PREAUTH` greeting, LOGIN/AUTHENTICATE accepted, or the selected mailbox was closed (§3.2). */
  | 'authenticated'
  /** SELECT/EXAMINE accepted (§3.3). */
  | 'selected'
  /** LOGOUT sent or BYE received (§3.4). Terminal. */
  | 'logout'
  /** STARTTLS accepted: the rest is encrypted. Terminal unless decrypted plaintext arrives (`tls-restart`). */
  | 'tls'
  /** Bytes were lost or the capture started mid-session: the state is unknown until a completion says. */
  | 'after_gap';

export type ImapEvent =
  | { readonly kind: 'greeting'; readonly status: 'OK' | 'PREAUTH' | 'BYE' }
  | { readonly kind: 'command'; readonly verb: string }
  | { readonly kind: 'completion'; readonly verb: string; readonly status: 'OK' | 'NO' | 'BAD' }
  | { readonly kind: 'bye' }
  | { readonly kind: 'gap' }
  /** Decrypted plaintext after STARTTLS begins. */
  | { readonly kind: 'tls-restart' };

export interface ImapStep {
  readonly state: ImapState;
  readonly anomaly: string | null;
}

/** Commands valid only once authenticated (RFC 3501 §6.3) or selected (§6.4). */
const NEEDS_AUTH: ReadonlySet<string> = new Set([
  'SELECT', 'EXAMINE', 'CREATE', 'DELETE', 'RENAME', 'SUBSCRIBE', 'UNSUBSCRIBE', 'LIST', 'LSUB', 'STATUS', 'APPEND', 'NAMESPACE', 'ENABLE', 'IDLE',
]);
const NEEDS_SELECTED: ReadonlySet<string> = new Set(['CHECK', 'CLOSE', 'UNSELECT', 'EXPUNGE', 'SEARCH', 'FETCH', 'STORE', 'COPY', 'MOVE', 'SORT', 'THREAD']);

function step(state: ImapState, anomaly: string | null = null): ImapStep {
  return { state, anomaly };
}

/** The one transition function (pure). */
export function imapTransition(state: ImapState, ev: ImapEvent): ImapStep {
  // RFC 3501 §6.2.1 / RFC 9051 §6.2.1: after TLS the session is still not authenticated, no new greeting.
  if (ev.kind === 'tls-restart') return step(state === 'tls' ? 'not_authenticated' : state);
  if (state === 'tls') return step('tls');
  switch (ev.kind) {
    case 'greeting':
      return step(ev.status === 'PREAUTH' ? 'authenticated' : ev.status === 'BYE' ? 'logout' : 'not_authenticated');
    case 'bye':
      return step('logout');
    case 'gap':
      return step(state === 'logout' ? 'logout' : 'after_gap');
    case 'command': {
      if (state === 'logout' && ev.verb !== 'LOGOUT') return step(state, 'imap_command_after_logout');
      if (ev.verb === 'LOGOUT') return step(state);
      const sure = state === 'not_authenticated' || state === 'authenticated';
      if (sure && state === 'not_authenticated' && (NEEDS_AUTH.has(ev.verb) || NEEDS_SELECTED.has(ev.verb))) {
        return step(state, 'imap_command_before_auth');
      }
      if (sure && state === 'authenticated' && NEEDS_SELECTED.has(ev.verb)) return step(state, 'imap_command_not_selected');
      return step(state);
    }
    case 'completion': {
      const ok = ev.status === 'OK';
      switch (ev.verb) {
        case 'LOGIN':
        case 'AUTHENTICATE':
          return step(ok ? 'authenticated' : state === 'after_gap' ? 'after_gap' : 'not_authenticated');
        case 'SELECT':
        case 'EXAMINE':
          // RFC 3501 §6.3.1: a failed SELECT leaves no mailbox selected.
          return step(ok ? 'selected' : state === 'selected' ? 'authenticated' : state);
        case 'CLOSE':
        case 'UNSELECT':
          return step(ok ? 'authenticated' : state);
        case 'UNAUTHENTICATE':
          return step(ok ? 'not_authenticated' : state);
        case 'LOGOUT':
          return step('logout');
        case 'STARTTLS':
          return step(ok ? 'tls' : state);
        default:
          if (state === 'after_gap' && ok) {
            if (NEEDS_SELECTED.has(ev.verb)) return step('selected');
            if (NEEDS_AUTH.has(ev.verb)) return step('authenticated');
          }
          return step(state);
      }
    }
  }
}
