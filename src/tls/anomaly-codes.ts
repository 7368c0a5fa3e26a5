import type { AnomalyCodeInfo } from '../core/anomaly.js';

/** Anomaly codes raised by the TLS layer (src/tls). */
export const TLS_ANOMALIES: readonly AnomalyCodeInfo[] = [
  { code: 'tls_no_key', severity: 'info', description: 'TLS session without a matching key (key log line or RSA key): handshake metadata only, payload stays encrypted' },
  { code: 'tls_bad_record_mac', severity: 'error', description: 'A TLS 1.2 CBC record failed its MAC or padding check (wrong key or tampering); its plaintext is not delivered and decryption of that direction stops' },
  { code: 'tls_decrypt_failed', severity: 'error', description: 'An AEAD record failed authentication (wrong key, missing record or tampering); decryption of that direction stops' },
  { code: 'tls_unsupported_cipher', severity: 'warning', description: 'The negotiated cipher suite (or protocol version) cannot be decrypted by mailsleuth' },
  { code: 'tls_truncated_handshake', severity: 'warning', description: 'The connection ended (or a gap occurred) before the TLS handshake completed' },
  { code: 'tls_truncated_record', severity: 'info', description: 'The connection ended in the middle of a TLS record' },
  { code: 'tls_record_too_large', severity: 'error', description: 'A TLS record header announced more than the record size limit (16 KiB + overhead); that direction is no longer parsed' },
  { code: 'tls_handshake_too_large', severity: 'error', description: 'A TLS handshake message is larger than the handshake limit; that direction is no longer parsed' },
  { code: 'tls_bad_record_header', severity: 'error', description: 'Bytes that are not a TLS record header (content type / version) where one was expected; that direction is no longer parsed' },
  { code: 'tls_bad_handshake', severity: 'warning', description: 'A malformed TLS handshake message (ClientHello, ServerHello, Certificate ...)' },
  { code: 'tls_bad_certificate', severity: 'warning', description: 'A certificate in the TLS Certificate message could not be parsed as X.509' },
  { code: 'tls_gap', severity: 'warning', description: 'Bytes of one TLS direction are missing: record boundaries and sequence numbers are lost, decryption of that direction stops' },
  { code: 'tls_keylog_bad_line', severity: 'warning', description: 'A line of an NSS key log file could not be parsed (unknown label or bad hex)' },
  { code: 'tls_alert', severity: 'info', description: 'A TLS alert was sent (level and description in the detail)' },
  { code: 'tls_rsa_decrypt_failed', severity: 'error', description: 'The RSA-encrypted pre-master secret could not be decrypted with the matching private key (wrong key or bad padding)' },
  { code: 'tls_ems_transcript_lost', severity: 'warning', description: 'Extended master secret needs the handshake transcript, which was not fully seen or exceeded its limit' },
  { code: 'tls_early_data_skipped', severity: 'info', description: 'TLS 1.3 0-RTT early data without a CLIENT_EARLY_TRAFFIC_SECRET: those records are skipped' },
  { code: 'tls_heartbeat', severity: 'warning', description: 'A TLS heartbeat record was seen (RFC 6520)' },
  { code: 'tls_plaintext_application_data', severity: 'warning', description: 'An application data record before encryption was active: it is not delivered' },
  { code: 'tls_renegotiation', severity: 'info', description: 'A new handshake inside an established TLS 1.2 session (renegotiation)' },
  { code: 'tls_unexpected_message', severity: 'warning', description: 'A TLS message in a state where it is not expected (e.g. data after close_notify, 1.3 record with an unknown inner type)' },
];
