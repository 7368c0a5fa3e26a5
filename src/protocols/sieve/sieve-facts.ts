/**
 * ManageSieve (RFC 5804) session facts, written into the session record under `sieve`
 * (`summary().facts = { sieve: SieveSessionFacts }`).
 */

/** One script sent to or received from the server, as listed in the session facts (the full record is in sieve_scripts.jsonl). */
export interface SieveScriptFact {
  command: 'PUTSCRIPT' | 'CHECKSCRIPT' | 'GETSCRIPT';
  name: string | null;
  size: number;
  sha256: string;
  outcome: 'ok' | 'no' | 'unknown';
  /** Frame of the command. */
  frame: number;
}

/** Everything a ManageSieve session revealed. Lists are capped at maxTranscriptEntriesPerSession. */
export interface SieveSessionFacts {
  /** Text of the greeting's OK line (e.g. `Dovecot (Debian) ready.`). */
  greeting: string | null;
  /** The IMPLEMENTATION capability (server software). */
  implementation: string | null;
  /** Last capability list seen (greeting or CAPABILITY), name upper-cased → value (null when the capability has none). */
  capabilities: Record<string, string | null>;
  /** Sieve extensions the server announced (SIEVE capability, split). */
  sieve_extensions: string[];
  /** SASL mechanisms the server announced (SASL capability, split). */
  sasl_mechanisms: string[];
  /** OWNER capability (RFC 5804 §1.7: the authenticated user, sent after AUTHENTICATE). */
  owner: string | null;
  starttls: { offered: boolean; requested: boolean; accepted: boolean; frame: number | null };
  /** Frame after which the rest of the session is encrypted (STARTTLS accepted), else null. */
  encrypted_from_frame: number | null;
  auth: { mechanism: string; username: string | null; outcome: 'success' | 'failure' | 'unknown'; frame: number }[];
  /** The user of the last successful AUTHENTICATE (null after UNAUTHENTICATE or when none succeeded). */
  username: string | null;
  /** PUTSCRIPT attempts (any outcome). */
  scripts_uploaded: SieveScriptFact[];
  /** CHECKSCRIPT attempts. */
  scripts_checked: SieveScriptFact[];
  /** Scripts the server sent back (GETSCRIPT). */
  scripts_fetched: SieveScriptFact[];
  /**
   * The active script as known at the end of the session (successful SETACTIVE, RENAMESCRIPT of the
   * active script, or the ACTIVE mark of LISTSCRIPTS): "" when the session showed that no script is
   * active, null when the session never showed it.
   */
  active_script: string | null;
  /** SETACTIVE commands ("" = deactivate all). */
  setactive: { name: string; outcome: 'ok' | 'no' | 'unknown'; frame: number }[];
  /** The last LISTSCRIPTS answer. */
  listed_scripts: { name: string; active: boolean }[] | null;
  deleted_scripts: { name: string; outcome: 'ok' | 'no' | 'unknown'; frame: number }[];
  renamed_scripts: { from: string; to: string; outcome: 'ok' | 'no' | 'unknown'; frame: number }[];
  havespace: { name: string; size: number | null; outcome: 'ok' | 'no' | 'unknown'; reply: string | null; frame: number }[];
  unknown_commands: string[];
  logout: boolean;
  /** Bytes per side after STARTTLS was accepted (counted, not parsed); absent without STARTTLS. */
  encrypted_bytes?: { client: number; server: number };
}
