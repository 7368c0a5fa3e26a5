import type { CaptureFrame } from '../core/types.js';
import type { AnomalyReporter } from '../core/anomaly.js';

/** What a capture file says about itself. Filled while reading; complete after iteration ends. */
export interface CaptureInfo {
  format: 'pcap' | 'pcapng';
  /** pcap: 'le'|'be'; pcapng: of the first section. */
  byteOrder: 'le' | 'be';
  /** Timestamp precision of classic pcap ('us'|'ns'); pcapng: per interface, see interfaces. */
  tsPrecision?: 'us' | 'ns';
  gzip: boolean;
  /** Distinct link types seen (LINKTYPE_* numbers), in order of first appearance. */
  linkTypes: number[];
  /** pcapng interfaces (classic pcap: one). */
  interfaces: { linkType: number; snaplen: number; tsResolution: string; name?: string }[];
  sections: number;
  frames: number;
  /** Bytes of the (decompressed) capture consumed. */
  bytesRead: number;
  /** Bytes of the input file as stored (compressed size for .gz). */
  fileBytes: number;
  /** SHA-256 of the input bytes exactly as stored (the .gz file itself for gzip input). Set when iteration ends. */
  sha256?: string;
  /**
   * Set when reading stopped early at unrecoverable corruption (no plausible record within
   * limits.maxResyncBytes after a corrupt one): the offset of the corrupt record. Not set when
   * reading resynchronised (`capture_resync`).
   */
  stoppedAtOffset?: number;
  /**
   * pcapng Decryption Secrets Blocks (type 0x0000000A) in file order, bodies copied (owned).
   * `type` is the secrets type (0x544c534b = TLS key log). Empty for classic pcap.
   */
  decryptionSecrets: { type: number; data: Uint8Array }[];
}

/**
 * A capture being read. Iterate it once; frames are borrowed (see CaptureFrame.data).
 * Truncated/corrupt records are reported through the AnomalyReporter given to openCapture,
 * never thrown. Throws MailsleuthError only for an unknown format or an unreadable input.
 */
export interface CaptureSource extends AsyncIterable<CaptureFrame> {
  readonly info: CaptureInfo;
}

export interface OpenCaptureOptions {
  report: AnomalyReporter;
  /** Default DEFAULT_LIMITS.maxRecordBytes. */
  maxRecordBytes?: number;
  /** Default DEFAULT_LIMITS.maxDecryptionSecretsBytes. */
  maxDecryptionSecretsBytes?: number;
  /** Default DEFAULT_LIMITS.maxCaptureInterfaces. */
  maxCaptureInterfaces?: number;
  /** Default DEFAULT_LIMITS.maxResyncBytes. */
  maxResyncBytes?: number;
  /**
   * Files at least this large are hashed on a worker thread, over the parser's own read buffers
   * (handed over once parsed; default 64 MiB; Infinity: never). Streams are hashed inline.
   */
  workerHashMinBytes?: number;
  /**
   * For such a file: a thread that already exists and can hash the read buffers (the pipeline's
   * message worker), instead of a hash worker of its own (which costs ~60 ms of CPU to start).
   * Called once per file; null: start the capture's own hash worker.
   */
  chunkHasher?: () => ChunkHasher | null;
}

/**
 * SHA-256 of a file computed on another thread, over the reader's own buffers: each buffer is
 * handed over with hash() (transferred, so unusable by the reader), hashed in the order handed
 * over, and comes back through the onReturn callback for the next read.
 */
export interface ChunkHasher {
  /** Where buffers go once hashed. */
  onReturn(fn: (buf: ArrayBuffer) => void): void;
  /** Hashes buf[off, off + n) next; the buffer is transferred. */
  hash(buf: ArrayBuffer, off: number, n: number): void;
  /** Resolves when a buffer came back; rejects if the hashing thread failed. */
  returned(): Promise<void>;
  /** The digest (hex) of every chunk handed over; rejects if the hashing thread failed. */
  digest(): Promise<string>;
  /** Stops using the hashing thread (idempotent); wakes anyone waiting in returned(). */
  close(): Promise<void>;
}
