import type { AttachmentRecord, MessageHeaders, MimePartRecord } from '../core/records.js';

/**
 * Writes finished files off the main thread (implemented by FileWriteQueue in
 * src/output/file-write-queue.ts). Ownership of `chunks` passes to the writer.
 */
export interface MessageFileWriter {
  /**
   * Writes `chunks` (concatenated) to `path`, atomically (temp file + rename). `keepExisting`: the
   * file is content-addressed; when it exists (or was already handed over) nothing is written.
   */
  write(path: string, chunks: Uint8Array[], opts?: { keepExisting?: boolean }): void;
}

/** Options for building one message (see MessageBuilder in message-builder.ts). */
export interface MessageBuilderOptions {
  /**
   * Absolute path where the verbatim .eml is written, or null to write nothing (library use).
   * The builder writes to `${emlPath}.tmp` while streaming and renames at end().
   */
  emlPath: string | null;
  /**
   * Absolute folder for decoded attachments, written as `<sha256>` (no extension, never a name
   * from the message), or null to write none.
   */
  attachmentsDir: string | null;
  /**
   * When set, the .eml and decoded attachments are kept in memory (up to maxInMemoryMessageBytes
   * each message, .eml and attachments counted apart) and handed to this writer at end(); larger
   * ones are written synchronously as without a writer. Null/absent: everything is written
   * synchronously (the .eml is in place when end() returns).
   */
  writer?: MessageFileWriter | null;
  /**
   * The caller keeps the bytes given to write() valid until it calls flush() (or end()): the
   * .eml is then written straight from them, synchronously, one gathered write per flush, with
   * no copy (the message worker does this with its arenas). Attachments still go to `writer`.
   */
  emlBorrowedUntilFlush?: boolean;
  /** Limits: maxMessageBytes, maxInMemoryMessageBytes, maxMimeDepth, maxMimeParts, maxHeaderBytes. */
  limits: {
    maxMessageBytes: number;
    maxInMemoryMessageBytes: number;
    maxMimeDepth: number;
    maxMimeParts: number;
    maxHeaderBytes: number;
  };
}

/** What the message module found in one message. */
export interface MessageBuildResult {
  size: number;
  sha256: string;
  partial: boolean;
  missing_bytes: number;
  headers: MessageHeaders;
  parts: MimePartRecord[];
  /** Attachment paths are relative to the case folder: "attachments/<sha256>". */
  attachments: AttachmentRecord[];
  anomalies: string[];
}
