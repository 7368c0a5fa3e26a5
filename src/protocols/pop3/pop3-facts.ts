/**
 * POP3 session facts: written into the session record under `pop3` (`summary().facts.pop3`).
 * Lists are bounded by maxTranscriptEntriesPerSession (each entry also has a transcript entry).
 */

/** One login attempt (USER/PASS, APOP or AUTH), as in SMTP facts: the pipeline builds client identities from it. */
export interface Pop3AuthFact {
  /** 'USER/PASS', 'APOP' or the SASL mechanism (PLAIN, LOGIN, CRAM-MD5 ...). */
  mechanism: string;
  username: string | null;
  outcome: 'success' | 'failure' | 'unknown';
  /** Frame of the command that started the attempt. */
  frame: number;
}

/** One RETR or TOP with its outcome. */
export interface Pop3RetrievalFact {
  command: 'RETR' | 'TOP';
  msg_number: number | null;
  /** Unique id from a UIDL listing earlier in the session, when seen. */
  uidl: string | null;
  /** TOP line count requested. */
  top_lines: number | null;
  /** "+OK n octets" announced by the server, when it said so. */
  octets_announced: number | null;
  /** Size from a LIST listing earlier in the session, when seen. */
  list_size: number | null;
  /** Bytes received after dot-unstuffing (null when the reply was -ERR). */
  size: number | null;
  /** Our id of the rebuilt message (null when the reply was -ERR). */
  message_id: string | null;
  outcome: 'ok' | 'err' | 'unknown';
  frame: number;
}

/** One DELE. */
export interface Pop3DeletionFact {
  msg_number: number | null;
  uidl: string | null;
  outcome: 'ok' | 'err' | 'unknown';
  frame: number;
}

export interface Pop3SessionFacts {
  /** The greeting line's text after the status word. */
  greeting: string | null;
  /** True for "+OK", false for a "-ERR" greeting (RFC 1939 §4 refusal), null when none was seen. */
  greeting_ok: boolean | null;
  /** The APOP timestamp of the greeting (RFC 1939 §7), angle brackets included. */
  apop_timestamp: string | null;
  /** CAPA lines (RFC 2449 §5), in order, from the last "+OK" CAPA reply. */
  capabilities: string[];
  /** The IMPLEMENTATION capability argument (server software), when sent. */
  implementation: string | null;
  /** Mechanisms from the SASL capability or the bare AUTH list. */
  sasl_mechanisms: string[];
  stls: { offered: boolean; requested: boolean; accepted: boolean; frame: number | null };
  /** Frame after which the rest of the session is encrypted (STLS accepted), else null. */
  encrypted_from_frame: number | null;
  auth: Pop3AuthFact[];
  /** The user of the last successful login. */
  user: string | null;
  /** Final RFC 1939 phase: authorization, transaction, update (QUIT committed), closed, tls ... */
  final_state: string;
  /** "+OK nn mm" of the last successful STAT. */
  stat: { count: number; size: number; frame: number } | null;
  /** Messages listed by LIST / UIDL (scan listings), merged by message number. */
  listing: { msg_number: number; size: number | null; uidl: string | null }[];
  retrieved: Pop3RetrievalFact[];
  /** Every DELE sent, with its reply. */
  deleted: Pop3DeletionFact[];
  /**
   * What happened to the messages marked deleted (RFC 1939 §6): committed (QUIT answered +OK in
   * TRANSACTION), failed (QUIT -ERR), undone (RSET, or the connection ended without QUIT),
   * unknown (QUIT sent, no reply seen), none (nothing was marked).
   */
  deletion: 'none' | 'committed' | 'failed' | 'undone' | 'unknown';
  /** Message numbers still marked deleted at the end of the session (committed or not). */
  deleted_pending: number[];
  /** Unknown command lines (cut to 256 characters). */
  unknown_commands: string[];
  quit: boolean;
  /** Bytes per side after STLS was accepted (counted, not parsed); absent without STLS. */
  encrypted_bytes?: { client: number; server: number };
}
