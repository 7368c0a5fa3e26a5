/**
 * POP3 APOP (RFC 1939 section 7): the client sends `APOP user md5hex` where md5hex is
 * MD5(<timestamp from the greeting> + shared secret), i.e. md5($salt.$pass).
 */

/** hashcat mode for md5($salt.$pass) (mode 10 is md5($pass.$salt)). */
export const HASHCAT_MODE_MD5_SALT_PASS = 20;

const HEX32 = /^[0-9a-fA-F]{32}$/;

/**
 * hashcat line for an APOP login: mode 20, `digest:salt`, the salt being the greeting's timestamp
 * exactly as sent, angle brackets included (e.g. `<1896.697170952@dbc.mtview.ca.us>`).
 *
 * `user` is not part of a mode-20 line (hashcat reads `user:digest:salt` only with `--username`); it
 * is accepted so callers pass the whole APOP fact, and must not contain ':' or line breaks to be
 * usable that way. Returns null when the digest is not 32 hex digits or the timestamp is empty or
 * contains a line break, since no hashcat line could be built from them.
 */
export function apopHashcat(timestamp: string, user: string, digestHex: string): { mode: number; line: string } | null {
  void user;
  if (!HEX32.test(digestHex)) return null;
  if (timestamp.length === 0 || /[\r\n]/.test(timestamp)) return null;
  return { mode: HASHCAT_MODE_MD5_SALT_PASS, line: `${digestHex.toLowerCase()}:${timestamp}` };
}
