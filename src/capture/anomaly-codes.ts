import type { AnomalyCodeInfo } from '../core/anomaly.js';

/** Every anomaly code the capture readers (src/capture/) emit. */
export const CAPTURE_ANOMALIES: readonly AnomalyCodeInfo[] = Object.freeze([
  {
    code: 'capture_truncated_header',
    severity: 'error',
    description: 'The file ends inside the pcap file header; no frames could be read.',
  },
  {
    code: 'capture_truncated_record',
    severity: 'warning',
    description: 'The input ends in the middle of a record/block (file cut short); the partial record is dropped and reading stops.',
  },
  {
    code: 'capture_corrupt_record',
    severity: 'error',
    description: 'A record or block header is impossible (length below the header size, pcapng length not a multiple of 4 or not matching its trailing copy, bad byte-order magic), or a record claims more bytes than the input has left while whole records follow inside it. Reading resynchronises on the next plausible record (capture_resync) or, if none is found within limits.maxResyncBytes, stops there (info.stoppedAtOffset). For a pcapng block whose framing is intact but whose body is inconsistent, only that block is skipped.',
  },
  {
    code: 'capture_record_too_large',
    severity: 'error',
    description: 'A record/block length exceeds limits.maxRecordBytes (usually corruption, e.g. a 3.9 GB length). Reading resynchronises on the next plausible record (capture_resync) or, if none is found within limits.maxResyncBytes, stops there (info.stoppedAtOffset).',
  },
  {
    code: 'capture_resync',
    severity: 'warning',
    description: 'After a corrupt record/block, reading went on at the next offset where plausible records follow each other; the detail gives the bytes skipped. Frame numbers continue from the last good frame, so they match Wireshark for the file with the skipped bytes removed (Wireshark itself stops reading at the corruption).',
  },
  {
    code: 'capture_caplen_exceeds_snaplen',
    severity: 'warning',
    description: 'A record holds more bytes than the snapshot length of its header/interface; the frame is still used (reported once per interface).',
  },
  {
    code: 'capture_caplen_exceeds_origlen',
    severity: 'warning',
    description: 'A record says it captured more bytes than the packet had on the wire; the frame is still used.',
  },
  {
    code: 'capture_bad_timestamp',
    severity: 'warning',
    description: 'A classic pcap timestamp fraction is one second or more; it was carried into the seconds.',
  },
  {
    code: 'capture_timestamp_out_of_range',
    severity: 'warning',
    description: "A pcapng packet's timestamp (its 64-bit tick count with the interface's if_tsresol and if_tsoffset) lies outside the years 0000-9999, which ISO-8601 times (and JavaScript dates) cannot hold: usually a corrupt block or option. The frame is kept and its time set to the nearest end of that range; the detail gives the seconds the block named.",
  },
  {
    code: 'capture_unknown_interface',
    severity: 'warning',
    description: 'A pcapng packet block names an interface that no IDB of its section defined; the block is skipped and not numbered.',
  },
  {
    code: 'capture_unsupported_version',
    severity: 'warning',
    description: 'The pcap/pcapng header carries a version other than 2.4 / 1.x; reading goes on as if it were the known version.',
  },
  {
    code: 'capture_bad_options',
    severity: 'warning',
    description: 'A pcapng block has malformed options; the options that could not be read are ignored.',
  },
  {
    code: 'capture_secrets_dropped',
    severity: 'warning',
    description: 'A pcapng Decryption Secrets Block was dropped because limits.maxDecryptionSecretsBytes was reached.',
  },
  {
    code: 'capture_too_many_interfaces',
    severity: 'warning',
    description: 'limits.maxCaptureInterfaces pcapng interfaces reached; further IDBs are ignored (their packets then report capture_unknown_interface). Reported once.',
  },
  {
    code: 'capture_gzip_error',
    severity: 'error',
    description: 'The gzip stream is corrupt or truncated; frames decompressed before the error are kept and reading stops.',
  },
] satisfies AnomalyCodeInfo[]);
