import { constants, privateDecrypt, type KeyObject } from 'node:crypto';

/**
 * Decrypts an RSA-encrypted TLS pre-master secret (RFC 5246 §7.4.7.1, PKCS#1 v1.5 type 2).
 *
 * Node 20 refuses RSA_PKCS1_PADDING decryption (CVE-2023-46809 mitigation), so the raw RSA
 * operation is done with RSA_NO_PADDING and the padding is checked here, without early exits
 * on the padding bytes. Returns null when the block is not a valid 48-byte pre-master secret.
 * (Mailsleuth is passive: there is no oracle to protect, the care is only good hygiene.)
 */
export function decryptRsaPremaster(key: KeyObject, modulusBytes: number, encrypted: Uint8Array): Uint8Array | null {
  if (encrypted.length === 0 || encrypted.length > modulusBytes) return null;
  let input = encrypted;
  if (encrypted.length < modulusBytes) {
    input = new Uint8Array(modulusBytes);
    input.set(encrypted, modulusBytes - encrypted.length);
  }
  let em: Uint8Array;
  try {
    em = privateDecrypt({ key, padding: constants.RSA_NO_PADDING }, input);
  } catch {
    return null;
  }
  const k = em.length;
  // EM = 0x00 || 0x02 || PS (>= 8 non-zero bytes) || 0x00 || M, with |M| = 48 for TLS.
  const sep = k - 49;
  let bad = em[0]! | (em[1]! ^ 0x02) | em[sep]!;
  for (let i = 2; i < sep; i++) bad |= em[i] === 0 ? 1 : 0;
  if (sep < 10) bad |= 1;
  if (bad !== 0) return null;
  return em.slice(k - 48);
}
