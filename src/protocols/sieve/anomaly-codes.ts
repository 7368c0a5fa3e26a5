import type { AnomalyCodeInfo } from '../../core/anomaly.js';

/**
 * Anomaly codes raised by the ManageSieve analyzer (besides `line_too_long` from the line framer,
 * `reply_too_many_lines` from the SMTP catalog, and `sasl_*` codes passed through from the SASL module).
 */
export const SIEVE_ANOMALIES: readonly AnomalyCodeInfo[] = [
  { code: 'sieve_midstream', severity: 'info', description: 'The capture starts inside the ManageSieve session (no handshake); parsing began at the first line that parses.' },
  { code: 'sieve_bare_lf', severity: 'warning', description: 'A ManageSieve line ended with a bare LF instead of CRLF (reported once per session).' },
  { code: 'sieve_unknown_command', severity: 'info', description: 'The client sent a command the analyzer does not know (listed in facts.unknown_commands; reported once per session).' },
  { code: 'sieve_unmatched_response', severity: 'warning', description: 'A server OK/NO arrived with no command waiting for it.' },
  { code: 'sieve_response_incomplete', severity: 'info', description: 'The session ended (or a gap fell) inside a server response.' },
  { code: 'sieve_bad_literal', severity: 'warning', description: 'A literal {n} announced an impossible size; its bytes were not framed.' },
  { code: 'sieve_script_truncated', severity: 'warning', description: 'A script literal was larger than maxInMemoryMessageBytes; only its first bytes were saved and parsed.' },
  { code: 'sieve_script_gap', severity: 'warning', description: 'Bytes of a script literal are missing (TCP gap); the saved script is partial.' },
  { code: 'sieve_script_parse_issues', severity: 'info', description: 'A saved script did not parse cleanly as Sieve (RFC 5228); actions were extracted as far as possible (issues in the sieve_scripts record).' },
  { code: 'sieve_starttls_injection', severity: 'error', description: 'Cleartext bytes were sent after STARTTLS on the same side before the TLS handshake (command/response injection).' },
  { code: 'sieve_sasl_error', severity: 'error', description: 'The SASL decoder failed on this exchange; the credential was recorded as far as known.' },
  { code: 'sieve_pipeline_overflow', severity: 'warning', description: 'More than maxPendingCommands commands were waiting for responses; the surplus was not queued.' },
];
