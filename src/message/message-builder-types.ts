import type { AttachmentRecord, MessageHeaders, MimePartRecord } from '../core/records.js';

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
