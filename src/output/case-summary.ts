import type { Limits } from '../core/limits.js';
import type { ProtocolName } from '../core/records.js';
import type { RecordSet } from './memory-sink.js';

export interface ClientNameRow { name: string; source: string; client_ip: string; first_frame: number }
export interface CredentialRow { protocol: ProtocolName; mechanism: string; username: string | null; secret: string | null; outcome: string; cleartext: boolean; client: string; frame: number }
/** `excerpt`: partial only because the client asked for part of the message (POP3 TOP, IMAP section or partial FETCH). */
export interface MessageRow { id: string; from: string; to: string; subject: string; size: number; attachments: number; partial: boolean; excerpt: boolean; frame: number }
export interface FilterRuleRow { command: string; name: string | null; active: boolean | null; username: string | null; outcome: string; actions: string; client: string; frame: number }

export interface SessionRow { id: string; protocol: ProtocolName; client: string; server: string; transport: string; frames: string; note: string }

/** summary.json: what was read and what was found. A documented, stable contract (docs/case-folder.md). */
export interface CaseSummary {
  tool: { name: string; version: string };
  input: {
    path: string;
    size_bytes: number;
    sha256: string | null;
    format: string;
    gzip: boolean;
    link_types: { id: number; name: string }[];
    interfaces: number;
    sections: number;
    frames: number;
    first_ts: string | null;
    last_ts: string | null;
    /** Set when reading stopped at unrecoverable corruption: the byte offset reached. */
    stopped_at_offset: number | null;
    complete: boolean;
    /** The run was stopped (signal) before the input ended; sha256 is then null. */
    interrupted: boolean;
  };
  counts: {
    connections: number;
    sessions: Record<string, number>;
    sessions_encrypted: number;
    sessions_decrypted: number;
    transcript_entries: number;
    messages: number;
    messages_partial: number;
    /** Of messages_partial, those partial only by request (POP3 TOP, IMAP section or partial FETCH). */
    messages_excerpt: number;
    message_bytes: number;
    attachments: number;
    credentials: number;
    credentials_success: number;
    credentials_failure: number;
    anomalies: number;
    tcp_gaps: number;
    tcp_gap_bytes: number;
  };
  anomalies_by_code: Record<string, { count: number; severity: string; description: string }>;
  client_names: ClientNameRow[];
  credentials: CredentialRow[];
  messages: MessageRow[];
  sessions: SessionRow[];
  /** Sieve scripts seen over ManageSieve (first 200), with their actions in short form. */
  filter_rules: FilterRuleRow[];
  /** Mailbox events (mailbox_events.jsonl) by event and outcome, e.g. "delete-commit/ok": 3. */
  mailbox_events: Record<string, number>;
  run: { started: string; duration_seconds: number; mib_per_second: number; node: string; limits: Limits };
  /** Present when outDir was null: every record, in memory. */
  records?: RecordSet;
}

