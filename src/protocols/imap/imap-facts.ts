/** Per-session IMAP facts, written into the session record under `imap` (`summary().facts.imap`). */
export interface ImapSessionFacts {
  /** Greeting text (after the status and response code) and its status; null when not seen. */
  greeting: string | null;
  greeting_status: 'OK' | 'PREAUTH' | 'BYE' | null;
  /** Last capability list seen (CAPABILITY response or [CAPABILITY] code), upper case as sent. */
  capabilities: string[];
  /** RFC 2971 ID sent by the client (name, version, os ... leak here like EHLO): keys lower case. */
  client_id: Record<string, string> | null;
  /** ID returned by the server. */
  server_id: Record<string, string> | null;
  starttls: { offered: boolean; requested: boolean; accepted: boolean; frame: number | null };
  /** RFC 4978 COMPRESS: accepted DEFLATE inflates both directions from the frame after the OK. */
  compress: { mechanism: string | null; accepted: boolean; frame: number | null; inflated: boolean };
  /** Frame after which the rest of the session is encrypted (STARTTLS accepted), else null. */
  encrypted_from_frame: number | null;
  /** Every LOGIN / AUTHENTICATE attempt with its outcome (tagged OK = success, NO/BAD = failure). */
  auth: { mechanism: string; username: string | null; outcome: 'success' | 'failure' | 'unknown'; frame: number }[];
  /** ENABLE'd extensions (RFC 5161), as the server confirmed (ENABLED) or requested when unconfirmed. */
  enabled: string[];
  /** Mailboxes named in LIST / LSUB responses (bounded). */
  mailboxes_listed: string[];
  /** Every SELECT / EXAMINE with its result. */
  mailboxes_selected: { mailbox: string; mode: 'select' | 'examine'; exists: number | null; uidvalidity: number | null; outcome: 'ok' | 'no' | 'bad' | 'unknown'; frame: number }[];
  /** FETCH literals rebuilt as messages: whole (BODY[], RFC822, BINARY[]) and partial (header-only, sections, <origin>). */
  messages_fetched_whole: number;
  messages_fetched_partial: number;
  /** APPEND uploads rebuilt as messages. */
  messages_appended: number;
  /** Flags added / removed by STORE, counted per message when known (else per command). */
  flags_set: Record<string, number>;
  flags_cleared: Record<string, number>;
  /** `* n EXPUNGE` / VANISHED responses counted. */
  messages_expunged: number;
  /** Messages moved / copied (counted from the sequence set when it has no `*`, else per command). */
  messages_moved: number;
  messages_copied: number;
  mailboxes_created: string[];
  mailboxes_deleted: string[];
  mailboxes_renamed: { from: string; to: string }[];
  searches: number;
  idle: number;
  /** Commands seen by name (UID variants as `UID FETCH`). */
  commands_by_name: Record<string, number>;
  unknown_commands: string[];
  logout: boolean;
  /** Text of the server BYE, when one was sent. */
  bye: string | null;
  /** Bytes per side after STARTTLS was accepted (counted, not parsed); absent without STARTTLS. */
  encrypted_bytes?: { client: number; server: number };
  /** Compressed bytes per side after COMPRESS was accepted; absent without COMPRESS. */
  compressed_bytes?: { client: number; server: number };
}

/** Fresh facts for a new session. */
export function emptyImapFacts(): ImapSessionFacts {
  return {
    greeting: null,
    greeting_status: null,
    capabilities: [],
    client_id: null,
    server_id: null,
    starttls: { offered: false, requested: false, accepted: false, frame: null },
    compress: { mechanism: null, accepted: false, frame: null, inflated: false },
    encrypted_from_frame: null,
    auth: [],
    enabled: [],
    mailboxes_listed: [],
    mailboxes_selected: [],
    messages_fetched_whole: 0,
    messages_fetched_partial: 0,
    messages_appended: 0,
    flags_set: {},
    flags_cleared: {},
    messages_expunged: 0,
    messages_moved: 0,
    messages_copied: 0,
    mailboxes_created: [],
    mailboxes_deleted: [],
    mailboxes_renamed: [],
    searches: 0,
    idle: 0,
    commands_by_name: {},
    unknown_commands: [],
    logout: false,
    bye: null,
  };
}
