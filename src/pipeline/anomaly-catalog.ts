import type { AnomalyCodeInfo } from '../core/anomaly.js';
import { CAPTURE_ANOMALIES } from '../capture/anomaly-codes.js';
import { DECODE_ANOMALIES } from '../decode/anomaly-codes.js';
import { REASSEMBLY_ANOMALIES } from '../reassembly/anomaly-codes.js';
import { MESSAGE_ANOMALIES } from '../message/anomaly-codes.js';
import { SMTP_ANOMALIES } from '../protocols/smtp/anomaly-codes.js';
import { IMAP_ANOMALIES } from '../protocols/imap/anomaly-codes.js';
import { SASL_ANOMALIES } from '../protocols/sasl/anomaly-codes.js';
import { TLS_ANOMALIES } from '../tls/anomaly-codes.js';
import { LINE_FRAMER_ANOMALIES } from '../protocols/line-framer.js';
import { SIEVE_ANOMALIES } from '../protocols/sieve/anomaly-codes.js';
import { POP3_ANOMALIES } from '../protocols/pop3/anomaly-codes.js';

/** Codes raised by the pipeline itself. */
export const PIPELINE_ANOMALIES: readonly AnomalyCodeInfo[] = [
  { code: 'internal_error', severity: 'error', description: 'An analyzer failed on this connection; the rest of the capture was still analysed. Please report it with the capture.' },
  { code: 'clients_limit', severity: 'warning', description: 'More distinct client addresses than the tracked maximum (100,000); later ones are not in clients.jsonl.' },
  { code: 'roles_by_content', severity: 'info', description: 'No TCP handshake was seen and the port-based guess of client and server was backwards; the protocol content decided the roles.' },
  { code: 'proxy_tunnel', severity: 'info', description: 'A proxy handshake (SOCKS5, SOCKS4 or HTTP CONNECT) preceded the mail protocol in this connection; the detail names the target.' },
  { code: 'transcript_limit', severity: 'warning', description: 'A session had more transcript entries than maxTranscriptEntriesPerSession; the rest were counted, not written.' },
];

/** Every anomaly code the tool can write, by layer (docs/anomalies.md lists the same). */
export const ANOMALY_CATALOG: readonly { layer: string; codes: readonly AnomalyCodeInfo[] }[] = [
  { layer: 'capture', codes: CAPTURE_ANOMALIES },
  { layer: 'decode', codes: DECODE_ANOMALIES },
  { layer: 'reassembly', codes: REASSEMBLY_ANOMALIES },
  { layer: 'tls', codes: TLS_ANOMALIES },
  { layer: 'framing (all line protocols)', codes: LINE_FRAMER_ANOMALIES },
  { layer: 'smtp', codes: SMTP_ANOMALIES },
  { layer: 'sasl', codes: SASL_ANOMALIES },
  { layer: 'sieve', codes: SIEVE_ANOMALIES },
  { layer: 'pop3', codes: POP3_ANOMALIES },
  { layer: 'imap', codes: IMAP_ANOMALIES },
  { layer: 'message', codes: MESSAGE_ANOMALIES },
  { layer: 'pipeline', codes: PIPELINE_ANOMALIES },
];

const BY_CODE = new Map<string, AnomalyCodeInfo>();
for (const layer of ANOMALY_CATALOG) for (const c of layer.codes) if (!BY_CODE.has(c.code)) BY_CODE.set(c.code, c);

/** Looks up a code; unknown codes (should not happen) get a neutral entry. */
export function anomalyInfo(code: string): AnomalyCodeInfo {
  return BY_CODE.get(code) ?? { code, severity: 'warning', description: '(no description)' };
}
