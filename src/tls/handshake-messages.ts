import { createHash, X509Certificate } from 'node:crypto';

/** Handshake message types (RFC 8446 §4, RFC 5246 §7.4). */
export const HS_CLIENT_HELLO = 1;
export const HS_SERVER_HELLO = 2;
export const HS_NEW_SESSION_TICKET = 4;
export const HS_END_OF_EARLY_DATA = 5;
export const HS_ENCRYPTED_EXTENSIONS = 8;
export const HS_CERTIFICATE = 11;
export const HS_SERVER_KEY_EXCHANGE = 12;
export const HS_CERTIFICATE_REQUEST = 13;
export const HS_SERVER_HELLO_DONE = 14;
export const HS_CERTIFICATE_VERIFY = 15;
export const HS_CLIENT_KEY_EXCHANGE = 16;
export const HS_FINISHED = 20;
export const HS_KEY_UPDATE = 24;

/** Extension numbers used here (IANA TLS ExtensionType registry). */
const EXT_SERVER_NAME = 0;
const EXT_SUPPORTED_GROUPS = 10;
const EXT_EC_POINT_FORMATS = 11;
const EXT_SIGNATURE_ALGORITHMS = 13;
const EXT_ALPN = 16;
const EXT_ENCRYPT_THEN_MAC = 22;
const EXT_EXTENDED_MASTER_SECRET = 23;
const EXT_SESSION_TICKET = 35;
const EXT_PRE_SHARED_KEY = 41;
const EXT_EARLY_DATA = 42;
const EXT_SUPPORTED_VERSIONS = 43;

/** Thrown inside this module only, on a malformed message; callers turn it into an anomaly. */
export class MalformedMessage extends Error {}

/** Bounds-checked big-endian reader over a borrowed view. */
class Reader {
  pos = 0;
  constructor(readonly b: Uint8Array, readonly end = b.length) {}
  need(n: number): void {
    if (this.pos + n > this.end) throw new MalformedMessage(`needs ${n} bytes at offset ${this.pos}, has ${this.end - this.pos}`);
  }
  u8(): number {
    this.need(1);
    return this.b[this.pos++]!;
  }
  u16(): number {
    this.need(2);
    const v = (this.b[this.pos]! << 8) | this.b[this.pos + 1]!;
    this.pos += 2;
    return v;
  }
  u24(): number {
    this.need(3);
    const v = (this.b[this.pos]! << 16) | (this.b[this.pos + 1]! << 8) | this.b[this.pos + 2]!;
    this.pos += 3;
    return v;
  }
  bytes(n: number): Uint8Array {
    this.need(n);
    const v = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
  /** A sub-reader over a length-prefixed vector (prefix of 1, 2 or 3 bytes). */
  vec(prefix: 1 | 2 | 3): Reader {
    const n = prefix === 1 ? this.u8() : prefix === 2 ? this.u16() : this.u24();
    this.need(n);
    const r = new Reader(this.b, this.pos + n);
    r.pos = this.pos;
    this.pos += n;
    return r;
  }
  get left(): number {
    return this.end - this.pos;
  }
}

/** GREASE values (RFC 8701): 0x?A?A with both bytes equal. */
export function isGrease(v: number): boolean {
  return (v & 0x0f0f) === 0x0a0a && v >> 8 === (v & 0xff);
}

export interface ClientHello {
  legacyVersion: number;
  random: Uint8Array;
  sessionId: Uint8Array;
  cipherSuites: number[];
  extensions: number[];
  sni: string | null;
  alpn: string[];
  supportedGroups: number[];
  ecPointFormats: number[];
  signatureAlgorithms: number[];
  supportedVersions: number[];
  earlyData: boolean;
  /** session_ticket extension content (RFC 5077), null when absent or empty. */
  sessionTicket: Uint8Array | null;
}

export interface ServerHello {
  legacyVersion: number;
  random: Uint8Array;
  sessionId: Uint8Array;
  cipherSuite: number;
  /** supported_versions when present (TLS 1.3), else legacy_version. */
  version: number;
  alpn: string | null;
  extendedMasterSecret: boolean;
  encryptThenMac: boolean;
  preSharedKey: boolean;
  helloRetryRequest: boolean;
}

const HRR_RANDOM = Buffer.from('cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c', 'hex');

const latin1 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');

/** Parses a ClientHello body (RFC 8446 §4.1.2, RFC 5246 §7.4.1.2). Copies what it keeps. */
export function parseClientHello(body: Uint8Array): ClientHello {
  const r = new Reader(body);
  const legacyVersion = r.u16();
  const random = r.bytes(32).slice();
  const sid = r.vec(1);
  const ch: ClientHello = {
    legacyVersion,
    random,
    sessionId: sid.bytes(sid.left).slice(),
    cipherSuites: [],
    extensions: [],
    sni: null,
    alpn: [],
    supportedGroups: [],
    ecPointFormats: [],
    signatureAlgorithms: [],
    supportedVersions: [],
    earlyData: false,
    sessionTicket: null,
  };
  const cs = r.vec(2);
  while (cs.left >= 2) ch.cipherSuites.push(cs.u16());
  r.vec(1); // compression methods
  if (r.left === 0) return ch;
  const exts = r.vec(2);
  while (exts.left > 0) {
    const type = exts.u16();
    const data = exts.vec(2);
    ch.extensions.push(type);
    switch (type) {
      case EXT_SERVER_NAME: {
        const list = data.vec(2);
        while (list.left > 0) {
          const nameType = list.u8();
          const name = list.vec(2);
          if (nameType === 0 && ch.sni === null) ch.sni = latin1(name.bytes(name.left));
        }
        break;
      }
      case EXT_ALPN: {
        const list = data.vec(2);
        while (list.left > 0) {
          const p = list.vec(1);
          ch.alpn.push(latin1(p.bytes(p.left)));
        }
        break;
      }
      case EXT_SUPPORTED_GROUPS: {
        const list = data.vec(2);
        while (list.left >= 2) ch.supportedGroups.push(list.u16());
        break;
      }
      case EXT_EC_POINT_FORMATS: {
        const list = data.vec(1);
        while (list.left >= 1) ch.ecPointFormats.push(list.u8());
        break;
      }
      case EXT_SIGNATURE_ALGORITHMS: {
        const list = data.vec(2);
        while (list.left >= 2) ch.signatureAlgorithms.push(list.u16());
        break;
      }
      case EXT_SUPPORTED_VERSIONS: {
        const list = data.vec(1);
        while (list.left >= 2) ch.supportedVersions.push(list.u16());
        break;
      }
      case EXT_EARLY_DATA:
        ch.earlyData = true;
        break;
      case EXT_SESSION_TICKET:
        if (data.left > 0) ch.sessionTicket = data.bytes(data.left).slice();
        break;
      default:
        break;
    }
  }
  return ch;
}

/** Parses a ServerHello body (RFC 8446 §4.1.3, RFC 5246 §7.4.1.3). */
export function parseServerHello(body: Uint8Array): ServerHello {
  const r = new Reader(body);
  const legacyVersion = r.u16();
  const random = r.bytes(32).slice();
  const sid = r.vec(1);
  const sessionId = sid.bytes(sid.left).slice();
  const sh: ServerHello = {
    legacyVersion,
    random,
    sessionId,
    cipherSuite: r.u16(),
    version: legacyVersion,
    alpn: null,
    extendedMasterSecret: false,
    encryptThenMac: false,
    preSharedKey: false,
    helloRetryRequest: Buffer.compare(Buffer.from(random), HRR_RANDOM) === 0,
  };
  r.u8(); // compression method
  if (r.left === 0) return sh;
  const exts = r.vec(2);
  while (exts.left > 0) {
    const type = exts.u16();
    const data = exts.vec(2);
    switch (type) {
      case EXT_SUPPORTED_VERSIONS:
        sh.version = data.u16();
        break;
      case EXT_ALPN: {
        const list = data.vec(2);
        const p = list.vec(1);
        sh.alpn = latin1(p.bytes(p.left));
        break;
      }
      case EXT_EXTENDED_MASTER_SECRET:
        sh.extendedMasterSecret = true;
        break;
      case EXT_ENCRYPT_THEN_MAC:
        sh.encryptThenMac = true;
        break;
      case EXT_PRE_SHARED_KEY:
        sh.preSharedKey = true;
        break;
      default:
        break;
    }
  }
  return sh;
}

/** ALPN chosen in TLS 1.3 EncryptedExtensions, if any. */
export function parseEncryptedExtensionsAlpn(body: Uint8Array): string | null {
  const r = new Reader(body);
  const exts = r.vec(2);
  while (exts.left > 0) {
    const type = exts.u16();
    const data = exts.vec(2);
    if (type === EXT_ALPN) {
      const list = data.vec(2);
      const p = list.vec(1);
      return latin1(p.bytes(p.left));
    }
  }
  return null;
}

/** DER certificates of a Certificate message (RFC 5246 §7.4.2; RFC 8446 §4.4.2 when tls13). Copies. */
export function parseCertificateList(body: Uint8Array, tls13: boolean): Uint8Array[] {
  const r = new Reader(body);
  if (tls13) r.vec(1); // certificate_request_context
  const list = r.vec(3);
  const out: Uint8Array[] = [];
  while (list.left > 0) {
    const c = list.vec(3);
    out.push(c.bytes(c.left).slice());
    if (tls13) list.vec(2); // per-certificate extensions
  }
  return out;
}

/** The ticket of a TLS 1.2 NewSessionTicket (RFC 5077 §3.3). */
export function parseNewSessionTicket12(body: Uint8Array): Uint8Array {
  const r = new Reader(body);
  r.bytes(4); // ticket_lifetime_hint
  const t = r.vec(2);
  return t.bytes(t.left).slice();
}

/** The encrypted pre-master secret of an RSA ClientKeyExchange (RFC 5246 §7.4.7.1). */
export function parseRsaClientKeyExchange(body: Uint8Array, version: number): Uint8Array {
  if (version === 0x0300) return body.slice(); // SSL 3.0: no length prefix
  const r = new Reader(body);
  const v = r.vec(2);
  return v.bytes(v.left).slice();
}

/** The summary of one certificate as written to the case folder. */
export interface CertificateSummary {
  subject: string;
  issuer: string;
  not_before: string;
  not_after: string;
  sha256: string;
  serial: string;
  san: string[];
}

function dn(s: string): string {
  return s.split('\n').filter((x) => x !== '').join(', ');
}

function isoDate(s: string): string {
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? s : d.toISOString().replace('.000Z', 'Z');
}

/**
 * Summarises a DER certificate with node:crypto's X509Certificate. Returns the summary and the
 * RSA modulus (base64url, to pick a private key) or an error text when the DER does not parse.
 */
export function summarizeCertificate(der: Uint8Array): { summary: CertificateSummary; modulus: string | null; error: string | null } {
  const sha256 = createHash('sha256').update(der).digest('hex');
  try {
    const x = new X509Certificate(der);
    let modulus: string | null = null;
    try {
      const pk = x.publicKey;
      if (pk.asymmetricKeyType === 'rsa') {
        const n = pk.export({ format: 'jwk' }).n;
        modulus = typeof n === 'string' ? n : null;
      }
    } catch {
      modulus = null;
    }
    const san = (x.subjectAltName ?? '')
      .split(', ')
      .map((v) => v.trim())
      .filter((v) => v !== '');
    return {
      summary: {
        subject: dn(x.subject),
        issuer: dn(x.issuer),
        not_before: isoDate(x.validFrom),
        not_after: isoDate(x.validTo),
        sha256,
        serial: x.serialNumber.toLowerCase(),
        san,
      },
      modulus,
      error: null,
    };
  } catch (e) {
    return {
      summary: { subject: '', issuer: '', not_before: '', not_after: '', sha256, serial: '', san: [] },
      modulus: null,
      error: e instanceof Error ? e.message : String(e),
    };
  }
}

// ---------------------------------------------------------------------------------------------
// Client fingerprints

/** JA3 string and MD5 (https://github.com/salesforce/ja3): GREASE values removed. */
export function ja3(ch: ClientHello): { text: string; hash: string } {
  const f = (xs: number[]): string => xs.filter((v) => !isGrease(v)).join('-');
  const text = [ch.legacyVersion, f(ch.cipherSuites), f(ch.extensions), f(ch.supportedGroups), ch.ecPointFormats.join('-')].join(',');
  return { text, hash: createHash('md5').update(text).digest('hex') };
}

const hex4 = (v: number): string => v.toString(16).padStart(4, '0');
const sha12 = (s: string): string => createHash('sha256').update(s).digest('hex').slice(0, 12);

function ja4Version(v: number): string {
  switch (v) {
    case 0x0304:
      return '13';
    case 0x0303:
      return '12';
    case 0x0302:
      return '11';
    case 0x0301:
      return '10';
    case 0x0300:
      return 's3';
    case 0x0002:
      return 's2';
    default:
      return '00';
  }
}

const isAlnum = (c: number): boolean => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);

/**
 * JA4 TLS client fingerprint, best effort after the FoxIO specification
 * (https://github.com/FoxIO-LLC/ja4/blob/main/technical_details/JA4.md), transport 't' (TCP).
 */
export function ja4(ch: ClientHello): string {
  const versions = ch.supportedVersions.filter((v) => !isGrease(v));
  const version = versions.length > 0 ? Math.max(...versions) : ch.legacyVersion;
  const ciphers = ch.cipherSuites.filter((v) => !isGrease(v));
  const exts = ch.extensions.filter((v) => !isGrease(v));
  let alpn = '00';
  const first = ch.alpn[0];
  if (first !== undefined && first.length > 0) {
    const a = first.charCodeAt(0);
    const z = first.charCodeAt(first.length - 1);
    alpn = isAlnum(a) && isAlnum(z) ? first[0]! + first[first.length - 1]! : a.toString(16).padStart(2, '0')[0]! + z.toString(16).padStart(2, '0')[1]!;
  }
  const two = (n: number): string => String(Math.min(n, 99)).padStart(2, '0');
  const a = `t${ja4Version(version)}${ch.sni !== null ? 'd' : 'i'}${two(ciphers.length)}${two(exts.length)}${alpn}`;
  const b = ciphers.length === 0 ? '000000000000' : sha12(ciphers.map(hex4).sort().join(','));
  const extList = exts
    .filter((v) => v !== EXT_SERVER_NAME && v !== EXT_ALPN)
    .map(hex4)
    .sort()
    .join(',');
  const sigs = ch.signatureAlgorithms.filter((v) => !isGrease(v)).map(hex4).join(',');
  const c = exts.length === 0 ? '000000000000' : sha12(sigs === '' ? extList : `${extList}_${sigs}`);
  return `${a}_${b}_${c}`;
}
