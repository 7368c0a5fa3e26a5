import { createDecipheriv, createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import { blockLength, keyLength, type CipherSuite } from './cipher-suites.js';

/** Result of decrypting one record: the (inner) content type and the plaintext (owned). */
export type DecryptResult =
  | { readonly ok: true; readonly type: number; readonly data: Uint8Array }
  | { readonly ok: false; readonly reason: 'bad_mac' | 'auth' | 'malformed' };

/** Decrypts the records of one direction; keeps its own sequence number. */
export interface RecordDecryptor {
  /** `frag` is the record body (borrowed); `type`/`version` from the record header. */
  decrypt(type: number, version: number, frag: Uint8Array): DecryptResult;
  /** Records decrypted so far (the next sequence number). */
  readonly seq: number;
}

const FAIL_AUTH: DecryptResult = { ok: false, reason: 'auth' };
const FAIL_MAC: DecryptResult = { ok: false, reason: 'bad_mac' };
const FAIL_MALFORMED: DecryptResult = { ok: false, reason: 'malformed' };

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (b.length === 0) return a;
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** Writes a 64-bit big-endian sequence number (< 2^53) at `off`. */
function writeSeq(out: Uint8Array, off: number, seq: number): void {
  const hi = Math.floor(seq / 0x1_0000_0000);
  const lo = seq >>> 0;
  out[off] = hi >>> 24;
  out[off + 1] = (hi >>> 16) & 0xff;
  out[off + 2] = (hi >>> 8) & 0xff;
  out[off + 3] = hi & 0xff;
  out[off + 4] = lo >>> 24;
  out[off + 5] = (lo >>> 16) & 0xff;
  out[off + 6] = (lo >>> 8) & 0xff;
  out[off + 7] = lo & 0xff;
}

/** Nonce = iv XOR (seq left-padded to the IV length): RFC 8446 §5.3, RFC 7905 §2. */
function xorNonce(iv: Uint8Array, seq: number, out: Uint8Array): void {
  out.set(iv);
  const n = iv.length;
  const hi = Math.floor(seq / 0x1_0000_0000);
  const lo = seq >>> 0;
  out[n - 1]! ^= lo & 0xff;
  out[n - 2]! ^= (lo >>> 8) & 0xff;
  out[n - 3]! ^= (lo >>> 16) & 0xff;
  out[n - 4]! ^= lo >>> 24;
  out[n - 5]! ^= hi & 0xff;
  out[n - 6]! ^= (hi >>> 8) & 0xff;
  out[n - 7]! ^= (hi >>> 16) & 0xff;
  out[n - 8]! ^= hi >>> 24;
}

/** AEAD open; returns null when authentication fails. */
function aeadOpen(
  cipher: string,
  key: KeyObject,
  nonce: Uint8Array,
  aad: Uint8Array,
  ct: Uint8Array,
  tag: Uint8Array,
): Uint8Array | null {
  try {
    const isCcm = cipher.endsWith('-ccm');
    const d = createDecipheriv(cipher as 'aes-128-gcm', key, nonce, { authTagLength: tag.length });
    d.setAuthTag(tag);
    if (isCcm) (d as unknown as { setAAD(b: Uint8Array, o: { plaintextLength: number }): void }).setAAD(aad, { plaintextLength: ct.length });
    else d.setAAD(aad);
    const a = d.update(ct);
    if (isCcm) return a; // CCM authenticates in update(); final() must not be called
    const b = d.final();
    return b.length === 0 ? a : concat(a, b);
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// Key derivation

/** HMAC helper. */
function hmac(hash: string, key: Uint8Array | KeyObject, ...parts: Uint8Array[]): Uint8Array {
  const h = createHmac(hash, key);
  for (const p of parts) h.update(p);
  return h.digest();
}

/** P_hash (RFC 5246 §5). */
function pHash(hash: string, secret: Uint8Array, seed: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let a: Uint8Array = seed;
  let off = 0;
  while (off < length) {
    a = hmac(hash, secret, a);
    const block = hmac(hash, secret, a, seed);
    out.set(block.subarray(0, Math.min(block.length, length - off)), off);
    off += block.length;
  }
  return out;
}

/**
 * TLS PRF: RFC 5246 §5 (TLS 1.2, P_SHA256 or the suite's hash) and RFC 2246 §5 (TLS 1.0/1.1:
 * P_MD5 XOR P_SHA1 over the two halves of the secret).
 */
export function tlsPrf(version: number, hash: 'sha256' | 'sha384', secret: Uint8Array, label: string, seed: Uint8Array, length: number): Uint8Array {
  const ls = concat(new TextEncoder().encode(label), seed);
  if (version >= 0x0303) return pHash(hash, secret, ls, length);
  const half = Math.ceil(secret.length / 2);
  const md5 = pHash('md5', secret.subarray(0, half), ls, length);
  const sha1 = pHash('sha1', secret.subarray(secret.length - half), ls, length);
  for (let i = 0; i < length; i++) md5[i]! ^= sha1[i]!;
  return md5;
}

/** HKDF-Expand (RFC 5869 §2.3). */
export function hkdfExpand(hash: 'sha256' | 'sha384', prk: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let t: Uint8Array = new Uint8Array(0);
  let off = 0;
  for (let i = 1; off < length; i++) {
    t = hmac(hash, prk, t, info, Uint8Array.of(i));
    out.set(t.subarray(0, Math.min(t.length, length - off)), off);
    off += t.length;
  }
  return out;
}

/** HKDF-Expand-Label (RFC 8446 §7.1) with an empty or given context. */
export function hkdfExpandLabel(hash: 'sha256' | 'sha384', secret: Uint8Array, label: string, context: Uint8Array, length: number): Uint8Array {
  const l = new TextEncoder().encode(`tls13 ${label}`);
  const info = new Uint8Array(2 + 1 + l.length + 1 + context.length);
  info[0] = length >>> 8;
  info[1] = length & 0xff;
  info[2] = l.length;
  info.set(l, 3);
  info[3 + l.length] = context.length;
  info.set(context, 4 + l.length);
  return hkdfExpand(hash, secret, info, length);
}

/** Next application traffic secret after a KeyUpdate (RFC 8446 §7.2). */
export function nextTrafficSecret(hash: 'sha256' | 'sha384', secret: Uint8Array): Uint8Array {
  return hkdfExpandLabel(hash, secret, 'traffic upd', new Uint8Array(0), hash === 'sha384' ? 48 : 32);
}

/** TLS 1.2 key block split (RFC 5246 §6.3). */
export interface Tls12Keys {
  clientMac: Uint8Array;
  serverMac: Uint8Array;
  clientKey: Uint8Array;
  serverKey: Uint8Array;
  clientIv: Uint8Array;
  serverIv: Uint8Array;
}

/** Master secret (RFC 5246 §8.1) or extended master secret (RFC 7627 §4) from a pre-master secret. */
export function masterSecret(
  version: number,
  suite: CipherSuite,
  preMaster: Uint8Array,
  clientRandom: Uint8Array,
  serverRandom: Uint8Array,
  sessionHash: Uint8Array | null,
): Uint8Array {
  if (sessionHash) return tlsPrf(version, suite.hash, preMaster, 'extended master secret', sessionHash, 48);
  return tlsPrf(version, suite.hash, preMaster, 'master secret', concat(clientRandom, serverRandom), 48);
}

/** Expands the key block of a TLS 1.0-1.2 suite (RFC 5246 §6.3). */
export function tls12KeyBlock(version: number, suite: CipherSuite, master: Uint8Array, clientRandom: Uint8Array, serverRandom: Uint8Array): Tls12Keys {
  const cipher = suite.cipher!;
  const macLen = suite.mac === 'sha1' ? 20 : suite.mac === 'sha256' ? 32 : suite.mac === 'sha384' ? 48 : 0;
  const keyLen = keyLength(cipher);
  const block = blockLength(cipher);
  // AEAD: GCM/CCM 4-byte salt (RFC 5288 §3, RFC 6655 §3), ChaCha20 12-byte IV (RFC 7905 §2);
  // CBC: implicit IV only in TLS 1.0 (RFC 2246 §6.3), explicit per record since TLS 1.1.
  const ivLen = cipher === 'chacha20-poly1305' ? 12 : block === 0 ? 4 : version <= 0x0301 ? block : 0;
  const kb = tlsPrf(version, suite.hash, master, 'key expansion', concat(serverRandom, clientRandom), 2 * (macLen + keyLen + ivLen));
  let o = 0;
  const take = (n: number): Uint8Array => {
    const v = kb.slice(o, o + n);
    o += n;
    return v;
  };
  const clientMac = take(macLen);
  const serverMac = take(macLen);
  const clientKey = take(keyLen);
  const serverKey = take(keyLen);
  const clientIv = take(ivLen);
  const serverIv = take(ivLen);
  return { clientMac, serverMac, clientKey, serverKey, clientIv, serverIv };
}

// ---------------------------------------------------------------------------------------------
// Record decryptors

/** TLS 1.2 AEAD (GCM/CCM: RFC 5288 §3, RFC 6655; ChaCha20-Poly1305: RFC 7905). */
class Tls12AeadDecryptor implements RecordDecryptor {
  seq = 0;
  readonly #cipher: string;
  readonly #key: KeyObject;
  readonly #iv: Uint8Array;
  readonly #tagLen: number;
  readonly #nonce: Uint8Array;
  readonly #aad = new Uint8Array(13);
  readonly #explicit: boolean;

  constructor(cipher: string, key: Uint8Array, iv: Uint8Array, tagLen: number) {
    this.#cipher = cipher;
    this.#key = createSecretKey(key);
    this.#iv = iv;
    this.#tagLen = tagLen;
    this.#nonce = new Uint8Array(12);
    this.#explicit = cipher !== 'chacha20-poly1305';
  }

  decrypt(type: number, version: number, frag: Uint8Array): DecryptResult {
    const explicitLen = this.#explicit ? 8 : 0;
    const ctLen = frag.length - explicitLen - this.#tagLen;
    if (ctLen < 0) return FAIL_MALFORMED;
    if (this.#explicit) {
      // nonce = salt (4, from the key block) || explicit nonce (8, from the record)
      this.#nonce.set(this.#iv, 0);
      this.#nonce.set(frag.subarray(0, 8), 4);
    } else {
      xorNonce(this.#iv, this.seq, this.#nonce);
    }
    // additional_data = seq_num + type + version + length (RFC 5246 §6.2.3.3)
    const aad = this.#aad;
    writeSeq(aad, 0, this.seq);
    aad[8] = type;
    aad[9] = version >>> 8;
    aad[10] = version & 0xff;
    aad[11] = ctLen >>> 8;
    aad[12] = ctLen & 0xff;
    const ct = frag.subarray(explicitLen, explicitLen + ctLen);
    const tag = frag.subarray(explicitLen + ctLen);
    const pt = aeadOpen(this.#cipher, this.#key, this.#nonce, aad, ct, tag);
    if (pt === null) return FAIL_AUTH;
    this.seq++;
    return { ok: true, type, data: pt };
  }
}

/** TLS 1.0-1.2 CBC with HMAC: MAC-then-encrypt (RFC 5246 §6.2.3.2) or encrypt-then-MAC (RFC 7366). */
class Tls12CbcDecryptor implements RecordDecryptor {
  seq = 0;
  readonly #cipher: string;
  readonly #key: KeyObject;
  readonly #macKey: KeyObject;
  readonly #macHash: string;
  readonly #macLen: number;
  readonly #block: number;
  /** TLS 1.0 only: the chained IV (last ciphertext block of the previous record). */
  #iv: Uint8Array | null;
  readonly #etm: boolean;
  readonly #hdr = new Uint8Array(13);

  constructor(suite: CipherSuite, key: Uint8Array, macKey: Uint8Array, iv: Uint8Array, etm: boolean) {
    this.#cipher = suite.cipher!;
    this.#key = createSecretKey(key);
    this.#macKey = createSecretKey(macKey);
    this.#macHash = suite.mac!;
    this.#macLen = macKey.length;
    this.#block = blockLength(suite.cipher!);
    this.#iv = iv.length > 0 ? iv : null;
    this.#etm = etm;
  }

  #mac(type: number, version: number, data: Uint8Array): Uint8Array {
    const h = this.#hdr;
    writeSeq(h, 0, this.seq);
    h[8] = type;
    h[9] = version >>> 8;
    h[10] = version & 0xff;
    h[11] = data.length >>> 8;
    h[12] = data.length & 0xff;
    return hmac(this.#macHash, this.#macKey, h, data);
  }

  #cbc(iv: Uint8Array, ct: Uint8Array): Uint8Array | null {
    try {
      const d = createDecipheriv(this.#cipher, this.#key, iv);
      d.setAutoPadding(false);
      const a = d.update(ct);
      const b = d.final();
      return b.length === 0 ? a : concat(a, b);
    } catch {
      return null;
    }
  }

  decrypt(type: number, version: number, frag: Uint8Array): DecryptResult {
    const bl = this.#block;
    const ivLen = this.#iv === null ? bl : 0;
    if (this.#etm) {
      const body = frag.length - this.#macLen;
      if (body < ivLen + bl || (body - ivLen) % bl !== 0) return FAIL_MALFORMED;
      const enc = frag.subarray(0, body);
      const expected = this.#mac(type, version, enc);
      if (!timingSafeEqual(expected, frag.subarray(body))) return FAIL_MAC;
      const iv = ivLen > 0 ? enc.subarray(0, ivLen) : this.#iv!;
      const ct = enc.subarray(ivLen);
      const pt = this.#cbc(iv, ct);
      if (pt === null) return FAIL_MALFORMED;
      if (this.#iv !== null) this.#iv = ct.slice(ct.length - bl);
      const pad = pt[pt.length - 1]!;
      if (pad + 1 > pt.length) return FAIL_MAC;
      for (let i = pt.length - 1 - pad; i < pt.length; i++) if (pt[i] !== pad) return FAIL_MAC;
      this.seq++;
      return { ok: true, type, data: pt.subarray(0, pt.length - 1 - pad) };
    }
    if (frag.length < ivLen + bl || (frag.length - ivLen) % bl !== 0 || frag.length - ivLen < this.#macLen + 1) return FAIL_MALFORMED;
    const iv = ivLen > 0 ? frag.subarray(0, ivLen) : this.#iv!;
    const ct = frag.subarray(ivLen);
    const pt = this.#cbc(iv, ct);
    if (pt === null) return FAIL_MALFORMED;
    if (this.#iv !== null) this.#iv = ct.slice(ct.length - bl);
    // Padding check (RFC 5246 §6.2.3.2): every padding byte equals the padding length.
    const pad = pt[pt.length - 1]!;
    let padOk = pad + 1 + this.#macLen <= pt.length;
    const padLen = padOk ? pad + 1 : 1;
    for (let i = pt.length - padLen; i < pt.length; i++) if (pt[i] !== pad) padOk = false;
    const contentLen = Math.max(0, pt.length - padLen - this.#macLen);
    const content = pt.subarray(0, contentLen);
    const expected = this.#mac(type, version, content);
    const got = pt.subarray(contentLen, contentLen + this.#macLen);
    const macOk = got.length === expected.length && timingSafeEqual(expected, got);
    if (!padOk || !macOk) return FAIL_MAC;
    this.seq++;
    return { ok: true, type, data: content };
  }
}

/** TLS 1.3 record protection (RFC 8446 §5.2-5.4): AEAD over the record, inner content type. */
export class Tls13Decryptor implements RecordDecryptor {
  seq = 0;
  readonly #cipher: string;
  readonly #hash: 'sha256' | 'sha384';
  readonly #tagLen: number;
  #secret: Uint8Array;
  #key!: KeyObject;
  #iv!: Uint8Array;
  readonly #nonce = new Uint8Array(12);
  readonly #aad = new Uint8Array(5);

  constructor(suite: CipherSuite, secret: Uint8Array) {
    this.#cipher = suite.cipher!;
    this.#hash = suite.hash;
    this.#tagLen = suite.tagLength;
    this.#secret = secret;
    this.#setKeys();
  }

  #setKeys(): void {
    // RFC 8446 §7.3: key = HKDF-Expand-Label(Secret, "key", "", key_length), iv likewise (12).
    this.#key = createSecretKey(hkdfExpandLabel(this.#hash, this.#secret, 'key', new Uint8Array(0), keyLength(this.#cipher as 'aes-128-gcm')));
    this.#iv = hkdfExpandLabel(this.#hash, this.#secret, 'iv', new Uint8Array(0), 12);
  }

  /** Switches to the next generation of traffic keys (KeyUpdate, RFC 8446 §4.6.3). */
  update(): void {
    this.#secret = nextTrafficSecret(this.#hash, this.#secret);
    this.seq = 0;
    this.#setKeys();
  }

  decrypt(type: number, version: number, frag: Uint8Array): DecryptResult {
    const ctLen = frag.length - this.#tagLen;
    if (ctLen < 1) return FAIL_MALFORMED;
    xorNonce(this.#iv, this.seq, this.#nonce);
    // additional_data = opaque_type || legacy_record_version || length
    const aad = this.#aad;
    aad[0] = type;
    aad[1] = version >>> 8;
    aad[2] = version & 0xff;
    aad[3] = frag.length >>> 8;
    aad[4] = frag.length & 0xff;
    const pt = aeadOpen(this.#cipher, this.#key, this.#nonce, aad, frag.subarray(0, ctLen), frag.subarray(ctLen));
    if (pt === null) return FAIL_AUTH;
    this.seq++;
    // TLSInnerPlaintext: content || ContentType || zeros (RFC 8446 §5.2)
    let end = pt.length - 1;
    while (end >= 0 && pt[end] === 0) end--;
    if (end < 0) return FAIL_MALFORMED;
    return { ok: true, type: pt[end]!, data: pt.subarray(0, end) };
  }
}

/** Builds the read decryptor of one direction of a TLS 1.0-1.2 session. */
export function tls12Decryptor(suite: CipherSuite, keys: Tls12Keys, side: 'client' | 'server', etm: boolean): RecordDecryptor {
  const key = side === 'client' ? keys.clientKey : keys.serverKey;
  const iv = side === 'client' ? keys.clientIv : keys.serverIv;
  if (suite.mac !== null && blockLength(suite.cipher!) > 0) {
    return new Tls12CbcDecryptor(suite, key, side === 'client' ? keys.clientMac : keys.serverMac, iv, etm);
  }
  return new Tls12AeadDecryptor(suite.cipher!, key, iv, suite.tagLength);
}
