/** Byte-to-text helpers for SASL fields. */

/**
 * Decodes bytes as ISO-8859-1 (each byte one code point), the lossless way to show protocol
 * bytes that are not UTF-8. Never throws.
 */
export function decodeLatin1(bytes: Uint8Array): string {
  let s = '';
  const CHUNK = 8192;
  for (let i = 0; i < bytes.length; i += CHUNK) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + CHUNK) as unknown as number[]);
  }
  return s;
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * SASL strings are UTF-8 (RFC 4422 section 3.4.1, RFC 4616 section 2). Returns the UTF-8 text, or
 * the latin1 reading with `utf8: false` when the bytes are not valid UTF-8.
 */
export function decodeUtf8OrLatin1(bytes: Uint8Array): { text: string; utf8: boolean } {
  try {
    return { text: UTF8.decode(bytes), utf8: true };
  } catch {
    return { text: decodeLatin1(bytes), utf8: false };
  }
}

/** UTF-16LE (NTLM with NTLMSSP_NEGOTIATE_UNICODE). An odd trailing byte is dropped. */
export function decodeUtf16le(bytes: Uint8Array): string {
  let s = '';
  const n = bytes.length & ~1;
  for (let i = 0; i < n; i += 2) s += String.fromCharCode(bytes[i]! | (bytes[i + 1]! << 8));
  return s;
}

const HEX = '0123456789abcdef';

/** Lower-case hex of the bytes. */
export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += HEX[bytes[i]! >> 4]! + HEX[bytes[i]! & 15]!;
  return s;
}
