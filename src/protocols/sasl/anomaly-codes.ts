import type { AnomalyCodeInfo } from '../../core/anomaly.js';

/**
 * Anomaly codes raised while decoding SASL exchanges (src/protocols/sasl). They appear in
 * `SaslResult.anomalies`; the protocol analyzer reports them with its own connection context.
 */
export const SASL_ANOMALIES: readonly AnomalyCodeInfo[] = Object.freeze([
  { code: 'sasl_bad_base64', severity: 'warning', description: 'A SASL step is not base64 (client response, or a server challenge the mechanism needs); its content could not be decoded.' },
  { code: 'sasl_base64_noncanonical', severity: 'info', description: 'A client SASL response is base64 only when read leniently (missing padding, URL-safe alphabet, stray whitespace).' },
  { code: 'sasl_line_too_long', severity: 'warning', description: 'A SASL step was longer than SASL_MAX_LINE_CHARS and was cut before decoding.' },
  { code: 'sasl_too_many_steps', severity: 'warning', description: 'The exchange had more than SASL_MAX_STEPS challenges and responses; later steps were ignored.' },
  { code: 'sasl_unexpected_step', severity: 'warning', description: 'A non-empty client response the mechanism has no use for (extra step, or a step after the client cancelled).' },
  { code: 'sasl_unknown_mechanism', severity: 'info', description: 'The SASL mechanism is not one the decoder knows; raw steps are kept as evidence.' },
  { code: 'sasl_non_utf8', severity: 'info', description: 'A SASL text field (identity, password, directive) is not valid UTF-8; shown as latin1.' },
  { code: 'sasl_malformed_plain', severity: 'warning', description: 'A PLAIN response is not [authzid] NUL authcid NUL passwd (RFC 4616); fields were read on a best-effort basis.' },
  { code: 'sasl_login_odd_prompt', severity: 'info', description: 'A LOGIN server prompt is neither "Username:" nor "Password:"; responses were assigned by order.' },
  { code: 'sasl_malformed_cram_md5', severity: 'warning', description: 'A CRAM-MD5 response is not "user SP 32-hex-digest" (RFC 2195); no hashcat line.' },
  { code: 'sasl_malformed_digest_md5', severity: 'warning', description: 'A DIGEST-MD5 challenge or response does not parse as RFC 2831 directives, or lacks username/nonce/response.' },
  { code: 'sasl_malformed_xoauth2', severity: 'warning', description: 'An XOAUTH2 response lacks the "user=" or "auth=" field, or its key=value list does not parse.' },
  { code: 'sasl_malformed_oauthbearer', severity: 'warning', description: 'An OAUTHBEARER response does not follow RFC 7628 (GS2 header, ^A-separated key=value pairs, auth=).' },
  { code: 'sasl_malformed_ntlm', severity: 'warning', description: 'An NTLM message is truncated, lacks the NTLMSSP signature, or has a field pointing outside it (MS-NLMP 2.2.1).' },
  { code: 'sasl_ntlm_unexpected_type', severity: 'warning', description: 'An NTLM message of the wrong type for its direction (e.g. a CHALLENGE sent by the client).' },
  { code: 'sasl_malformed_scram', severity: 'warning', description: 'A SCRAM message lacks required attributes (n=, r=, s=, i=, p=) or arrives out of order (RFC 5802).' },
  { code: 'sasl_internal_error', severity: 'error', description: 'The SASL decoder hit an unexpected error on this exchange; the result may be incomplete.' },
] as const);
