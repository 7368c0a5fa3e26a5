/**
 * The case folder's record types: the stable, documented contract (docs/case-folder.md).
 * Field names are snake_case exactly as written to JSON. Every record carries provenance:
 * the capture's SHA-256, the connection id, the frame range and the capture timestamps.
 *
 * Wire facts (what the peers actually sent: addresses, envelope, replies) are kept apart
 * from what a message merely claims (its headers, under `headers`).
 */

export type ProtocolName = 'smtp' | 'pop3' | 'imap' | 'sieve';

/** Provenance fields present on every record. `capture_sha256` is filled in by the writer. */
export interface Provenance {
  capture_sha256?: string;
  conn_id: string;
  frame_first: number;
  frame_last: number;
  /** ISO-8601 UTC, nanosecond digits. */
  ts_first: string;
  ts_last: string;
}

export interface EndpointRecord {
  ip: string;
  port: number;
}

/** One command, reply or other wire event of an application session. */
export interface TranscriptRecord extends Provenance {
  session_id: string;
  protocol: ProtocolName;
  /** Ordinal within the session, from 1. */
  seq: number;
  side: 'client' | 'server';
  /**
   * command: a client command line. reply: a server reply (multi-line joined).
   * auth: a SASL exchange line (client response or server challenge).
   * data: a message body or literal (summarised, not the bytes). gap: bytes missing. tls: encrypted
   * from here on. unparsed: bytes that do not parse as the protocol.
   */
  kind: 'command' | 'reply' | 'auth' | 'data' | 'gap' | 'tls' | 'unparsed';
  /** Command verb in upper case (commands), e.g. "EHLO", "MAIL". */
  command?: string;
  /** Command argument as sent (latin1-decoded), secrets included: this is evidence. */
  argument?: string;
  /** Numeric reply code (SMTP). */
  code?: number;
  /** Status word (POP3 +OK/-ERR, IMAP OK/NO/BAD). */
  status?: string;
  /** IMAP tag. */
  tag?: string;
  /** The line(s) as seen, without CRLF (latin1-decoded). Multi-line replies keep every line. */
  lines: string[];
  /** Byte count for data / gap entries. */
  bytes?: number;
  /** The frame where this entry completed (its last byte arrived). Same as frame_last. */
  frame: number;
}

/** One credential use: a login attempt with what could be decoded. */
export interface CredentialRecord extends Provenance {
  session_id: string;
  protocol: ProtocolName;
  /** USER/PASS, LOGIN (IMAP), APOP, or the SASL mechanism name (PLAIN, LOGIN, CRAM-MD5, ...). */
  mechanism: string;
  username: string | null;
  /** SASL authorization identity (PLAIN), when present and different from username. */
  authzid?: string | null;
  /** Cleartext password or token when decodable. */
  secret: string | null;
  /** For challenge-response mechanisms: a hashcat-ready line and its mode (e.g. 16400 CRAM-MD5). */
  hashcat?: { mode: number; line: string } | null;
  /** Extra mechanism data kept as evidence (challenge, response, realm, nonce ...). */
  detail?: Record<string, string>;
  outcome: 'success' | 'failure' | 'unknown';
  /** Reply code/status that decided the outcome. */
  reply?: string | null;
  /** True when the exchange was readable on the wire without decryption. */
  cleartext_channel: boolean;
  client: EndpointRecord;
  server: EndpointRecord;
}

export interface AddressRecord {
  name: string;
  address: string;
}

export interface ReceivedHop {
  /** Raw header value, unfolded. */
  raw: string;
  from?: string;
  by?: string;
  with?: string;
  id?: string;
  for?: string;
  /** IP literal found in the from clause, when any. */
  ip?: string;
  date?: string;
}

/** What the message headers claim (not wire facts). Decoded to Unicode. */
export interface MessageHeaders {
  from: AddressRecord[];
  to: AddressRecord[];
  cc: AddressRecord[];
  bcc: AddressRecord[];
  reply_to: AddressRecord[];
  sender: AddressRecord[];
  return_path: string | null;
  subject: string | null;
  date: string | null;
  /** Date parsed to ISO-8601 UTC, when parseable. */
  date_iso: string | null;
  message_id: string | null;
  in_reply_to: string | null;
  references: string[];
  x_mailer: string | null;
  user_agent: string | null;
  x_originating_ip: string | null;
  /** Received chain, topmost (newest) first. */
  received: ReceivedHop[];
  authentication_results: string[];
  /** Every header field in order, name as written, value unfolded and decoded. */
  all: { name: string; value: string }[];
}

export interface MimePartRecord {
  /** IMAP-style part path: "" for the root, "1", "1.2" ... */
  path: string;
  content_type: string;
  charset: string | null;
  transfer_encoding: string;
  disposition: string | null;
  filename: string | null;
  /** Byte ranges into the raw .eml. */
  header_start: number;
  body_start: number;
  body_end: number;
  /** Decoded body size and hash (leaf parts only). */
  decoded_size?: number;
  sha256?: string;
}

export interface AttachmentRecord {
  part: string;
  /** As declared in the message (decoded), never used as a path. */
  filename: string | null;
  media_type: string;
  size: number;
  sha256: string;
  /** Relative path in the case folder: attachments/<sha256>. */
  path: string | null;
  /** True when the part body was cut (message partial). */
  partial: boolean;
}

export type MessageTransport =
  | 'smtp-data'
  | 'smtp-bdat'
  | 'pop3-retr'
  | 'pop3-top'
  | 'imap-fetch'
  | 'imap-append';

/** A rebuilt message. */
export interface MessageRecord extends Provenance {
  message_id: string;
  session_id: string;
  protocol: ProtocolName;
  transport: MessageTransport;
  client: EndpointRecord;
  server: EndpointRecord;
  /** Wire facts: SMTP envelope (MAIL FROM and the recipients the server accepted). */
  envelope: { mail_from: string | null; rcpt_to: string[] } | null;
  /** Protocol-specific delivery facts (SMTP final reply, queue id; POP3 msg number; IMAP mailbox/uid). */
  delivery: Record<string, string | number | boolean | null | string[]>;
  size: number;
  sha256: string;
  partial: boolean;
  missing_bytes: number;
  /** Relative path of the .eml in the case folder. */
  eml_path: string;
  headers: MessageHeaders;
  parts: MimePartRecord[];
  attachments: AttachmentRecord[];
  /** Anomaly codes found while splitting the message. */
  anomalies: string[];
}

export interface AnomalyRecord {
  capture_sha256?: string;
  code: string;
  severity: 'info' | 'warning' | 'error';
  detail: string | null;
  conn_id: string | null;
  frame: number | null;
  ts: string | null;
}

/** One application session (one per TCP connection carrying a mail protocol). */
export interface SessionRecord extends Provenance {
  session_id: string;
  protocol: ProtocolName;
  client: EndpointRecord;
  server: EndpointRecord;
  /** How the protocol was recognised. */
  identified_by: 'port' | 'content';
  /** cleartext, starttls (upgraded in session), tls (implicit TLS port, not decrypted). */
  transport: 'cleartext' | 'starttls' | 'tls';
  /** True when the capture started mid-session (no handshake seen). */
  midstream: boolean;
  close_reason: string;
  commands: number;
  replies: number;
  gaps: number;
  gap_bytes: number;
  /** Protocol-specific facts (SMTP: banner, helo, capabilities, starttls, auth, transactions). */
  smtp?: SmtpSessionFacts;
  /** Other protocols add their own keys (pop3, imap, sieve). */
  [protocolFacts: string]: unknown;
}

export interface SmtpRcptRecord {
  address: string;
  params: string | null;
  reply_code: number | null;
  reply_text: string | null;
  accepted: boolean | null;
  frame: number;
}

export interface SmtpTransactionRecord {
  /** 1-based within the session (Zeek trans_depth). */
  index: number;
  mail_from: string | null;
  mail_params: string | null;
  mail_reply_code: number | null;
  rcpt_to: SmtpRcptRecord[];
  /** DATA or BDAT, when the transaction reached the body. */
  body_command: 'DATA' | 'BDAT' | null;
  /** 354 (DATA) or first BDAT reply. */
  data_reply_code: number | null;
  /** The reply after the message body. */
  final_reply_code: number | null;
  final_reply_text: string | null;
  queue_id: string | null;
  message_id: string | null;
  bdat_chunks: number[];
  /** How it ended: accepted, rejected, reset (RSET), aborted (connection ended), incomplete. */
  outcome: 'accepted' | 'rejected' | 'reset' | 'aborted' | 'incomplete';
  frame_first: number;
  frame_last: number;
}

export interface SmtpSessionFacts {
  banner: string | null;
  banner_code: number | null;
  helo_command: 'EHLO' | 'HELO' | 'LHLO' | null;
  /** The client's self-declared name (machine names leak here). Every one sent, in order. */
  helo: string | null;
  helo_names: string[];
  capabilities: string[];
  starttls: { offered: boolean; requested: boolean; accepted: boolean; frame: number | null };
  /** Frame after which the rest of the session is encrypted (STARTTLS accepted), else null. */
  encrypted_from_frame: number | null;
  auth: { mechanism: string; username: string | null; outcome: 'success' | 'failure' | 'unknown'; frame: number }[];
  transactions: SmtpTransactionRecord[];
  vrfy: { argument: string; reply_code: number | null }[];
  expn: { argument: string; reply_code: number | null }[];
  /** XCLIENT / XFORWARD attributes seen. */
  xclient: string[];
  unknown_commands: string[];
  quit: boolean;
  /** Bytes per side after STARTTLS was accepted (counted, not parsed); absent without STARTTLS. */
  encrypted_bytes?: { client: number; server: number };
}
