import { createHash } from 'node:crypto';
import type { At } from '../core/types.js';
import { cipherSuite, cipherSuiteName, versionName, type CipherSuite } from './cipher-suites.js';
import {
  HS_CERTIFICATE,
  HS_CLIENT_HELLO,
  HS_CLIENT_KEY_EXCHANGE,
  HS_ENCRYPTED_EXTENSIONS,
  HS_FINISHED,
  HS_KEY_UPDATE,
  HS_NEW_SESSION_TICKET,
  HS_SERVER_HELLO,
  MalformedMessage,
  ja3,
  ja4,
  parseCertificateList,
  parseClientHello,
  parseEncryptedExtensionsAlpn,
  parseNewSessionTicket12,
  parseRsaClientKeyExchange,
  parseServerHello,
  summarizeCertificate,
  type CertificateSummary,
  type ClientHello,
  type ServerHello,
} from './handshake-messages.js';
import type { TlsKeyStore } from './key-store.js';
import { masterSecret, tls12Decryptor, tls12KeyBlock, Tls13Decryptor, type RecordDecryptor, type Tls12Keys } from './record-crypto.js';
import { decryptRsaPremaster } from './rsa-premaster.js';

type TlsSide = 'client' | 'server';

/** Largest TLSCiphertext fragment (RFC 5246 §6.2.3: 2^14 + 2048). */
export const TLS_MAX_RECORD_BYTES = 16384 + 2048;
/** Largest handshake message buffered (a long certificate chain fits). */
export const TLS_MAX_HANDSHAKE_BYTES = 256 * 1024;
/** Handshake bytes kept for the extended-master-secret session hash (RSA key exchange only). */
const MAX_TRANSCRIPT_FACTOR = 4;

/** Record content types (RFC 8446 §5.1). */
const CT_CHANGE_CIPHER_SPEC = 20;
const CT_ALERT = 21;
const CT_HANDSHAKE = 22;
const CT_APPLICATION_DATA = 23;
const CT_HEARTBEAT = 24;

/** Handshake and decryption facts of one TLS session, for the case folder. */
export interface TlsSessionInfo {
  version: string | null;
  cipher_suite: string | null;
  sni: string | null;
  /** ALPN protocols offered by the client. */
  alpn: string[];
  /** ALPN protocol the server chose (ServerHello or TLS 1.3 EncryptedExtensions). */
  alpn_selected: string | null;
  client_random: string | null;
  session_id: string | null;
  ja3: string | null;
  ja3_hash: string | null;
  ja4: string | null;
  certificates: CertificateSummary[];
  resumed: boolean;
  decryption: 'decrypted' | 'no-key' | 'unsupported' | 'failed' | 'not-started';
  decryption_detail: string | null;
  /** Records seen per side, and records whose plaintext was recovered. */
  records: { client: number; server: number };
  decrypted_records: { client: number; server: number };
}

/** Construction options of {@link TlsSession}. */
export interface TlsSessionOptions {
  keys: TlsKeyStore;
  /** Application data, in order, per side. `bytes` is borrowed. */
  onPlaintext: (side: TlsSide, bytes: Uint8Array, at: At) => void;
  onAnomaly: (code: string, detail: string, at: At) => void;
  limits?: { maxRecordBytes?: number; maxHandshakeBytes?: number };
}

/** Parse and decryption state of one direction. */
class Direction {
  readonly hdr = new Uint8Array(5);
  hdrLen = 0;
  /** Record body being assembled (allocated on the first split record). */
  body: Uint8Array | null = null;
  bodyLen = 0;
  need = 0;
  /** Ciphertext is protected (TLS 1.2 after ChangeCipherSpec; TLS 1.3 after ServerHello). */
  encrypted = false;
  /** Active read decryptor; null while there is no key. */
  dec: RecordDecryptor | null = null;
  /** TLS 1.3 without handshake secret: application decryptor tried on each record until one opens. */
  trial: Tls13Decryptor | null = null;
  /** Parsing stopped (gap, limit, garbage). */
  stopped = false;
  /** Decryption stopped (no key, failure); records are still framed and counted. */
  blind = false;
  /** Handshake message reassembly. */
  hs: Uint8Array | null = null;
  hsLen = 0;
  records = 0;
  decrypted = 0;
  constructor(readonly side: TlsSide) {}
}

/**
 * One TLS connection seen from the wire: frames records per direction, parses the handshake
 * (versions, suite, SNI, ALPN, certificates, JA3/JA4), and decrypts with the investigator's
 * keys (NSS key log or RSA private key). Synchronous, bounded, never throws on wire bytes.
 */
export class TlsSession {
  readonly #keys: TlsKeyStore;
  readonly #onPlaintext: TlsSessionOptions['onPlaintext'];
  readonly #onAnomaly: TlsSessionOptions['onAnomaly'];
  readonly #maxRecord: number;
  readonly #maxHandshake: number;
  readonly #client = new Direction('client');
  readonly #server = new Direction('server');

  #ch: ClientHello | null = null;
  #sh: ServerHello | null = null;
  #suite: CipherSuite | undefined;
  #tls13 = false;
  #certs: CertificateSummary[] = [];
  #serverModulus: string | null = null;
  #encPremaster: Uint8Array | null = null;
  /** TLS 1.2 plaintext handshake messages up to ClientKeyExchange (for the EMS session hash). */
  #transcript: Uint8Array[] | null = [];
  #transcriptBytes = 0;
  #sessionHash: Uint8Array | null = null;
  #keyBlock: Tls12Keys | null = null;
  #keyBlockTried = false;
  #master: Uint8Array | null = null;
  #sawClientKeyExchange = false;
  #resumed = false;
  #ja3: { text: string; hash: string } | null = null;
  #ja4: string | null = null;
  #alpnSelected: string | null = null;
  #status: TlsSessionInfo['decryption'] = 'not-started';
  #detail: string | null = null;
  #noKeyReported = false;
  #earlyDataReported = false;
  #handshakeDone = { client: false, server: false };
  #at: At = { frame: 0, ts: { sec: 0, nsec: 0 } };

  constructor(opts: TlsSessionOptions) {
    this.#keys = opts.keys;
    if (!opts.keys.canDecryptRsa) this.#transcript = null; // only RSA key exchange needs it (EMS)
    this.#onPlaintext = opts.onPlaintext;
    this.#onAnomaly = opts.onAnomaly;
    this.#maxRecord = opts.limits?.maxRecordBytes ?? TLS_MAX_RECORD_BYTES;
    this.#maxHandshake = opts.limits?.maxHandshakeBytes ?? TLS_MAX_HANDSHAKE_BYTES;
  }

  /** Ciphertext bytes of one direction, in stream order (borrowed). */
  push(side: TlsSide, bytes: Uint8Array, at: At): void {
    const d = side === 'client' ? this.#client : this.#server;
    if (d.stopped) return;
    this.#at = at;
    let off = 0;
    const n = bytes.length;
    while (off < n && !d.stopped) {
      if (d.hdrLen < 5) {
        // Fast path: a whole record in this chunk, nothing pending: no copy.
        if (d.hdrLen === 0 && n - off >= 5) {
          const len = (bytes[off + 3]! << 8) | bytes[off + 4]!;
          if (!this.#checkHeader(d, bytes[off]!, (bytes[off + 1]! << 8) | bytes[off + 2]!, len)) return;
          if (n - off - 5 >= len) {
            this.#record(d, bytes[off]!, (bytes[off + 1]! << 8) | bytes[off + 2]!, bytes.subarray(off + 5, off + 5 + len));
            off += 5 + len;
            continue;
          }
        }
        const take = Math.min(5 - d.hdrLen, n - off);
        d.hdr.set(bytes.subarray(off, off + take), d.hdrLen);
        d.hdrLen += take;
        off += take;
        if (d.hdrLen < 5) return;
        const len = (d.hdr[3]! << 8) | d.hdr[4]!;
        if (!this.#checkHeader(d, d.hdr[0]!, (d.hdr[1]! << 8) | d.hdr[2]!, len)) return;
        d.need = len;
        d.bodyLen = 0;
        if (len === 0) {
          d.hdrLen = 0;
          this.#record(d, d.hdr[0]!, (d.hdr[1]! << 8) | d.hdr[2]!, new Uint8Array(0));
        }
        continue;
      }
      if (d.body === null) d.body = new Uint8Array(Math.min(this.#maxRecord, 16384 + 2048));
      if (d.body.length < d.need) d.body = new Uint8Array(d.need);
      const take = Math.min(d.need - d.bodyLen, n - off);
      d.body.set(bytes.subarray(off, off + take), d.bodyLen);
      d.bodyLen += take;
      off += take;
      if (d.bodyLen === d.need) {
        d.hdrLen = 0;
        this.#record(d, d.hdr[0]!, (d.hdr[1]! << 8) | d.hdr[2]!, d.body.subarray(0, d.bodyLen));
      }
    }
  }

  /** Bytes of one direction are missing: record framing and sequence numbers are lost, that direction stops. */
  gap(side: TlsSide, length: number, at: At): void {
    const d = side === 'client' ? this.#client : this.#server;
    if (d.stopped) return;
    this.#at = at;
    const during = this.#handshakeDone[side] ? 'after the handshake' : 'during the handshake';
    this.#anomaly('tls_gap', `${length} ${side} bytes missing ${during}; ${side} direction no longer decrypted`);
    if (!this.#handshakeDone[side] && d.encrypted === false) this.#anomaly('tls_truncated_handshake', `${side} handshake cut by a gap`);
    d.stopped = true;
  }

  /** The connection ended (optional): reports a handshake or record left unfinished. */
  end(at: At): void {
    this.#at = at;
    for (const d of [this.#client, this.#server]) {
      if (!d.stopped && (d.hdrLen > 0 || d.hsLen > 0)) {
        this.#anomaly('tls_truncated_record', `${d.side} stream ended inside a TLS ${d.hsLen > 0 ? 'handshake message' : 'record'}`);
      }
    }
    if (this.#ch !== null && (!this.#handshakeDone.client || !this.#handshakeDone.server) && this.#status === 'not-started') {
      this.#anomaly('tls_truncated_handshake', this.#sh === null ? 'no ServerHello' : 'handshake did not complete');
    }
  }

  /** What is known about the session so far. */
  info(): TlsSessionInfo {
    const ch = this.#ch;
    const sh = this.#sh;
    const version = sh !== null ? sh.version : null;
    return {
      version: version !== null ? versionName(version) : null,
      cipher_suite: sh !== null ? cipherSuiteName(sh.cipherSuite) : null,
      sni: ch?.sni ?? null,
      alpn: ch?.alpn.slice() ?? [],
      alpn_selected: this.#alpnSelected,
      client_random: ch !== null ? hex(ch.random) : null,
      session_id: sh !== null && sh.sessionId.length > 0 ? hex(sh.sessionId) : null,
      ja3: this.#ja3?.text ?? null,
      ja3_hash: this.#ja3?.hash ?? null,
      ja4: this.#ja4,
      certificates: this.#certs.map((c) => ({ ...c, san: c.san.slice() })),
      resumed: this.#resumed,
      decryption: this.#status,
      decryption_detail: this.#detail,
      records: { client: this.#client.records, server: this.#server.records },
      decrypted_records: { client: this.#client.decrypted, server: this.#server.decrypted },
    };
  }

  // -------------------------------------------------------------------------------------------
  // Record layer

  #checkHeader(d: Direction, type: number, version: number, len: number): boolean {
    // RFC 8446 §5.1 / RFC 5246 §6.2.1: content type 20..24, version 3.x (x <= 4).
    if (type < CT_CHANGE_CIPHER_SPEC || type > CT_HEARTBEAT || version >> 8 !== 3 || (version & 0xff) > 4) {
      const sslv2 = (type & 0x80) !== 0 && d.records === 0 && d.side === 'client';
      this.#anomaly(
        'tls_bad_record_header',
        `${d.side} record ${d.records + 1}: type ${type} version 0x${version.toString(16).padStart(4, '0')}${sslv2 ? ' (SSLv2 ClientHello: unsupported)' : ''}; ${d.side} direction no longer parsed`,
      );
      d.stopped = true;
      return false;
    }
    if (len > this.#maxRecord) {
      this.#anomaly('tls_record_too_large', `${d.side} record of ${len} bytes (limit ${this.#maxRecord}); ${d.side} direction no longer parsed`);
      d.stopped = true;
      return false;
    }
    return true;
  }

  /** One complete record (body borrowed). */
  #record(d: Direction, type: number, version: number, frag: Uint8Array): void {
    d.records++;
    if (type === CT_CHANGE_CIPHER_SPEC) {
      if (!this.#tls13) this.#changeCipherSpec(d);
      return; // TLS 1.3: compatibility CCS, ignored (RFC 8446 §5)
    }
    if (!d.encrypted || (this.#tls13 && type !== CT_APPLICATION_DATA)) {
      // TLS 1.3 protects everything as outer type 23; other types are plaintext (e.g. an alert).
      if (type === CT_HANDSHAKE) this.#handshakeBytes(d, frag);
      else if (type === CT_ALERT) this.#alert(d, frag);
      else if (type === CT_APPLICATION_DATA) {
        if (d.side === 'client' && this.#ch?.earlyData && this.#sh === null) this.#earlyDataSkipped();
        else this.#anomaly('tls_plaintext_application_data', `${d.side} application data record before encryption (${frag.length} bytes) not delivered`);
      } else if (type === CT_HEARTBEAT) this.#anomaly('tls_heartbeat', `${d.side} heartbeat record of ${frag.length} bytes`);
      return;
    }
    if (d.blind) return;
    let dec = d.dec;
    if (dec === null) {
      if (d.trial === null) return;
      const r = d.trial.decrypt(type, version, frag);
      if (!r.ok) return; // still a handshake record protected by the (unknown) handshake secret
      d.dec = dec = d.trial;
      d.trial = null;
      this.#handshakeDone[d.side] = true;
      this.#plaintext(d, r.type, r.data);
      return;
    }
    const r = dec.decrypt(type, version, frag);
    if (!r.ok) {
      if (this.#tls13 && d.side === 'client' && this.#ch?.earlyData && !this.#handshakeDone.client) {
        this.#earlyDataSkipped(); // 0-RTT record (or EndOfEarlyData) under the early traffic secret
        return;
      }
      d.blind = true;
      const code = r.reason === 'bad_mac' ? 'tls_bad_record_mac' : 'tls_decrypt_failed';
      const what = r.reason === 'malformed' ? 'malformed ciphertext' : r.reason === 'bad_mac' ? 'bad MAC or padding' : 'authentication failed';
      this.#anomaly(code, `${d.side} record ${d.records} (${frag.length} bytes): ${what}; wrong key? ${d.side} direction no longer decrypted`);
      this.#setStatus('failed', `${d.side} record ${d.records}: ${what}`);
      return;
    }
    this.#plaintext(d, r.type, r.data);
  }

  /** A record's plaintext (after decryption). */
  #plaintext(d: Direction, type: number, data: Uint8Array): void {
    d.decrypted++;
    if (this.#status !== 'failed') this.#setStatus('decrypted', null);
    switch (type) {
      case CT_APPLICATION_DATA:
        if (data.length > 0) this.#onPlaintext(d.side, data, this.#at);
        return;
      case CT_HANDSHAKE:
        this.#handshakeBytes(d, data);
        return;
      case CT_ALERT:
        this.#alert(d, data);
        return;
      case CT_HEARTBEAT:
        this.#anomaly('tls_heartbeat', `${d.side} heartbeat record of ${data.length} bytes`);
        return;
      default:
        this.#anomaly('tls_unexpected_message', `${d.side} protected record with inner content type ${type}`);
    }
  }

  #alert(d: Direction, data: Uint8Array): void {
    if (data.length < 2) return;
    const level = data[0]!;
    const desc = data[1]!;
    if (desc === 0) return; // close_notify: the normal end
    this.#anomaly('tls_alert', `${d.side} ${level === 2 ? 'fatal' : 'warning'} alert ${ALERTS[desc] ?? 'unknown'} (${desc})`);
  }

  #earlyDataSkipped(): void {
    if (this.#earlyDataReported) return;
    this.#earlyDataReported = true;
    this.#anomaly('tls_early_data_skipped', 'client 0-RTT early data is not decrypted');
  }

  // -------------------------------------------------------------------------------------------
  // Handshake layer

  /** Handshake record content: reassembles messages (RFC 8446 §5.1: they may span records). */
  #handshakeBytes(d: Direction, data: Uint8Array): void {
    let buf = data;
    let len = data.length;
    if (d.hsLen > 0) {
      const total = d.hsLen + data.length;
      if (d.hs!.length < total) {
        const grown = new Uint8Array(Math.min(Math.max(total, d.hs!.length * 2), this.#maxHandshake + 4));
        if (grown.length < total) return this.#handshakeTooLarge(d, total);
        grown.set(d.hs!.subarray(0, d.hsLen));
        d.hs = grown;
      }
      d.hs!.set(data, d.hsLen);
      d.hsLen = total;
      buf = d.hs!;
      len = total;
    }
    let off = 0;
    while (len - off >= 4 && !d.stopped) {
      const mlen = (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!;
      if (mlen > this.#maxHandshake) return this.#handshakeTooLarge(d, mlen);
      if (len - off < 4 + mlen) break;
      this.#message(d, buf[off]!, buf.subarray(off + 4, off + 4 + mlen), buf.subarray(off, off + 4 + mlen));
      off += 4 + mlen;
    }
    if (d.stopped) return;
    const rest = len - off;
    if (rest === 0) {
      d.hsLen = 0;
      return;
    }
    if (buf === d.hs) {
      d.hs.copyWithin(0, off, len);
    } else {
      if (d.hs === null || d.hs.length < rest) d.hs = new Uint8Array(Math.max(rest, 1024));
      d.hs.set(buf.subarray(off, len));
    }
    d.hsLen = rest;
  }

  #handshakeTooLarge(d: Direction, n: number): void {
    this.#anomaly('tls_handshake_too_large', `${d.side} handshake message of ${n} bytes (limit ${this.#maxHandshake}); ${d.side} direction no longer parsed`);
    d.stopped = true;
    d.hs = null;
    d.hsLen = 0;
  }

  /** One complete handshake message (body and whole message borrowed). */
  #message(d: Direction, type: number, body: Uint8Array, whole: Uint8Array): void {
    if (this.#transcript !== null && !d.encrypted && !this.#tls13) {
      this.#transcriptBytes += whole.length;
      if (this.#transcriptBytes > this.#maxHandshake * MAX_TRANSCRIPT_FACTOR) this.#transcript = null;
      else this.#transcript.push(whole.slice());
    }
    try {
      if (d.side === 'client') this.#clientMessage(d, type, body);
      else this.#serverMessage(d, type, body);
    } catch (e) {
      if (!(e instanceof MalformedMessage)) throw e;
      this.#anomaly('tls_bad_handshake', `${d.side} handshake message type ${type} (${body.length} bytes): ${e.message}`);
    }
  }

  #clientMessage(d: Direction, type: number, body: Uint8Array): void {
    switch (type) {
      case HS_CLIENT_HELLO: {
        const ch = parseClientHello(body);
        if (this.#ch !== null && !this.#sh?.helloRetryRequest) {
          // A second ClientHello without HelloRetryRequest: TLS 1.2 renegotiation.
          this.#anomaly('tls_renegotiation', `new ClientHello ${d.encrypted ? 'inside the encrypted session' : 'in clear'}`);
          this.#sh = null;
          this.#keyBlock = null;
          this.#keyBlockTried = false;
          this.#transcript = this.#keys.canDecryptRsa ? [] : null;
          this.#transcriptBytes = 0;
          this.#sawClientKeyExchange = false;
          this.#encPremaster = null;
        }
        if (this.#ch === null) {
          this.#ja3 = ja3(ch);
          this.#ja4 = ja4(ch);
        }
        this.#ch = ch;
        return;
      }
      case HS_CLIENT_KEY_EXCHANGE: {
        this.#sawClientKeyExchange = true;
        const sh = this.#sh;
        if (sh !== null && this.#suite?.kx === 'rsa') this.#encPremaster = parseRsaClientKeyExchange(body, sh.version);
        if (sh?.extendedMasterSecret && this.#transcript !== null) {
          // RFC 7627 §3: session_hash = Hash(handshake messages up to and including ClientKeyExchange).
          const parts = this.#transcript;
          if (sh.version >= 0x0303) {
            const h = createHash(this.#suite?.hash ?? 'sha256');
            for (const p of parts) h.update(p);
            this.#sessionHash = h.digest();
          } else {
            const md5 = createHash('md5');
            const sha1 = createHash('sha1');
            for (const p of parts) {
              md5.update(p);
              sha1.update(p);
            }
            this.#sessionHash = Buffer.concat([md5.digest(), sha1.digest()]);
          }
        }
        this.#transcript = null;
        return;
      }
      case HS_FINISHED:
        this.#handshakeDone.client = true;
        if (this.#tls13) this.#tls13Application(d);
        return;
      case HS_KEY_UPDATE:
        if (this.#tls13 && d.dec instanceof Tls13Decryptor) d.dec.update();
        return;
      default:
        return;
    }
  }

  #serverMessage(d: Direction, type: number, body: Uint8Array): void {
    switch (type) {
      case HS_SERVER_HELLO: {
        const sh = parseServerHello(body);
        this.#sh = sh;
        if (sh.helloRetryRequest) return; // RFC 8446 §4.1.4: a second ClientHello follows
        this.#suite = cipherSuite(sh.cipherSuite);
        this.#alpnSelected = sh.alpn;
        const ch = this.#ch;
        if (sh.version === 0x0304) {
          this.#tls13 = true;
          this.#transcript = null;
          this.#resumed = sh.preSharedKey;
          this.#startTls13();
        } else if (ch !== null && sh.sessionId.length > 0 && Buffer.compare(Buffer.from(sh.sessionId), Buffer.from(ch.sessionId)) === 0) {
          this.#resumed = true; // RFC 5246 §7.4.1.3: echoed session id = abbreviated handshake
        }
        return;
      }
      case HS_ENCRYPTED_EXTENSIONS:
        if (this.#tls13) this.#alpnSelected = parseEncryptedExtensionsAlpn(body) ?? this.#alpnSelected;
        return;
      case HS_CERTIFICATE: {
        const ders = parseCertificateList(body, this.#tls13);
        this.#certs = [];
        for (let i = 0; i < ders.length; i++) {
          const s = summarizeCertificate(ders[i]!);
          if (s.error !== null) this.#anomaly('tls_bad_certificate', `certificate ${i} (${ders[i]!.length} bytes): ${s.error}`);
          if (i === 0) this.#serverModulus = s.modulus;
          this.#certs.push(s.summary);
        }
        return;
      }
      case HS_NEW_SESSION_TICKET:
        if (!this.#tls13 && this.#master !== null && this.#masterDerivedHere) {
          this.#keys.rememberSession('tk', parseNewSessionTicket12(body), this.#master);
        } else if (!this.#tls13) {
          this.#pendingTicket = parseNewSessionTicket12(body);
        }
        return;
      case HS_FINISHED:
        this.#handshakeDone.server = true;
        if (this.#tls13) this.#tls13Application(d);
        return;
      case HS_KEY_UPDATE:
        if (this.#tls13 && d.dec instanceof Tls13Decryptor) d.dec.update();
        return;
      default:
        return;
    }
  }

  #masterDerivedHere = false;
  #pendingTicket: Uint8Array | null = null;

  // -------------------------------------------------------------------------------------------
  // Keys

  /** TLS 1.3 ServerHello: both directions now use handshake traffic secrets (RFC 8446 §7.1). */
  #startTls13(): void {
    this.#client.encrypted = true;
    this.#server.encrypted = true;
    const suite = this.#suite;
    if (!this.#usable(suite)) {
      this.#client.blind = this.#server.blind = true;
      return;
    }
    const secrets = this.#ch !== null ? this.#keys.lookup(hex(this.#ch.random)) : undefined;
    const s = secrets;
    if (s === undefined || (s.serverHandshakeTrafficSecret === undefined && s.serverTrafficSecret0 === undefined && s.clientHandshakeTrafficSecret === undefined && s.clientTrafficSecret0 === undefined)) {
      this.#noKey(this.#ch === null ? 'ClientHello not seen' : `no TLS 1.3 secrets for client random ${hex(this.#ch.random)}`);
      this.#client.blind = this.#server.blind = true;
      return;
    }
    for (const d of [this.#client, this.#server]) {
      const hsSecret = d.side === 'client' ? s.clientHandshakeTrafficSecret : s.serverHandshakeTrafficSecret;
      const appSecret = d.side === 'client' ? s.clientTrafficSecret0 : s.serverTrafficSecret0;
      if (hsSecret !== undefined) d.dec = new Tls13Decryptor(suite, hsSecret);
      else if (appSecret !== undefined) d.trial = new Tls13Decryptor(suite, appSecret);
      else {
        d.blind = true;
        this.#noKey(`no ${d.side} traffic secrets for this session`);
      }
    }
  }

  /** TLS 1.3 Finished of one side: its application traffic secret takes over. */
  #tls13Application(d: Direction): void {
    if (d.blind || this.#ch === null || !this.#usable(this.#suite)) return;
    const s = this.#keys.lookup(hex(this.#ch.random));
    const secret = d.side === 'client' ? s?.clientTrafficSecret0 : s?.serverTrafficSecret0;
    if (secret === undefined) {
      d.blind = true;
      this.#noKey(`no ${d.side === 'client' ? 'CLIENT' : 'SERVER'}_TRAFFIC_SECRET_0 for this session`);
      return;
    }
    d.dec = new Tls13Decryptor(this.#suite, secret);
  }

  /** TLS 1.0-1.2 ChangeCipherSpec: that side's records are protected from now on. */
  #changeCipherSpec(d: Direction): void {
    d.encrypted = true;
    if (d.side === 'server' && !this.#sawClientKeyExchange) this.#resumed = true;
    if (!this.#keyBlockTried) {
      this.#keyBlockTried = true;
      this.#keyBlock = this.#deriveTls12();
    }
    const kb = this.#keyBlock;
    if (kb === null || !this.#usable(this.#suite)) {
      d.blind = true;
      d.dec = null;
      return;
    }
    d.blind = false;
    d.dec = tls12Decryptor(this.#suite, kb, d.side, this.#sh?.encryptThenMac ?? false);
  }

  #usable(suite: CipherSuite | undefined): suite is CipherSuite {
    const sh = this.#sh;
    if (suite === undefined || suite.cipher === null || (suite.kx === 'tls13') !== this.#tls13 || (sh !== null && sh.version < 0x0301)) {
      const name = sh !== null ? cipherSuiteName(sh.cipherSuite) : 'unknown suite';
      if (this.#status !== 'unsupported') {
        this.#anomaly('tls_unsupported_cipher', `${name}${sh !== null ? ` (${versionName(sh.version)})` : ''} cannot be decrypted`);
        this.#setStatus('unsupported', name);
      }
      return false;
    }
    return true;
  }

  /** The TLS 1.2 key block, from the key log's master secret or an RSA key exchange. */
  #deriveTls12(): Tls12Keys | null {
    const ch = this.#ch;
    const sh = this.#sh;
    if (ch === null || sh === null) {
      this.#noKey(ch === null ? 'ClientHello not seen' : 'ServerHello not seen');
      return null;
    }
    const suite = this.#suite;
    if (!this.#usable(suite)) return null;
    let master = this.#keys.lookup(hex(ch.random))?.masterSecret ?? null;
    if (master === null && this.#resumed) {
      master = this.#keys.recallSession('id', ch.sessionId) ?? (ch.sessionTicket ? this.#keys.recallSession('tk', ch.sessionTicket) : undefined) ?? null;
    }
    if (master === null && suite.kx === 'rsa' && this.#encPremaster !== null) {
      master = this.#rsaMaster(suite, ch, sh);
      if (master === null && this.#status === 'failed') return null;
      if (master !== null) {
        this.#masterDerivedHere = true;
        this.#keys.rememberSession('id', sh.sessionId, master);
        if (this.#pendingTicket !== null) this.#keys.rememberSession('tk', this.#pendingTicket, master);
      }
    }
    if (master === null) {
      this.#noKey(
        suite.kx === 'rsa' && this.#encPremaster !== null
          ? `no CLIENT_RANDOM line for ${hex(ch.random)} and no RSA key matches the server certificate`
          : `no CLIENT_RANDOM line for ${hex(ch.random)}`,
      );
      return null;
    }
    this.#master = master;
    return tls12KeyBlock(sh.version, suite, master, ch.random, sh.random);
  }

  #rsaMaster(suite: CipherSuite, ch: ClientHello, sh: ServerHello): Uint8Array | null {
    const enc = this.#encPremaster!;
    let pre = this.#keys.lookupRsaPremaster(enc) ?? null;
    if (pre === null) {
      const key = this.#serverModulus !== null ? this.#keys.rsaKeyForModulus(this.#serverModulus) : undefined;
      if (key === undefined) return null;
      pre = decryptRsaPremaster(key.key, key.bytes, enc);
      if (pre === null) {
        this.#anomaly('tls_rsa_decrypt_failed', `pre-master secret does not decrypt with ${key.source} (bad PKCS#1 padding)`);
        this.#setStatus('failed', `RSA pre-master secret does not decrypt with ${key.source}`);
        return null;
      }
    }
    if (sh.extendedMasterSecret && this.#sessionHash === null) {
      this.#anomaly('tls_ems_transcript_lost', 'extended master secret negotiated but the handshake transcript is incomplete');
      this.#setStatus('failed', 'extended master secret: handshake transcript incomplete');
      return null;
    }
    return masterSecret(sh.version, suite, pre, ch.random, sh.random, sh.extendedMasterSecret ? this.#sessionHash : null);
  }

  #noKey(detail: string): void {
    if (this.#status === 'failed' || this.#status === 'unsupported') return;
    this.#setStatus('no-key', detail);
    if (!this.#noKeyReported) {
      this.#noKeyReported = true;
      this.#anomaly('tls_no_key', detail);
    }
  }

  #setStatus(s: TlsSessionInfo['decryption'], detail: string | null): void {
    if (this.#status === 'failed' && s !== 'failed') return;
    if (this.#status === 'failed' && s === 'failed') return; // keep the first cause
    if (s === 'decrypted' && (this.#status === 'no-key' || this.#status === 'unsupported')) return;
    this.#status = s;
    this.#detail = detail;
  }

  #anomaly(code: string, detail: string): void {
    this.#onAnomaly(code, detail, this.#at);
  }
}

function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

/** Alert descriptions (RFC 8446 §6). */
const ALERTS: Record<number, string> = {
  0: 'close_notify',
  10: 'unexpected_message',
  20: 'bad_record_mac',
  22: 'record_overflow',
  40: 'handshake_failure',
  42: 'bad_certificate',
  43: 'unsupported_certificate',
  44: 'certificate_revoked',
  45: 'certificate_expired',
  46: 'certificate_unknown',
  47: 'illegal_parameter',
  48: 'unknown_ca',
  49: 'access_denied',
  50: 'decode_error',
  51: 'decrypt_error',
  70: 'protocol_version',
  71: 'insufficient_security',
  80: 'internal_error',
  86: 'inappropriate_fallback',
  90: 'user_canceled',
  100: 'no_renegotiation',
  109: 'missing_extension',
  110: 'unsupported_extension',
  112: 'unrecognized_name',
  113: 'bad_certificate_status_response',
  115: 'unknown_psk_identity',
  116: 'certificate_required',
  120: 'no_application_protocol',
};

/** True when the bytes start with a TLS handshake record header (0x16 0x03 0x00-0x04). */
export function looksLikeTls(firstBytes: Uint8Array): boolean {
  return firstBytes.length >= 3 && firstBytes[0] === 0x16 && firstBytes[1] === 0x03 && firstBytes[2]! <= 0x04;
}
