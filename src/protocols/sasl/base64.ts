/**
 * Base64 for SASL lines (RFC 4648 section 4, the alphabet RFC 4422 / RFC 4954 use on the wire).
 * Own table-driven decoder: works on `Uint8Array`, no Node `Buffer`, one output allocation per line.
 */

/** 255 = not in the alphabet. */
const DECODE = new Uint8Array(256).fill(255);
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i;

/** URL-safe alphabet (RFC 4648 section 5), accepted by the lenient decoder only. */
const DECODE_URL = DECODE.slice();
DECODE_URL['-'.charCodeAt(0)] = 62;
DECODE_URL['_'.charCodeAt(0)] = 63;

const PAD = 0x3d; // '='

function sextet(table: Uint8Array, code: number): number {
  return code > 0xff ? 255 : table[code]!;
}

function decodeQuads(text: string, start: number, end: number, table: Uint8Array): Uint8Array | null {
  // `end` excludes padding; a lone trailing character cannot encode a byte.
  const n = end - start;
  const rem = n % 4;
  if (rem === 1) return null;
  const out = new Uint8Array(((n - rem) / 4) * 3 + (rem === 0 ? 0 : rem - 1));
  let o = 0;
  let i = start;
  const full = end - rem;
  while (i < full) {
    const a = sextet(table, text.charCodeAt(i));
    const b = sextet(table, text.charCodeAt(i + 1));
    const c = sextet(table, text.charCodeAt(i + 2));
    const d = sextet(table, text.charCodeAt(i + 3));
    if ((a | b | c | d) === 255) return null;
    out[o++] = (a << 2) | (b >> 4);
    out[o++] = ((b & 15) << 4) | (c >> 2);
    out[o++] = ((c & 3) << 6) | d;
    i += 4;
  }
  if (rem >= 2) {
    const a = sextet(table, text.charCodeAt(i));
    const b = sextet(table, text.charCodeAt(i + 1));
    if ((a | b) === 255) return null;
    out[o++] = (a << 2) | (b >> 4);
    if (rem === 3) {
      const c = sextet(table, text.charCodeAt(i + 2));
      if (c === 255) return null;
      out[o++] = ((b & 15) << 4) | (c >> 2);
    }
  }
  return out;
}

/**
 * Decodes canonical base64: standard alphabet, length a multiple of 4, at most two `=` and only at
 * the end, no whitespace. The empty string decodes to zero bytes. Returns null when the text is not
 * valid base64 (never throws). Non-zero pad bits are tolerated (they are ignored).
 */
export function decodeBase64Strict(text: string): Uint8Array | null {
  const len = text.length;
  if (len % 4 !== 0) return null;
  let end = len;
  if (end > 0 && text.charCodeAt(end - 1) === PAD) end--;
  if (end > 0 && text.charCodeAt(end - 1) === PAD) end--;
  if (end % 4 === 1) return null;
  return decodeQuads(text, 0, end, DECODE);
}

/**
 * Best-effort decoding for what real clients send: surrounding whitespace, missing padding and
 * the URL-safe alphabet are accepted. Inner whitespace or foreign characters still fail (null).
 */
export function decodeBase64Lenient(text: string): Uint8Array | null {
  let start = 0;
  let end = text.length;
  while (start < end && isSpace(text.charCodeAt(start))) start++;
  while (end > start && isSpace(text.charCodeAt(end - 1))) end--;
  let padEnd = end;
  let pads = 0;
  while (padEnd > start && text.charCodeAt(padEnd - 1) === PAD && pads < 2) {
    padEnd--;
    pads++;
  }
  // Padding, when present, must complete a quad.
  if (pads > 0 && (padEnd - start + pads) % 4 !== 0) return null;
  return decodeQuads(text, start, padEnd, DECODE_URL);
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a;
}

/** Standard base64 with padding (for canonical hashcat fields). */
export function encodeBase64(bytes: Uint8Array): string {
  let s = '';
  const n = bytes.length;
  let i = 0;
  for (; i + 2 < n; i += 3) {
    const v = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    s += ALPHABET[v >> 18]! + ALPHABET[(v >> 12) & 63]! + ALPHABET[(v >> 6) & 63]! + ALPHABET[v & 63]!;
  }
  if (i < n) {
    const b0 = bytes[i]!;
    const b1 = i + 1 < n ? bytes[i + 1]! : 0;
    const v = (b0 << 16) | (b1 << 8);
    s += ALPHABET[v >> 18]! + ALPHABET[(v >> 12) & 63]!;
    s += i + 1 < n ? ALPHABET[(v >> 6) & 63]! + '=' : '==';
  }
  return s;
}
