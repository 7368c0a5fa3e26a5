import type { At, MessageExcerpt, Side } from '../core/types.js';
import type { Limits } from '../core/limits.js';
import type {
  CredentialRecord,
  MessageTransport,
  ProtocolName,
  SessionRecord,
  TranscriptRecord,
} from '../core/records.js';
import type { CloseReason, ConnectionInfo } from '../reassembly/stream-handler.js';

/** Fields an analyzer gives for a transcript entry; provenance and seq are added by the context. */
export type TranscriptInput = Omit<
  TranscriptRecord,
  'capture_sha256' | 'conn_id' | 'session_id' | 'protocol' | 'seq' | 'frame' | 'frame_first' | 'frame_last' | 'ts_first' | 'ts_last'
>;

/** Fields an analyzer gives for a credential; provenance and endpoints are added by the context. */
export type CredentialInput = Omit<
  CredentialRecord,
  'capture_sha256' | 'conn_id' | 'session_id' | 'protocol' | 'frame_first' | 'frame_last' | 'ts_first' | 'ts_last' | 'client' | 'server' | 'cleartext_channel'
> & { cleartext_channel?: boolean };

/** What the analyzer knows about a message when it starts to arrive. */
export interface MessageOpen {
  transport: MessageTransport;
  envelope: { mail_from: string | null; rcpt_to: string[] } | null;
  at: At;
}

/**
 * Receives the raw bytes of one rebuilt message (after dot-unstuffing / chunk joining).
 * Implemented by src/message; analyzers only stream bytes into it.
 */
export interface MessageSink {
  /** Our id for the message, e.g. "C17-m1"; also its .eml file name. */
  readonly id: string;
  /** Borrowed bytes, in order. */
  write(bytes: Uint8Array, at: At): void;
  /** `length` bytes of the message are missing here (TCP gap). The message becomes partial. */
  gap(length: number, at: At): void;
  /**
   * No more bytes will come. `complete` false marks the message partial and is an anomaly
   * (`message_partial`: e.g. connection dropped mid-DATA). `excerpt` says the bytes are only the
   * part of a message the client asked for (an IMAP section or partial FETCH, a POP3 TOP): the
   * message is partial too, but nothing went wrong, so that alone raises no anomaly. `'head'`:
   * the bytes start with a header block (TOP, HEADER, HEADER.FIELDS, MIME); `'content'`: they do
   * not (TEXT, a part's body, a partial FETCH past the start), so the MIME splitter's findings
   * about their header block say nothing about the message and are not reported.
   */
  endBytes(complete: boolean, at: At, excerpt?: MessageExcerpt): void;
  /**
   * Writes the message record, merging delivery facts known only after the body (final reply,
   * queue id). Call exactly once; calls endBytes(false) first if it was not called.
   */
  close(delivery: Record<string, string | number | boolean | null | string[]>, at: At): void;
}

/**
 * Everything an analyzer may do besides parsing: emit facts. Provided by the pipeline for each
 * session. Analyzers never write files or decide what is suspicious.
 */
export interface AnalyzerContext {
  readonly conn: ConnectionInfo;
  readonly sessionId: string;
  readonly limits: Limits;
  /** Appends a transcript entry. `first` is where its first byte arrived, `last` where it completed. */
  transcript(entry: TranscriptInput, first: At, last: At): void;
  credential(entry: CredentialInput, first: At, last: At): void;
  anomaly(code: string, detail: string | undefined, at: At): void;
  /** Starts a rebuilt message. */
  openMessage(open: MessageOpen): MessageSink;
  /** True while the session is readable on the wire without decryption (false after STARTTLS). */
  readonly cleartext: boolean;
  /** Marks the rest of the session encrypted from the given point on (STARTTLS accepted). */
  markEncrypted(at: At): void;
  /**
   * After markEncrypted: the analyzer hands every encrypted byte of each side here, in stream
   * order (borrowed). The pipeline parses TLS (handshake metadata) and, when a key matches,
   * decrypts and calls the analyzer's `onDecrypted` with the plaintext.
   */
  encryptedData(side: Side, bytes: Uint8Array, at: At): void;
  /** After markEncrypted: `length` encrypted bytes of one side are missing. */
  encryptedGap(side: Side, length: number, at: At): void;
  /**
   * Saves a file artifact verbatim (e.g. an uploaded Sieve script) under `artifacts/<sha256>`
   * in the case folder. Returns its hash and case-relative path (path null when no files are written).
   * Bytes are borrowed.
   */
  saveArtifact(bytes: Uint8Array): { sha256: string; path: string | null };
  /**
   * Writes a structured record to an extra record stream of the case folder
   * (`sieve_scripts` → sieve_scripts.jsonl). Provenance fields are added by the context.
   */
  extraRecord(stream: ExtraStream, record: Record<string, unknown>, first: At, last: At): void;
}

/** Extra record streams an analyzer may write (each becomes `<name>.jsonl`). */
export type ExtraStream = 'sieve_scripts' | 'mailbox_events';

/** Protocol-specific session facts, written into SessionRecord under the protocol's key. */
export type SessionFacts = Record<string, unknown>;

/**
 * A protocol analyzer for one connection. Receives reassembled bytes per side, in order.
 * Must never throw on hostile input (the pipeline turns a throw into `internal_error` and
 * stops analysing that connection).
 */
export interface ProtocolAnalyzer {
  readonly protocol: ProtocolName;
  onData(side: Side, bytes: Uint8Array, at: At): void;
  onGap(side: Side, length: number, at: At): void;
  onSideEnd?(side: Side, reason: 'fin' | 'rst', at: At): void;
  /**
   * Decrypted application bytes after an accepted STARTTLS/STLS (TLS issue): the analyzer
   * restarts its protocol state as the RFC requires after TLS (e.g. SMTP expects EHLO again,
   * RFC 3207 §4.2) and parses them like cleartext. Optional: without it the rest stays encrypted.
   */
  onDecrypted?(side: Side, bytes: Uint8Array, at: At): void;
  /** The connection ended: finish open messages (partial), close pending state. */
  onClose(reason: CloseReason, at: At): void;
  /** Counters for the session record; called after onClose. */
  summary(): {
    commands: number;
    replies: number;
    facts: SessionFacts;
    transport: SessionRecord['transport'];
  };
}

/** How a protocol is recognised and created. */
export interface ProtocolSpec {
  readonly name: ProtocolName;
  /** Well-known cleartext ports. */
  readonly ports: readonly number[];
  /** Implicit-TLS ports (465, 993, 995): recorded, not parsed, until decryption exists. */
  readonly tlsPorts: readonly number[];
  /**
   * Content check on the first bytes of each side (either may be empty).
   * 'yes' = this protocol; 'no' = certainly not; 'maybe' = need more bytes.
   */
  sniff(client: Uint8Array, server: Uint8Array): 'yes' | 'no' | 'maybe';
  create(ctx: AnalyzerContext): ProtocolAnalyzer;
}
