import type { AnomalyCodeInfo } from '../../core/anomaly.js';

/**
 * Anomaly codes raised by the SMTP analyzer (besides `line_too_long` from the line framer,
 * listed in LINE_FRAMER_ANOMALIES, and `smtp_sasl_*` codes passed through from the SASL module).
 */
export const SMTP_ANOMALIES: readonly AnomalyCodeInfo[] = [
  { code: 'smtp_midstream', severity: 'info', description: 'The capture starts inside the SMTP session (no greeting); parsing began at the first line that parses.' },
  { code: 'smtp_bare_lf', severity: 'warning', description: 'A command or reply line ended with a bare LF instead of CRLF (reported once per session).' },
  { code: 'smtp_data_bare_lf_dot', severity: 'warning', description: 'DATA body has a "." after a bare LF or a "." line ended by a bare LF: the SMTP smuggling pattern; only CRLF.CRLF ended the data.' },
  { code: 'smtp_command_before_greeting', severity: 'warning', description: 'The client sent commands before the server greeting (early talker, typical of spam bots).' },
  { code: 'smtp_unmatched_reply', severity: 'warning', description: 'A server reply arrived with no command waiting for one.' },
  { code: 'smtp_reply_skipped', severity: 'warning', description: 'A reply code that answers only one command (334/235 AUTH, 354 DATA) arrived while earlier commands waited: their replies were lost (e.g. swallowed by a malformed line) and they left the queue.' },
  { code: 'smtp_unexpected_reply', severity: 'warning', description: 'A reply code that answers only one command (334/235 AUTH, 354 DATA) arrived with no such command waiting: recorded, not paired.' },
  { code: 'smtp_bad_reply_line', severity: 'warning', description: 'A server line does not parse as a reply (NNN[ -]text).' },
  { code: 'smtp_reply_code_mismatch', severity: 'warning', description: 'Lines of one multi-line reply carry different codes.' },
  { code: 'smtp_reply_incomplete', severity: 'info', description: 'The session ended inside a multi-line reply.' },
  { code: 'reply_too_many_lines', severity: 'warning', description: 'A multi-line reply had more than maxReplyLines lines; the rest were counted, not kept.' },
  { code: 'smtp_unknown_command', severity: 'info', description: 'The client sent a command verb the analyzer does not know (listed in facts.unknown_commands; reported once per session).' },
  { code: 'smtp_nested_mail_transaction', severity: 'warning', description: 'MAIL was sent while a transaction was open.' },
  { code: 'smtp_rcpt_without_mail', severity: 'warning', description: 'RCPT was sent with no MAIL before it.' },
  { code: 'smtp_data_without_rcpt', severity: 'warning', description: 'DATA or BDAT was sent with no RCPT before it.' },
  { code: 'smtp_auth_in_transaction', severity: 'warning', description: 'AUTH was sent inside a mail transaction.' },
  { code: 'smtp_path_syntax', severity: 'info', description: 'MAIL FROM / RCPT TO path did not follow RFC 5321 syntax (no angle brackets, missing keyword, unterminated).' },
  { code: 'smtp_too_many_recipients', severity: 'warning', description: 'A transaction had more than maxRecipients RCPT commands; the rest were counted, not kept.' },
  { code: 'smtp_pipeline_overflow', severity: 'warning', description: 'More than maxPendingCommands commands were waiting for replies; the oldest was dropped.' },
  { code: 'smtp_bdat_bad_size', severity: 'error', description: 'BDAT argument is not `chunk-size [LAST]` (RFC 3030 §2): the server refuses it and reads no chunk; resynchronising on the next command.' },
  { code: 'smtp_huge_bdat_chunk', severity: 'warning', description: 'BDAT chunk larger than maxMessageBytes.' },
  { code: 'smtp_data_unterminated', severity: 'warning', description: 'The server replied before the end of the DATA body was seen: the message is partial.' },
  { code: 'smtp_data_rejected_body_sent', severity: 'warning', description: 'DATA was refused but the client had already sent body bytes (it did not wait for 354).' },
  { code: 'smtp_starttls_injection', severity: 'error', description: 'Cleartext bytes were sent after STARTTLS on the same side before the TLS handshake (command/response injection, CVE-2011-0411 class).' },
  { code: 'smtp_data_after_quit', severity: 'info', description: 'The client sent more commands after QUIT.' },
  { code: 'smtp_sasl_inferred', severity: 'info', description: 'After AUTH, client base64 lines were taken as SASL responses without a visible 334 challenge (server side lost or not captured); the credential is decoded, its outcome known only from a 235/535.' },
  { code: 'smtp_starttls_inside_tls', severity: 'warning', description: 'A second STARTTLS was accepted inside the decrypted session (RFC 3207 forbids it); the rest is not parsed.' },
  { code: 'smtp_sasl_error', severity: 'error', description: 'The SASL decoder failed on this exchange; the credential was recorded as far as known.' },
];
