import type { AnomalyCodeInfo } from '../../core/anomaly.js';

/**
 * Anomaly codes raised by the IMAP analyzer (besides `line_too_long` from the line framer and
 * `sasl_*` codes passed through from the SASL module).
 */
export const IMAP_ANOMALIES: readonly AnomalyCodeInfo[] = [
  { code: 'imap_midstream', severity: 'info', description: 'The capture starts inside the IMAP session (no greeting); parsing began at the first line that parses.' },
  { code: 'imap_bare_lf', severity: 'warning', description: 'A command or response line ended with a bare LF instead of CRLF (reported once per session).' },
  { code: 'imap_literal_size_invalid', severity: 'warning', description: 'A literal announced a size with more than 15 digits; it was not framed as a literal.' },
  { code: 'imap_literal_incomplete', severity: 'warning', description: 'The session ended (or a gap hit) inside a literal: fewer bytes than announced were seen.' },
  { code: 'imap_syntax', severity: 'info', description: 'A command or response did not follow the RFC 3501/9051 grammar (unbalanced parenthesis, unterminated quote ...); parsed leniently.' },
  { code: 'imap_too_deep', severity: 'warning', description: 'Lists nested deeper than the tokenizer depth limit; the deeper levels were flattened.' },
  { code: 'imap_too_many_literals', severity: 'warning', description: 'A logical line carried more literals than maxReplyLines; the line was cut there.' },
  { code: 'imap_unmatched_tag', severity: 'warning', description: 'A tagged response carries a tag no pending command used.' },
  { code: 'imap_duplicate_tag', severity: 'info', description: 'A command reused the tag of a command still waiting for its completion.' },
  { code: 'imap_pending_overflow', severity: 'warning', description: 'More than maxPendingCommands commands were waiting for completions; the oldest was dropped.' },
  { code: 'imap_unknown_command', severity: 'info', description: 'The client sent a command the analyzer does not know (listed in facts.unknown_commands; reported once per session).' },
  { code: 'imap_bad_command_line', severity: 'warning', description: 'A client line is not a command (no tag or verb) outside any exchange.' },
  { code: 'imap_bad_response_line', severity: 'warning', description: 'A server line does not parse as an IMAP response.' },
  { code: 'imap_command_before_auth', severity: 'warning', description: 'A command needing authentication was sent in the not-authenticated state.' },
  { code: 'imap_command_not_selected', severity: 'info', description: 'A command needing a selected mailbox was sent with none selected.' },
  { code: 'imap_command_after_logout', severity: 'info', description: 'The client sent commands after LOGOUT or the server BYE.' },
  { code: 'imap_unexpected_continuation', severity: 'info', description: 'The server sent a "+" continuation with no literal, AUTHENTICATE or IDLE waiting for one.' },
  { code: 'imap_login_disabled', severity: 'info', description: 'LOGIN was sent although the server announced LOGINDISABLED (RFC 3501 §6.2.3).' },
  { code: 'imap_starttls_injection', severity: 'error', description: 'Cleartext bytes were sent after STARTTLS was accepted before the TLS handshake (command/response injection, CVE-2011-0411 class).' },
  { code: 'imap_compress_unsupported', severity: 'warning', description: 'COMPRESS=DEFLATE was accepted but the inflater is unavailable or failed: the rest of the session is counted, not parsed.' },
  { code: 'imap_compress_bomb', severity: 'warning', description: 'One compressed chunk inflated past maxInflateBytesPerChunk (decompression bomb); the rest of that direction is counted, not parsed.' },
  { code: 'imap_sasl_error', severity: 'error', description: 'The SASL decoder failed on an AUTHENTICATE exchange; the credential was recorded as far as known.' },
];
