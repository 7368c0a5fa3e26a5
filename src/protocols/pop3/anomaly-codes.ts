import type { AnomalyCodeInfo } from '../../core/anomaly.js';

/**
 * Anomaly codes raised by the POP3 analyzer (besides `line_too_long` from the line framer,
 * `reply_too_many_lines` from the SMTP catalog, and `sasl_*` codes passed through from the SASL module).
 */
export const POP3_ANOMALIES: readonly AnomalyCodeInfo[] = [
  { code: 'pop3_midstream', severity: 'info', description: 'The capture starts inside the POP3 session (no greeting); parsing began at the first line that parses.' },
  { code: 'pop3_bare_lf', severity: 'warning', description: 'A command or status line ended with a bare LF instead of CRLF (reported once per session).' },
  { code: 'pop3_body_bare_lf_dot', severity: 'info', description: 'A RETR/TOP body has a "." after a bare LF or a "." line ended by a bare LF; only CRLF.CRLF ended it.' },
  { code: 'pop3_greeting_refused', severity: 'info', description: 'The server greeted with -ERR (RFC 1939 §4): it refused the session.' },
  { code: 'pop3_command_before_greeting', severity: 'warning', description: 'The client sent commands before the server greeting.' },
  { code: 'pop3_unmatched_reply', severity: 'warning', description: 'A server status line arrived with no command waiting for one.' },
  { code: 'pop3_bad_reply_line', severity: 'warning', description: 'A server line is neither +OK, -ERR nor a SASL continuation where a status line was expected.' },
  { code: 'pop3_unknown_command', severity: 'info', description: 'The client sent a command the analyzer does not know (listed in facts.unknown_commands; reported once per session).' },
  { code: 'pop3_command_wrong_state', severity: 'warning', description: 'A command was sent in a state where RFC 1939 does not allow it (e.g. RETR before login, USER after login).' },
  { code: 'pop3_command_after_quit', severity: 'info', description: 'The client sent more commands after QUIT was answered.' },
  { code: 'pop3_pipeline_overflow', severity: 'warning', description: 'More than maxPendingCommands commands were waiting for replies; the oldest was dropped.' },
  { code: 'pop3_bad_argument', severity: 'info', description: 'A message-number argument (RETR, TOP, DELE, LIST, UIDL) is not a positive decimal number.' },
  { code: 'pop3_apop_without_timestamp', severity: 'warning', description: 'APOP was used but the greeting carried no <timestamp>: no crackable line can be built.' },
  { code: 'pop3_octets_mismatch', severity: 'info', description: 'The size of a RETR body differs from the "+OK n octets" announcement or the LIST size.' },
  { code: 'pop3_listing_bad_line', severity: 'info', description: 'A LIST/UIDL scan-listing line does not parse as "msg value".' },
  { code: 'pop3_response_incomplete', severity: 'warning', description: 'A multi-line response (listing or message) did not end with "." (connection ended, gap, or a status line inside it).' },
  { code: 'pop3_sasl_error', severity: 'error', description: 'The SASL decoder failed on an AUTH exchange (internal error, the exchange was dropped); please report it with the capture.' },
  { code: 'pop3_stls_injection', severity: 'error', description: 'Cleartext bytes followed STLS on the same side before the TLS handshake (command/response injection, CVE-2011-0411 class).' },
];
