/**
 * Every resource bound in one place: a name, a default, and what happens past it.
 * Going over a limit never grows memory: the stage degrades (truncates, skips, evicts) and
 * records the named anomaly. `0` is honoured as a real limit; `Infinity` disables one.
 *
 * Sections are owned by the stage that enforces them; keep additions inside the right section.
 */
export interface Limits {
  // #region capture
  /** Largest capture record accepted (bytes). Larger: `capture_record_too_large`, stop or resync. */
  maxRecordBytes: number;
  /**
   * Bytes examined after a corrupt record/block header while looking for the next plausible one
   * (`capture_resync`). None within it: reading stops there (info.stoppedAtOffset). `0` disables resync.
   */
  maxResyncBytes: number;
  /** Bytes of pcapng Decryption Secrets Block bodies kept (all blocks). Past it: `capture_secrets_dropped`. */
  maxDecryptionSecretsBytes: number;
  /** pcapng interfaces (IDBs) kept over all sections. Past it further IDBs are ignored: `capture_too_many_interfaces`. */
  maxCaptureInterfaces: number;
  // #endregion

  // #region decode
  /** IP fragments buffered at once (bytes, all datagrams). Past it the oldest datagram is dropped: `ip_fragment_buffer_full`. */
  maxFragmentBytes: number;
  /** Seconds of capture time an incomplete fragmented datagram is kept: `ip_fragment_timeout`. */
  fragmentTimeoutSeconds: number;
  // #endregion

  // #region reassembly
  /**
   * Out-of-order bytes buffered per direction of one connection, with the bytes held so that the
   * two directions are handed on in the order their ACKs prove. Past it: a gap is declared
   * (`tcp_buffer_overflow`), or the held bytes are handed on in capture order (`tcp_reorder_overflow`).
   */
  maxBufferedBytesPerStream: number;
  /**
   * Out-of-order and held bytes (see maxBufferedBytesPerStream) over all connections. Past it: the
   * largest buffer is flushed as a gap (`tcp_total_buffer_overflow`) or handed on in capture order
   * (`tcp_reorder_overflow`).
   */
  maxBufferedBytesTotal: number;
  /** Connections tracked at once. Past it the least recently active is closed (`tcp_connection_evicted`). */
  maxConnections: number;
  /** Seconds of capture time without a packet after which a connection is closed (`idle_timeout`). */
  idleTimeoutSeconds: number;
  /** Bytes per side buffered while the protocol is being identified. */
  maxSniffBytes: number;
  /**
   * Most recently delivered bytes kept per direction (ring, allocated on first data of a
   * non-ignored connection at the size that data needs, doubling up to this) so a later retransmission can be compared with what was delivered
   * (`tcp_conflicting_overlap`). Older overlaps are dropped unchecked. `0` disables the check.
   */
  maxRetainedBytesPerStream: number;
  /**
   * Seconds of capture time a closed (FIN/RST) connection's key is remembered, so late
   * retransmissions and the final ACK do not start a new connection. A new SYN always does.
   */
  timeWaitSeconds: number;
  // #endregion

  // #region protocols
  /** Longest command/reply line kept (bytes). Longer lines are cut: `line_too_long`. */
  maxLineBytes: number;
  /** Lines joined into one multi-line reply. Past it: `reply_too_many_lines`. */
  maxReplyLines: number;
  /** Transcript entries written per session. Past it entries are counted, not written: `transcript_limit`. */
  maxTranscriptEntriesPerSession: number;
  /** Recipients kept per transaction: `smtp_too_many_recipients`. */
  maxRecipients: number;
  /** Commands waiting for replies (pipelining queue): `smtp_pipeline_overflow`. */
  maxPendingCommands: number;
  /** Bytes inflated from one compressed chunk (IMAP COMPRESS=DEFLATE). Past it the rest of that direction is counted, not parsed: `imap_compress_bomb`. */
  maxInflateBytesPerChunk: number;
  // #endregion

  // #region message
  /** Largest message rebuilt (bytes). Past it the rest is counted but not stored: `message_too_large`, message partial. */
  maxMessageBytes: number;
  /** Message bytes held in memory before spooling to disk. */
  maxInMemoryMessageBytes: number;
  /** MIME nesting depth: `mime_too_deep`. */
  maxMimeDepth: number;
  /** MIME parts per message: `mime_too_many_parts`. */
  maxMimeParts: number;
  /** Header block size per entity (bytes): `mime_header_too_large`. */
  maxHeaderBytes: number;
  // #endregion

  // #region output
  /** Anomaly records written per code; the rest are only counted in summary.json (`anomalies_by_code`). */
  maxAnomalyRecordsPerCode: number;
  /**
   * Bytes of messages/attachments waiting to be written in the background. Past it the pipeline
   * waits after the capture batch until a quarter is left; at twice it, files are written synchronously.
   */
  maxPendingWriteBytes: number;
  /**
   * Message bytes copied for the message worker and not yet acknowledged by it. Past it the
   * pipeline waits after the capture batch until a quarter is left.
   */
  maxMessageWorkerBacklogBytes: number;
  // #endregion
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxRecordBytes: 256 * 1024 * 1024,
  maxResyncBytes: 16 * 1024 * 1024,
  maxDecryptionSecretsBytes: 16 * 1024 * 1024,
  maxCaptureInterfaces: 65536,

  maxFragmentBytes: 16 * 1024 * 1024,
  fragmentTimeoutSeconds: 60,

  maxBufferedBytesPerStream: 8 * 1024 * 1024,
  maxBufferedBytesTotal: 64 * 1024 * 1024,
  maxConnections: 100_000,
  idleTimeoutSeconds: 600,
  maxSniffBytes: 4096,
  maxRetainedBytesPerStream: 4096,
  timeWaitSeconds: 60,

  maxLineBytes: 64 * 1024,
  maxReplyLines: 1000,
  maxTranscriptEntriesPerSession: 100_000,
  maxRecipients: 10_000,
  maxPendingCommands: 1000,
  maxInflateBytesPerChunk: 16 * 1024 * 1024,

  maxMessageBytes: 256 * 1024 * 1024,
  maxInMemoryMessageBytes: 8 * 1024 * 1024,
  maxMimeDepth: 50,
  maxMimeParts: 10_000,
  maxHeaderBytes: 2 * 1024 * 1024,

  maxAnomalyRecordsPerCode: 1000,
  maxPendingWriteBytes: 8 * 1024 * 1024,
  maxMessageWorkerBacklogBytes: 16 * 1024 * 1024,
});

/** Fills unspecified limits with defaults. Negative or NaN values are rejected. */
export function resolveLimits(partial?: Partial<Limits>): Limits {
  const out: Limits = { ...DEFAULT_LIMITS };
  if (partial) {
    for (const [k, v] of Object.entries(partial)) {
      if (v === undefined) continue;
      if (typeof v !== 'number' || Number.isNaN(v) || v < 0) {
        throw new RangeError(`limit ${k} must be a number >= 0 (got ${String(v)})`);
      }
      (out as unknown as Record<string, number>)[k] = v;
    }
  }
  return out;
}
