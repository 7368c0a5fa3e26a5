/**
 * Cipher suites mailsleuth knows by name, and the parameters of those it can decrypt.
 * Names are the IANA registry names (https://www.iana.org/assignments/tls-parameters/).
 */

/** Bulk cipher as named by node:crypto, or null when mailsleuth cannot decrypt it. */
export type BulkCipher =
  | 'aes-128-gcm'
  | 'aes-256-gcm'
  | 'chacha20-poly1305'
  | 'aes-128-ccm'
  | 'aes-256-ccm'
  | 'aes-128-cbc'
  | 'aes-256-cbc'
  | 'des-ede3-cbc';

export interface CipherSuite {
  readonly code: number;
  readonly name: string;
  /** Key exchange; 'tls13' for TLS 1.3 suites (key exchange is negotiated separately). */
  readonly kx: 'rsa' | 'ecdhe' | 'dhe' | 'tls13' | 'other';
  /** null: not decryptable (RC4, NULL, export, camellia ...). */
  readonly cipher: BulkCipher | null;
  /** HMAC hash of CBC suites; null for AEAD. */
  readonly mac: 'sha1' | 'sha256' | 'sha384' | null;
  /** PRF hash (TLS 1.2) or HKDF hash (TLS 1.3). */
  readonly hash: 'sha256' | 'sha384';
  /** AEAD tag length (16, or 8 for CCM_8). */
  readonly tagLength: number;
}

function s(
  code: number,
  name: string,
  kx: CipherSuite['kx'],
  cipher: BulkCipher | null,
  mac: CipherSuite['mac'],
  hash: CipherSuite['hash'] = 'sha256',
  tagLength = 16,
): CipherSuite {
  return { code, name, kx, cipher, mac, hash, tagLength };
}

const LIST: CipherSuite[] = [
  // TLS 1.3, RFC 8446 §B.4
  s(0x1301, 'TLS_AES_128_GCM_SHA256', 'tls13', 'aes-128-gcm', null),
  s(0x1302, 'TLS_AES_256_GCM_SHA384', 'tls13', 'aes-256-gcm', null, 'sha384'),
  s(0x1303, 'TLS_CHACHA20_POLY1305_SHA256', 'tls13', 'chacha20-poly1305', null),
  s(0x1304, 'TLS_AES_128_CCM_SHA256', 'tls13', 'aes-128-ccm', null),
  s(0x1305, 'TLS_AES_128_CCM_8_SHA256', 'tls13', 'aes-128-ccm', null, 'sha256', 8),
  // ECDHE-RSA
  s(0xc02f, 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256', 'ecdhe', 'aes-128-gcm', null),
  s(0xc030, 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384', 'ecdhe', 'aes-256-gcm', null, 'sha384'),
  s(0xcca8, 'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256', 'ecdhe', 'chacha20-poly1305', null),
  s(0xc013, 'TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA', 'ecdhe', 'aes-128-cbc', 'sha1'),
  s(0xc014, 'TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA', 'ecdhe', 'aes-256-cbc', 'sha1'),
  s(0xc027, 'TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256', 'ecdhe', 'aes-128-cbc', 'sha256'),
  s(0xc028, 'TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384', 'ecdhe', 'aes-256-cbc', 'sha384', 'sha384'),
  s(0xc012, 'TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA', 'ecdhe', 'des-ede3-cbc', 'sha1'),
  s(0xc011, 'TLS_ECDHE_RSA_WITH_RC4_128_SHA', 'ecdhe', null, 'sha1'),
  // ECDHE-ECDSA
  s(0xc02b, 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256', 'ecdhe', 'aes-128-gcm', null),
  s(0xc02c, 'TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384', 'ecdhe', 'aes-256-gcm', null, 'sha384'),
  s(0xcca9, 'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256', 'ecdhe', 'chacha20-poly1305', null),
  s(0xc009, 'TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA', 'ecdhe', 'aes-128-cbc', 'sha1'),
  s(0xc00a, 'TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA', 'ecdhe', 'aes-256-cbc', 'sha1'),
  s(0xc023, 'TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256', 'ecdhe', 'aes-128-cbc', 'sha256'),
  s(0xc024, 'TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384', 'ecdhe', 'aes-256-cbc', 'sha384', 'sha384'),
  s(0xc0ac, 'TLS_ECDHE_ECDSA_WITH_AES_128_CCM', 'ecdhe', 'aes-128-ccm', null),
  s(0xc0ad, 'TLS_ECDHE_ECDSA_WITH_AES_256_CCM', 'ecdhe', 'aes-256-ccm', null),
  s(0xc0ae, 'TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8', 'ecdhe', 'aes-128-ccm', null, 'sha256', 8),
  s(0xc0af, 'TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8', 'ecdhe', 'aes-256-ccm', null, 'sha256', 8),
  // DHE-RSA
  s(0x009e, 'TLS_DHE_RSA_WITH_AES_128_GCM_SHA256', 'dhe', 'aes-128-gcm', null),
  s(0x009f, 'TLS_DHE_RSA_WITH_AES_256_GCM_SHA384', 'dhe', 'aes-256-gcm', null, 'sha384'),
  s(0xccaa, 'TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256', 'dhe', 'chacha20-poly1305', null),
  s(0x0033, 'TLS_DHE_RSA_WITH_AES_128_CBC_SHA', 'dhe', 'aes-128-cbc', 'sha1'),
  s(0x0039, 'TLS_DHE_RSA_WITH_AES_256_CBC_SHA', 'dhe', 'aes-256-cbc', 'sha1'),
  s(0x0067, 'TLS_DHE_RSA_WITH_AES_128_CBC_SHA256', 'dhe', 'aes-128-cbc', 'sha256'),
  s(0x006b, 'TLS_DHE_RSA_WITH_AES_256_CBC_SHA256', 'dhe', 'aes-256-cbc', 'sha256'),
  s(0x0016, 'TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA', 'dhe', 'des-ede3-cbc', 'sha1'),
  s(0xc09e, 'TLS_DHE_RSA_WITH_AES_128_CCM', 'dhe', 'aes-128-ccm', null),
  s(0xc09f, 'TLS_DHE_RSA_WITH_AES_256_CCM', 'dhe', 'aes-256-ccm', null),
  // RSA key exchange
  s(0x009c, 'TLS_RSA_WITH_AES_128_GCM_SHA256', 'rsa', 'aes-128-gcm', null),
  s(0x009d, 'TLS_RSA_WITH_AES_256_GCM_SHA384', 'rsa', 'aes-256-gcm', null, 'sha384'),
  s(0x002f, 'TLS_RSA_WITH_AES_128_CBC_SHA', 'rsa', 'aes-128-cbc', 'sha1'),
  s(0x0035, 'TLS_RSA_WITH_AES_256_CBC_SHA', 'rsa', 'aes-256-cbc', 'sha1'),
  s(0x003c, 'TLS_RSA_WITH_AES_128_CBC_SHA256', 'rsa', 'aes-128-cbc', 'sha256'),
  s(0x003d, 'TLS_RSA_WITH_AES_256_CBC_SHA256', 'rsa', 'aes-256-cbc', 'sha256'),
  s(0x000a, 'TLS_RSA_WITH_3DES_EDE_CBC_SHA', 'rsa', 'des-ede3-cbc', 'sha1'),
  s(0xc09c, 'TLS_RSA_WITH_AES_128_CCM', 'rsa', 'aes-128-ccm', null),
  s(0xc09d, 'TLS_RSA_WITH_AES_256_CCM', 'rsa', 'aes-256-ccm', null),
  s(0xc0a0, 'TLS_RSA_WITH_AES_128_CCM_8', 'rsa', 'aes-128-ccm', null, 'sha256', 8),
  s(0xc0a1, 'TLS_RSA_WITH_AES_256_CCM_8', 'rsa', 'aes-256-ccm', null, 'sha256', 8),
  s(0x0004, 'TLS_RSA_WITH_RC4_128_MD5', 'rsa', null, null),
  s(0x0005, 'TLS_RSA_WITH_RC4_128_SHA', 'rsa', null, 'sha1'),
  s(0x0001, 'TLS_RSA_WITH_NULL_MD5', 'rsa', null, null),
  s(0x0002, 'TLS_RSA_WITH_NULL_SHA', 'rsa', null, 'sha1'),
  s(0x003b, 'TLS_RSA_WITH_NULL_SHA256', 'rsa', null, 'sha256'),
  s(0x0041, 'TLS_RSA_WITH_CAMELLIA_128_CBC_SHA', 'rsa', null, 'sha1'),
  s(0x0084, 'TLS_RSA_WITH_CAMELLIA_256_CBC_SHA', 'rsa', null, 'sha1'),
  // Signalling values (RFC 5746, RFC 7507)
  s(0x00ff, 'TLS_EMPTY_RENEGOTIATION_INFO_SCSV', 'other', null, null),
  s(0x5600, 'TLS_FALLBACK_SCSV', 'other', null, null),
];

const BY_CODE = new Map<number, CipherSuite>(LIST.map((c) => [c.code, c]));

/** The suite for a code, or undefined when mailsleuth does not know it. */
export function cipherSuite(code: number): CipherSuite | undefined {
  return BY_CODE.get(code);
}

/** IANA name of a suite, or `0xNNNN` when unknown. */
export function cipherSuiteName(code: number): string {
  return BY_CODE.get(code)?.name ?? `0x${code.toString(16).padStart(4, '0')}`;
}

/** Key length in bytes of a bulk cipher. */
export function keyLength(c: BulkCipher): number {
  switch (c) {
    case 'aes-128-gcm':
    case 'aes-128-ccm':
    case 'aes-128-cbc':
      return 16;
    case 'des-ede3-cbc':
      return 24;
    default:
      return 32;
  }
}

/** Block length of a CBC cipher (AEAD: 0). */
export function blockLength(c: BulkCipher): number {
  if (c === 'des-ede3-cbc') return 8;
  if (c === 'aes-128-cbc' || c === 'aes-256-cbc') return 16;
  return 0;
}

/** Protocol version name, e.g. 0x0303 → 'TLS 1.2'. */
export function versionName(v: number): string {
  switch (v) {
    case 0x0300:
      return 'SSL 3.0';
    case 0x0301:
      return 'TLS 1.0';
    case 0x0302:
      return 'TLS 1.1';
    case 0x0303:
      return 'TLS 1.2';
    case 0x0304:
      return 'TLS 1.3';
    default:
      return `0x${v.toString(16).padStart(4, '0')}`;
  }
}
