import { createPrivateKey, type KeyObject } from 'node:crypto';
import { MailsleuthError } from '../core/errors.js';

/** pcapng Decryption Secrets Block type of an NSS key log (pcapng spec §4.7: 'TLSK'). */
export const DSB_TLS_KEY_LOG = 0x544c534b;

/** Secrets of one TLS connection, keyed by its ClientHello random (NSS key log labels). */
export interface TlsSecrets {
  /** TLS 1.2 and earlier: `CLIENT_RANDOM` (48-byte master secret). */
  masterSecret?: Uint8Array;
  clientEarlyTrafficSecret?: Uint8Array;
  clientHandshakeTrafficSecret?: Uint8Array;
  serverHandshakeTrafficSecret?: Uint8Array;
  clientTrafficSecret0?: Uint8Array;
  serverTrafficSecret0?: Uint8Array;
  /** Where the secrets came from (file name, 'pcapng DSB'). */
  source: string;
}

/** An RSA private key given with --rsa-key, identified by its modulus. */
export interface RsaServerKey {
  readonly key: KeyObject;
  /** Modulus, base64url (as in the JWK `n`), the match key against certificate public keys. */
  readonly modulus: string;
  /** Modulus size in bytes. */
  readonly bytes: number;
  readonly source: string;
}

const LABELS: Record<string, keyof Omit<TlsSecrets, 'source'> | undefined> = {
  CLIENT_RANDOM: 'masterSecret',
  CLIENT_EARLY_TRAFFIC_SECRET: 'clientEarlyTrafficSecret',
  CLIENT_HANDSHAKE_TRAFFIC_SECRET: 'clientHandshakeTrafficSecret',
  SERVER_HANDSHAKE_TRAFFIC_SECRET: 'serverHandshakeTrafficSecret',
  CLIENT_TRAFFIC_SECRET_0: 'clientTrafficSecret0',
  SERVER_TRAFFIC_SECRET_0: 'serverTrafficSecret0',
};
/** Labels that are valid but carry nothing we use. */
const IGNORED_LABELS = new Set(['EXPORTER_SECRET', 'EARLY_EXPORTER_SECRET']);

/** Master secrets remembered for TLS 1.2 resumption after an RSA key exchange. */
export const MAX_REMEMBERED_SESSIONS = 10_000;

const HEX_RE = /^[0-9a-fA-F]+$/;

function hexToBytes(hex: string): Uint8Array {
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}

/**
 * The investigator's TLS secrets: NSS key log lines (files given with --keylog and pcapng
 * Decryption Secrets Blocks) and RSA private keys (--rsa-key). Lookups are by client random
 * (hex, lower case) and by certificate modulus.
 */
export class TlsKeyStore {
  readonly #byRandom = new Map<string, TlsSecrets>();
  /** `RSA <first 8 bytes of encrypted pre-master, hex> <pre-master, hex>` lines. */
  readonly #rsaPremaster = new Map<string, Uint8Array>();
  readonly #rsaKeys: RsaServerKey[] = [];
  /** Master secrets derived from RSA key exchanges, by 'id:'/'tk:' + session id / ticket hex (bounded). */
  readonly #sessions = new Map<string, Uint8Array>();

  /**
   * Adds NSS key log text (https://firefox-source-docs.mozilla.org/security/nss/legacy/key_log_format/).
   * Returns the number of key lines accepted and of lines that could not be parsed
   * (comments and blank lines are neither). Later lines override earlier ones for the same key.
   */
  addKeyLog(text: string, source: string): { lines: number; bad: number } {
    let lines = 0;
    let bad = 0;
    for (const raw of text.split('\n')) {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) continue;
      const parts = line.split(/\s+/);
      if (parts.length !== 3) {
        bad++;
        continue;
      }
      const [label, a, b] = parts as [string, string, string];
      if (!HEX_RE.test(a) || !HEX_RE.test(b) || a.length % 2 !== 0 || b.length % 2 !== 0) {
        bad++;
        continue;
      }
      if (label === 'RSA') {
        // First 8 bytes of the encrypted pre-master secret, then the 48-byte pre-master secret.
        if (a.length !== 16 || b.length !== 96) {
          bad++;
          continue;
        }
        this.#rsaPremaster.set(a.toLowerCase(), hexToBytes(b));
        lines++;
        continue;
      }
      if (IGNORED_LABELS.has(label)) {
        if (a.length !== 64) bad++;
        else lines++;
        continue;
      }
      const field = LABELS[label];
      if (field === undefined || a.length !== 64) {
        bad++;
        continue;
      }
      if (field === 'masterSecret' && b.length !== 96) {
        bad++;
        continue;
      }
      if (field !== 'masterSecret' && b.length !== 64 && b.length !== 96) {
        bad++;
        continue;
      }
      const key = a.toLowerCase();
      let entry = this.#byRandom.get(key);
      if (entry === undefined) {
        entry = { source };
        this.#byRandom.set(key, entry);
      }
      entry[field] = hexToBytes(b);
      lines++;
    }
    return { lines, bad };
  }

  /**
   * Adds a PEM RSA private key (PKCS#1 or PKCS#8, unencrypted). Throws MailsleuthError('USAGE')
   * when the text is not an RSA private key.
   */
  addRsaPrivateKeyPem(pem: string, source: string): void {
    let key: KeyObject;
    try {
      key = createPrivateKey({ key: pem, format: 'pem' });
    } catch (e) {
      const why = e instanceof Error ? e.message.split('\n')[0] : String(e);
      throw new MailsleuthError('USAGE', `${source}: not a PEM private key (${why})`);
    }
    if (key.asymmetricKeyType !== 'rsa') {
      throw new MailsleuthError('USAGE', `${source}: not an RSA private key (${key.asymmetricKeyType ?? 'unknown type'})`);
    }
    const jwk = key.export({ format: 'jwk' });
    const n = jwk.n;
    if (typeof n !== 'string') throw new MailsleuthError('USAGE', `${source}: RSA key without a modulus`);
    const bytes = Buffer.from(n, 'base64url').length;
    if (this.#rsaKeys.some((k) => k.modulus === n)) return;
    this.#rsaKeys.push({ key, modulus: n, bytes, source });
  }

  /**
   * Adds the body of a pcapng Decryption Secrets Block. Only the TLS key log type
   * (0x544c534b) is used; other secrets types are ignored.
   */
  addDecryptionSecretsBlock(secretsType: number, data: Uint8Array): { lines: number; bad: number } {
    if (secretsType !== DSB_TLS_KEY_LOG) return { lines: 0, bad: 0 };
    return this.addKeyLog(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('latin1'), 'pcapng DSB');
  }

  /** Secrets recorded for a client random (64 hex characters, any case). */
  lookup(clientRandomHex: string): TlsSecrets | undefined {
    return this.#byRandom.get(clientRandomHex.toLowerCase());
  }

  /** Pre-master secret from an `RSA` key log line, by the first 8 bytes of the encrypted pre-master. */
  lookupRsaPremaster(encryptedPremaster: Uint8Array): Uint8Array | undefined {
    if (encryptedPremaster.length < 8 || this.#rsaPremaster.size === 0) return undefined;
    return this.#rsaPremaster.get(Buffer.from(encryptedPremaster.subarray(0, 8)).toString('hex'));
  }

  /** The RSA private key whose modulus (base64url) matches, if any. */
  rsaKeyForModulus(modulus: string): RsaServerKey | undefined {
    return this.#rsaKeys.find((k) => k.modulus === modulus);
  }

  /**
   * Remembers a master secret that mailsleuth derived itself (RSA key exchange) under the
   * session id and/or ticket, so a resumed TLS 1.2 connection can be decrypted without a key log.
   * Bounded by {@link MAX_REMEMBERED_SESSIONS} (oldest dropped).
   */
  rememberSession(kind: 'id' | 'tk', id: Uint8Array, master: Uint8Array): void {
    if (id.length === 0) return;
    const k = `${kind}:${Buffer.from(id).toString('hex')}`;
    this.#sessions.delete(k);
    this.#sessions.set(k, master);
    if (this.#sessions.size > MAX_REMEMBERED_SESSIONS) {
      const first = this.#sessions.keys().next().value;
      if (first !== undefined) this.#sessions.delete(first);
    }
  }

  /** A master secret remembered by {@link rememberSession}. */
  recallSession(kind: 'id' | 'tk', id: Uint8Array): Uint8Array | undefined {
    if (id.length === 0 || this.#sessions.size === 0) return undefined;
    return this.#sessions.get(`${kind}:${Buffer.from(id).toString('hex')}`);
  }

  /** True when at least one RSA private key was added. */
  get hasRsaKeys(): boolean {
    return this.#rsaKeys.length > 0;
  }

  /** True when an RSA key exchange could be decrypted (RSA key or `RSA` key log line): sessions then keep their handshake transcript for EMS. */
  get canDecryptRsa(): boolean {
    return this.#rsaKeys.length > 0 || this.#rsaPremaster.size > 0;
  }

  /** Connections with secrets + RSA pre-master lines + RSA private keys. */
  get size(): number {
    return this.#byRandom.size + this.#rsaPremaster.size + this.#rsaKeys.length;
  }
}
