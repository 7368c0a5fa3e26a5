/**
 * The POP3 session state machine (RFC 1939 §3: AUTHORIZATION, TRANSACTION, UPDATE) as data.
 *
 * The analyzer owns framing (lines / multi-line responses / message bodies / encrypted) and the
 * pending-command queue; this module only decides the protocol phase from commands and their
 * replies, and names commands sent in a state where RFC 1939 does not allow them.
 */

/** One state per phase, each documented by its entry condition. */
export type Pop3State =
  /** TCP open, no greeting seen yet. */
  | 'connected'
  /** "+OK" greeting seen (RFC 1939 §4): USER/PASS, APOP, AUTH, CAPA, STLS, QUIT allowed. */
  | 'authorization'
  /** PASS, APOP or AUTH accepted (RFC 1939 §5): mailbox locked, maildrop commands allowed. */
  | 'transaction'
  /** QUIT accepted in TRANSACTION (RFC 1939 §6): deletions committed. Terminal. */
  | 'update'
  /** QUIT answered in AUTHORIZATION, or a "-ERR" greeting: the session is over. Terminal. */
  | 'closed'
  /**
   * STLS accepted (RFC 2595 §4): the rest is encrypted. Terminal unless decrypted plaintext
   * arrives (`tls-restart` → authorization).
   */
  | 'tls'
  /** Bytes were lost or the capture started mid-session: phase unknown until a reply tells. */
  | 'after_gap';

/** What drives a transition. `ok` is true for "+OK", false for "-ERR". */
export type Pop3Event =
  | { readonly kind: 'greeting'; readonly ok: boolean }
  | { readonly kind: 'command'; readonly verb: string }
  | { readonly kind: 'reply'; readonly verb: string; readonly ok: boolean }
  | { readonly kind: 'gap' }
  /** Decrypted plaintext after STLS begins. */
  | { readonly kind: 'tls-restart' };

/** Result of one transition: the next state and an anomaly code when the sequence was invalid. */
export interface Pop3Step {
  readonly state: Pop3State;
  readonly anomaly: string | null;
}

/** RFC 1939 §5/§7: commands valid only in the TRANSACTION state. */
const TRANSACTION_ONLY: ReadonlySet<string> = new Set(['STAT', 'LIST', 'UIDL', 'RETR', 'TOP', 'DELE', 'NOOP', 'RSET']);
/** RFC 1939 §4/§7, RFC 5034, RFC 2595 §4: commands valid only in the AUTHORIZATION state. */
const AUTHORIZATION_ONLY: ReadonlySet<string> = new Set(['USER', 'PASS', 'APOP', 'AUTH', 'STLS']);

function step(state: Pop3State, anomaly: string | null = null): Pop3Step {
  return { state, anomaly };
}

function onCommand(state: Pop3State, verb: string): Pop3Step {
  switch (state) {
    case 'authorization':
      return step(state, TRANSACTION_ONLY.has(verb) ? 'pop3_command_wrong_state' : null);
    case 'transaction':
      return step(state, AUTHORIZATION_ONLY.has(verb) ? 'pop3_command_wrong_state' : null);
    case 'update':
    case 'closed':
      return step(state, 'pop3_command_after_quit');
    default:
      return step(state);
  }
}

function onReply(state: Pop3State, verb: string, ok: boolean): Pop3Step {
  if (state === 'tls' || state === 'update' || state === 'closed') return step(state);
  switch (verb) {
    case 'PASS':
    case 'APOP':
    case 'AUTH':
      // RFC 1939 §4: "+OK" to PASS/APOP (RFC 5034 §4: to AUTH) enters TRANSACTION.
      // A bare AUTH (mechanism list) is answered "+OK" too; the analyzer does not send it here.
      if (ok) return step('transaction');
      return step(state === 'after_gap' || state === 'connected' ? 'authorization' : state);
    case 'STLS':
      // RFC 2595 §4: "+OK" = begin the TLS negotiation.
      return step(ok ? 'tls' : state);
    case 'QUIT':
      // RFC 1939 §6: QUIT from TRANSACTION enters UPDATE (deletions applied); from AUTHORIZATION it just ends.
      if (state === 'transaction') return step('update');
      return step('closed');
    default:
      if (state === 'after_gap' && ok && TRANSACTION_ONLY.has(verb)) return step('transaction');
      if (state === 'after_gap' && ok && (verb === 'USER' || verb === 'CAPA')) return step('authorization');
      return step(state);
  }
}

/**
 * The one transition function. Pure: the analyzer calls it for the greeting, every command,
 * every final reply and every gap, stores the returned state and reports the anomaly if any.
 */
export function pop3Transition(state: Pop3State, ev: Pop3Event): Pop3Step {
  switch (ev.kind) {
    case 'greeting':
      if (state !== 'connected' && state !== 'after_gap') return step(state);
      // RFC 1939 §4: "-ERR" greeting = the server refuses the session.
      return step(ev.ok ? 'authorization' : 'closed');
    case 'command':
      if (state === 'tls') return step('tls');
      return onCommand(state, ev.verb);
    case 'reply':
      return onReply(state, ev.verb, ev.ok);
    case 'tls-restart':
      // RFC 2595 §4: after the TLS negotiation the session continues in AUTHORIZATION, no new greeting.
      return step(state === 'tls' ? 'authorization' : state);
    case 'gap':
      // A lost command can only have moved AUTHORIZATION forward (PASS/APOP/AUTH accepted);
      // TRANSACTION is left only by QUIT, which ends the session.
      return step(state === 'connected' || state === 'authorization' ? 'after_gap' : state);
    default:
      return step(state);
  }
}
