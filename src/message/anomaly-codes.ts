import type { AnomalyCodeInfo } from '../core/anomaly.js';

/** Anomaly codes of the message layer (`message_` for the whole message, `mime_` for its structure). */
export const MESSAGE_ANOMALIES: readonly AnomalyCodeInfo[] = Object.freeze([
  { code: 'message_too_large', severity: 'warning', description: 'Message exceeded maxMessageBytes; the rest was counted as missing, not stored or hashed.' },
  { code: 'message_partial', severity: 'warning', description: 'Message bytes are missing (gap in the stream, or the transfer did not complete).' },
  { code: 'mime_boundary_missing', severity: 'warning', description: 'A multipart entity ended without its closing boundary (or declared no boundary).' },
  { code: 'mime_too_deep', severity: 'warning', description: 'MIME nesting deeper than maxMimeDepth; the deeper entity is kept as one opaque leaf.' },
  { code: 'mime_too_many_parts', severity: 'warning', description: 'More MIME parts than maxMimeParts; further parts are not recorded.' },
  { code: 'mime_header_too_large', severity: 'warning', description: 'A header block exceeded maxHeaderBytes; the excess was not parsed.' },
  { code: 'mime_header_incomplete', severity: 'info', description: 'An entity ended (boundary, gap or end of message) before its header block ended.' },
  { code: 'mime_bad_base64', severity: 'info', description: 'Characters outside the base64 alphabet inside a base64 body (ignored).' },
  { code: 'mime_unknown_encoding', severity: 'info', description: 'Unknown Content-Transfer-Encoding; the body was passed through undecoded.' },
  { code: 'mime_encoded_message', severity: 'info', description: 'A message/rfc822 part carries a base64/quoted-printable encoding; it is kept as a leaf, not descended.' },
  { code: 'mime_header_bad_line', severity: 'info', description: 'A header line without a colon.' },
  { code: 'mime_header_8bit', severity: 'info', description: 'Header bytes that are not valid UTF-8; decoded as windows-1252.' },
]);
