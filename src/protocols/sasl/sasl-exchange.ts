/**
 * One SASL exchange (RFC 4422) as seen on the wire, decoded into what an investigator needs:
 * identities, cleartext secrets, crackable hashcat/John lines and the evidence around them.
 *
 * Protocol analyzers strip their own framing (SMTP `334 `, IMAP/POP3/ManageSieve `+ `, the command
 * itself) and feed the base64 text of each step. Pure and synchronous; never throws on hostile input:
 * irregularities become `sasl_*` anomaly codes (catalog in anomaly-codes.ts).
 */
import { decodeBase64Lenient, decodeBase64Strict, encodeBase64 } from './base64.js';
import { first, parseDigestDirectives, parseScramAttributes, unescapeSaslName } from './directives.js';
import { ntlmHashcat, ntlmResponseKind, parseNtlm } from './ntlm.js';
import type { NtlmAuthenticate } from './ntlm.js';
import { decodeLatin1, decodeUtf8OrLatin1, toHex } from './text.js';

export { decodeBase64Strict } from './base64.js';
export { decodeLatin1 } from './text.js';
export { apopHashcat } from './apop-hashcat.js';

// #region limits
// These bound one exchange; they are not in core/limits.ts because SASL lines are already capped by
// `maxLineBytes` upstream and an exchange is short-lived. Past a bound the input is cut, never grown.

/** Longest base64 step kept (characters). Longer: cut to this (on a 4-char boundary), `sasl_line_too_long`. */
export const SASL_MAX_LINE_CHARS = 64 * 1024;
/** Steps (server challenges + client responses) processed per exchange. Past it: ignored, `sasl_too_many_steps`. */
export const SASL_MAX_STEPS = 64;
/** Raw steps kept in `detail` for mechanisms we do not decode (per side). */
export const SASL_MAX_RAW_STEPS_KEPT = 8;
/** Longest raw step or free-text value copied into `detail` (characters). */
export const SASL_MAX_RAW_DETAIL_CHARS = 4096;
// #endregion

/** hashcat modes produced here (checked against hashcat's src/modules/module_*.c parsers). */
export const HASHCAT_MODE = {
  /** `$cram_md5$<base64 challenge>$<base64 "user hexdigest">` (module_10200.c). */
  CRAM_MD5: 10200,
  /** `user::domain:lm_response:nt_response:server_challenge` (module_05500.c). */
  NETNTLMV1: 5500,
  /** `user::domain:server_challenge:ntproofstr:blob` (module_05600.c). */
  NETNTLMV2: 5600,
} as const;

/** What one SASL exchange revealed. */
export interface SaslResult {
  /** Upper-case, as sent. */
  mechanism: string;
  username: string | null;
  /** Authorization identity (PLAIN, DIGEST-MD5, SCRAM, EXTERNAL), when non-empty. */
  authzid: string | null;
  /** Cleartext password or bearer token, when decodable. */
  secret: string | null;
  /** hashcat-ready line for challenge-response mechanisms. */
  hashcat: { mode: number; line: string } | null;
  /** Evidence: challenge, response, realm, nonce, NTLM domain/workstation/version, OAuth host/port ... */
  detail: Record<string, string>;
  /** The exchange had every step the mechanism needs to authenticate. */
  complete: boolean;
  /** The client cancelled with "*" (RFC 4422 section 3.5). */
  cancelled: boolean;
  /** `sasl_*` anomaly codes, each once, in the order first seen. */
  anomalies: string[];
}

type MechKind =
  | 'PLAIN'
  | 'LOGIN'
  | 'CRAM-MD5'
  | 'DIGEST-MD5'
  | 'XOAUTH2'
  | 'OAUTHBEARER'
  | 'NTLM'
  | 'ANONYMOUS'
  | 'EXTERNAL'
  | 'GSSAPI'
  | 'SCRAM'
  | 'UNKNOWN';

function mechKind(m: string): MechKind {
  switch (m) {
    case 'PLAIN':
    case 'LOGIN':
    case 'CRAM-MD5':
    case 'DIGEST-MD5':
    case 'XOAUTH2':
    case 'OAUTHBEARER':
    case 'NTLM':
    case 'ANONYMOUS':
    case 'EXTERNAL':
    case 'GSSAPI':
      return m;
    default:
      // RFC 5802 / RFC 7677: SCRAM-SHA-1, SCRAM-SHA-256, their -PLUS variants, SCRAM-SHA-512 ...
      return m.startsWith('SCRAM-') ? 'SCRAM' : 'UNKNOWN';
  }
}

/** One step as received: the (capped) text and its decoded bytes (null when not base64). */
interface Step {
  readonly raw: string;
  readonly bytes: Uint8Array | null;
  /** Client steps: sent as the initial response of the command. */
  readonly initial: boolean;
}

/** Mutable state shared by the mechanism handlers. */
interface State {
  readonly mechanism: string;
  username: string | null;
  authzid: string | null;
  secret: string | null;
  hashcat: { mode: number; line: string } | null;
  readonly detail: Map<string, string>;
  complete: boolean;
  readonly anomalies: string[];
  clientSteps: number;
  serverSteps: number;
  // LOGIN
  loginExpect: 'username' | 'password' | null;
  loginGotUser: boolean;
  // CRAM-MD5
  challenge: Uint8Array | null;
  // DIGEST-MD5 / NTLM / SCRAM / GSSAPI progress
  sawChallenge: boolean;
  sawResponse: boolean;
  ntlmServerChallenge: string | null;
  ntlmAuth: NtlmAuthenticate | null;
  scramClientFirstBare: string | null;
  scramServerFirst: string | null;
}

interface Handler {
  server(st: State, step: Step): void;
  client(st: State, step: Step): void;
}

function anomaly(st: State, code: string): void {
  if (!st.anomalies.includes(code)) st.anomalies.push(code);
}

function setDetail(st: State, key: string, value: string, cap = SASL_MAX_LINE_CHARS): void {
  st.detail.set(key, value.length > cap ? value.slice(0, cap) : value);
}

/** SASL text (UTF-8, RFC 4422 section 3.4.1); latin1 + `sasl_non_utf8` otherwise. */
function text(st: State, bytes: Uint8Array): string {
  const r = decodeUtf8OrLatin1(bytes);
  if (!r.utf8) anomaly(st, 'sasl_non_utf8');
  return r.text;
}

function nonEmpty(s: string | null): string | null {
  return s === null || s.length === 0 ? null : s;
}

/** A client step the mechanism has no use for; empty ones are normal acknowledgements. */
function unexpectedClient(st: State, step: Step): void {
  if (step.raw.length > 0) anomaly(st, 'sasl_unexpected_step');
}

/** Server data that the mechanism needs but could not be decoded. */
function needBytes(st: State, step: Step): Uint8Array | null {
  if (step.bytes === null) anomaly(st, 'sasl_bad_base64');
  return step.bytes;
}

function keepRaw(st: State, side: 'client' | 'server', n: number, raw: string): void {
  if (n <= SASL_MAX_RAW_STEPS_KEPT) setDetail(st, `${side}_${n}`, raw, SASL_MAX_RAW_DETAIL_CHARS);
}

/** Server text that no mechanism needs (e.g. IMAP "+ Ready"): kept once, not an anomaly. */
function keepServerText(st: State, step: Step): void {
  if (step.raw.length > 0) {
    const shown = step.bytes !== null ? decodeLatin1(step.bytes) : step.raw;
    keepRaw(st, 'server', st.serverSteps, shown);
  }
}

// #region PLAIN (RFC 4616 section 2: message = [authzid] UTF8NUL authcid UTF8NUL passwd)

const PLAIN: Handler = {
  server: keepServerText,
  client(st, step) {
    if (st.sawResponse) return unexpectedClient(st, step);
    st.sawResponse = true;
    const b = step.bytes;
    if (b === null) return;
    const nul1 = b.indexOf(0);
    const nul2 = nul1 < 0 ? -1 : b.indexOf(0, nul1 + 1);
    if (nul1 < 0) {
      // No separator at all: nothing can be told apart. Keep it as evidence.
      anomaly(st, 'sasl_malformed_plain');
      setDetail(st, 'response', text(st, b), SASL_MAX_RAW_DETAIL_CHARS);
      return;
    }
    if (nul2 < 0) {
      // "authcid NUL passwd" (a broken client omitting the authzid field): best-effort reading.
      anomaly(st, 'sasl_malformed_plain');
      st.username = text(st, b.subarray(0, nul1));
      st.secret = text(st, b.subarray(nul1 + 1));
      return;
    }
    if (b.indexOf(0, nul2 + 1) >= 0) anomaly(st, 'sasl_malformed_plain'); // NUL inside passwd
    st.authzid = nonEmpty(text(st, b.subarray(0, nul1)));
    st.username = text(st, b.subarray(nul1 + 1, nul2));
    st.secret = text(st, b.subarray(nul2 + 1));
    if (st.username.length === 0) anomaly(st, 'sasl_malformed_plain'); // authcid is 1*SAFE
    st.complete = true;
  },
};
// #endregion

// #region LOGIN (draft-murchison-sasl-login: server prompts "Username:" then "Password:")

const LOGIN: Handler = {
  server(st, step) {
    const prompt = step.bytes !== null ? decodeLatin1(step.bytes) : step.raw;
    const p = prompt.toLowerCase();
    if (p.includes('pass')) st.loginExpect = 'password';
    else if (p.includes('user') || p.includes('login') || p.includes('name')) st.loginExpect = 'username';
    else {
      anomaly(st, 'sasl_login_odd_prompt');
      st.loginExpect = null;
    }
    const prev = st.detail.get('prompts');
    setDetail(st, 'prompts', prev === undefined ? prompt : `${prev}|${prompt}`, SASL_MAX_RAW_DETAIL_CHARS);
  },
  client(st, step) {
    // Without a recognisable prompt the order decides: username first, then password.
    const slot = step.initial ? 'username' : (st.loginExpect ?? (st.loginGotUser ? 'password' : 'username'));
    st.loginExpect = null;
    if (slot === 'username' && st.loginGotUser) {
      if (st.secret === null) {
        // A second "username" with the password still missing: it is the password.
        st.secret = step.bytes === null ? null : text(st, step.bytes);
        st.complete = step.bytes !== null;
        return;
      }
      return unexpectedClient(st, step);
    }
    if (slot === 'password' && st.secret !== null) return unexpectedClient(st, step);
    if (step.bytes === null) {
      if (slot === 'username') st.loginGotUser = true;
      return;
    }
    const value = text(st, step.bytes);
    if (slot === 'username') {
      st.username = value;
      st.loginGotUser = true;
    } else {
      st.secret = value;
    }
    st.complete = st.username !== null && st.secret !== null;
  },
};
// #endregion

// #region CRAM-MD5 (RFC 2195: challenge "<...>", response "user SP 32*lower-hex")

const CRAM_MD5: Handler = {
  server(st, step) {
    if (st.challenge !== null) return keepServerText(st, step);
    const b = needBytes(st, step);
    if (b === null) return;
    st.challenge = b;
    setDetail(st, 'challenge', decodeLatin1(b), SASL_MAX_RAW_DETAIL_CHARS);
    crammd5Finish(st);
  },
  client(st, step) {
    if (st.sawResponse) return unexpectedClient(st, step);
    st.sawResponse = true;
    const b = step.bytes;
    if (b === null) return;
    const sp = b.lastIndexOf(0x20);
    const response = text(st, b);
    setDetail(st, 'response', response, SASL_MAX_RAW_DETAIL_CHARS);
    if (sp <= 0) {
      anomaly(st, 'sasl_malformed_cram_md5');
      return;
    }
    st.username = text(st, b.subarray(0, sp));
    const digest = decodeLatin1(b.subarray(sp + 1));
    if (!/^[0-9a-fA-F]{32}$/.test(digest)) {
      anomaly(st, 'sasl_malformed_cram_md5');
      return;
    }
    setDetail(st, 'digest', digest);
    st.detail.set('response_b64', encodeBase64(b));
    crammd5Finish(st);
  },
};

function crammd5Finish(st: State): void {
  const digest = st.detail.get('digest');
  const response = st.detail.get('response_b64');
  if (st.challenge === null || digest === undefined || response === undefined) return;
  st.detail.delete('response_b64');
  st.complete = true;
  // hashcat module_10200.c: "$cram_md5$" base64(challenge) "$" base64("user hexdigest").
  st.hashcat = { mode: HASHCAT_MODE.CRAM_MD5, line: `$cram_md5$${encodeBase64(st.challenge)}$${response}` };
}
// #endregion

// #region DIGEST-MD5 (RFC 2831 section 2.1.1 challenge, 2.1.2 response, 2.1.3 rspauth)

/** Directives copied from the client's digest-response into `detail`. */
const DIGEST_RESPONSE_KEYS = [
  'username', 'realm', 'nonce', 'cnonce', 'nc', 'qop', 'digest-uri', 'response', 'maxbuf', 'charset', 'cipher', 'authzid',
] as const;

const DIGEST_MD5: Handler = {
  server(st, step) {
    const b = needBytes(st, step);
    if (b === null) return;
    const t = text(st, b);
    const d = parseDigestDirectives(t);
    if (d.error !== null) anomaly(st, 'sasl_malformed_digest_md5');
    const rspauth = first(d, 'rspauth');
    if (rspauth !== null) {
      setDetail(st, 'rspauth', rspauth);
      return;
    }
    if (st.sawChallenge) return keepServerText(st, step);
    st.sawChallenge = true;
    setDetail(st, 'challenge', t, SASL_MAX_RAW_DETAIL_CHARS);
    if (first(d, 'nonce') === null) anomaly(st, 'sasl_malformed_digest_md5');
    digestFinish(st);
  },
  client(st, step) {
    if (st.sawResponse) return unexpectedClient(st, step); // the empty step-3 reply is normal
    const b = step.bytes;
    if (b === null) return;
    st.sawResponse = true;
    const d = parseDigestDirectives(text(st, b));
    if (d.error !== null) anomaly(st, 'sasl_malformed_digest_md5');
    for (const k of DIGEST_RESPONSE_KEYS) {
      const v = first(d, k);
      if (v !== null) setDetail(st, k, v, SASL_MAX_RAW_DETAIL_CHARS);
    }
    st.username = first(d, 'username');
    st.authzid = nonEmpty(first(d, 'authzid'));
    if (st.username === null || first(d, 'response') === null || first(d, 'nonce') === null) {
      anomaly(st, 'sasl_malformed_digest_md5');
    }
    digestFinish(st);
  },
};

function digestFinish(st: State): void {
  if (!st.sawResponse) return;
  const g = (k: string): string => st.detail.get(k) ?? '';
  st.complete = st.sawChallenge && st.username !== null && /^[0-9a-fA-F]{32}$/.test(g('response'));
  if (!st.complete) return;
  // John the Ripper "dmd5" (DMD5_fmt_plug.c):
  // $DIGEST-MD5$user$realm$nonce$digest-uri$cnonce$nc$qop$response[$authzid]
  const qop = st.detail.get('qop') ?? 'auth'; // RFC 2831: qop defaults to "auth"
  const fields = [g('username'), g('realm'), g('nonce'), g('digest-uri'), g('cnonce'), g('nc'), qop, g('response')];
  const authzid = st.detail.get('authzid');
  if (authzid !== undefined && authzid.length > 0) fields.push(authzid);
  if (fields.every((f) => !f.includes('$') && !/[\r\n]/.test(f)) && /^auth(-int|-conf)?$/.test(qop)) {
    st.detail.set('john', `$DIGEST-MD5$${fields.join('$')}`);
  }
}
// #endregion

// #region XOAUTH2 (Google/Microsoft: "user=" user ^A "auth=Bearer " token ^A ^A)

/** Splits "k=v^Ak=v^A^A" into pairs; returns null when no pair parses. */
function kvPairs(s: string): [string, string][] | null {
  const out: [string, string][] = [];
  for (const part of s.split('\x01')) {
    if (part.length === 0) continue;
    const eq = part.indexOf('=');
    if (eq <= 0) return null;
    out.push([part.slice(0, eq), part.slice(eq + 1)]);
  }
  return out;
}

/** "Bearer <token>" (RFC 6750 section 2.1) → token; other schemes kept whole. */
function bearer(st: State, auth: string): string {
  const sp = auth.indexOf(' ');
  const scheme = sp < 0 ? auth : auth.slice(0, sp);
  setDetail(st, 'auth_scheme', scheme, SASL_MAX_RAW_DETAIL_CHARS);
  return sp < 0 ? auth : auth.slice(sp + 1).trim();
}

/** Server JSON error challenge (XOAUTH2, RFC 7628 section 3.2.2): kept as evidence. */
function oauthServer(st: State, step: Step): void {
  if (step.raw.length === 0) return;
  const b = needBytes(st, step);
  if (b === null) return;
  setDetail(st, 'oauth_error', text(st, b), SASL_MAX_RAW_DETAIL_CHARS);
}

const XOAUTH2: Handler = {
  server: oauthServer,
  client(st, step) {
    if (st.sawResponse) return unexpectedClient(st, step); // empty reply to an error challenge
    const b = step.bytes;
    if (b === null) return;
    st.sawResponse = true;
    const pairs = kvPairs(text(st, b));
    let user: string | null = null;
    let auth: string | null = null;
    for (const [k, v] of pairs ?? []) {
      if (k === 'user') user = v;
      else if (k === 'auth') auth = v;
      else setDetail(st, `kv_${k}`, v, SASL_MAX_RAW_DETAIL_CHARS);
    }
    if (pairs === null || user === null || auth === null) anomaly(st, 'sasl_malformed_xoauth2');
    st.username = user;
    if (auth !== null) st.secret = bearer(st, auth);
    st.complete = user !== null && auth !== null;
  },
};
// #endregion

// #region OAUTHBEARER (RFC 7628 section 3.1: gs2-header ^A *kvpair ^A)

const OAUTHBEARER: Handler = {
  server: oauthServer,
  client(st, step) {
    if (st.sawResponse) {
      // RFC 7628 section 3.2.3: the client answers an error challenge with a single %x01.
      if (step.bytes !== null && step.bytes.length === 1 && step.bytes[0] === 1) return;
      return unexpectedClient(st, step);
    }
    const b = step.bytes;
    if (b === null) return;
    st.sawResponse = true;
    const t = text(st, b);
    const soh = t.indexOf('\x01');
    // gs2-header = gs2-cbind-flag "," [ authzid ] "," (RFC 5801 section 4)
    const header = soh < 0 ? t : t.slice(0, soh);
    const parts = header.split(',');
    let ok = soh >= 0 && parts.length === 3 && parts[2] === '';
    if (parts.length >= 1) setDetail(st, 'gs2_cb_flag', parts[0]!, SASL_MAX_RAW_DETAIL_CHARS);
    if (parts.length >= 2 && parts[1]!.length > 0) {
      if (parts[1]!.startsWith('a=')) st.username = unescapeSaslName(parts[1]!.slice(2));
      else ok = false;
    }
    let auth: string | null = null;
    const pairs = soh < 0 ? null : kvPairs(t.slice(soh));
    if (pairs === null) ok = false;
    for (const [k, v] of pairs ?? []) {
      if (k === 'auth') auth = v;
      else if (k === 'host' || k === 'port') setDetail(st, k, v, SASL_MAX_RAW_DETAIL_CHARS);
      else setDetail(st, `kv_${k}`, v, SASL_MAX_RAW_DETAIL_CHARS);
    }
    if (auth === null) ok = false;
    else st.secret = bearer(st, auth);
    if (!ok) anomaly(st, 'sasl_malformed_oauthbearer');
    st.complete = auth !== null;
  },
};
// #endregion

// #region NTLM (MS-NLMP; carried per MS-SMTPNTLM / MS-POP3 / MS-IMAP)

const NTLM: Handler = {
  server(st, step) {
    if (step.raw.length === 0) return; // IMAP/POP3 empty "+ " before the NEGOTIATE message
    const b = needBytes(st, step);
    if (b === null) return;
    const p = parseNtlm(b);
    if (!p.ok) {
      anomaly(st, 'sasl_malformed_ntlm');
      return;
    }
    const m = p.message;
    if (m.type !== 2) {
      anomaly(st, 'sasl_ntlm_unexpected_type');
      return;
    }
    st.sawChallenge = true;
    st.ntlmServerChallenge = m.serverChallenge;
    setDetail(st, 'ntlm_server_challenge', m.serverChallenge);
    setDetail(st, 'ntlm_challenge_flags', hex32(m.flags));
    if (m.targetName !== null) setDetail(st, 'ntlm_target_name', m.targetName, SASL_MAX_RAW_DETAIL_CHARS);
    if (m.version !== null) setDetail(st, 'ntlm_server_version', m.version);
    ntlmFinish(st);
  },
  client(st, step) {
    if (step.raw.length === 0) return;
    const b = step.bytes;
    if (b === null) return;
    const p = parseNtlm(b);
    if (!p.ok) {
      anomaly(st, 'sasl_malformed_ntlm');
      return;
    }
    const m = p.message;
    if (m.type === 1) {
      setDetail(st, 'ntlm_negotiate_flags', hex32(m.flags));
      if (m.domain !== null) setDetail(st, 'ntlm_negotiate_domain', m.domain, SASL_MAX_RAW_DETAIL_CHARS);
      if (m.workstation !== null) setDetail(st, 'ntlm_negotiate_workstation', m.workstation, SASL_MAX_RAW_DETAIL_CHARS);
      if (m.version !== null) setDetail(st, 'ntlm_version', m.version);
      return;
    }
    if (m.type !== 3) {
      anomaly(st, 'sasl_ntlm_unexpected_type');
      return;
    }
    if (st.ntlmAuth !== null) return unexpectedClient(st, step);
    st.ntlmAuth = m;
    if (m.truncated) anomaly(st, 'sasl_malformed_ntlm');
    st.username = nonEmpty(m.user);
    setDetail(st, 'ntlm_domain', m.domain, SASL_MAX_RAW_DETAIL_CHARS);
    setDetail(st, 'ntlm_workstation', m.workstation, SASL_MAX_RAW_DETAIL_CHARS);
    if (m.flags !== null) setDetail(st, 'ntlm_flags', hex32(m.flags));
    if (m.version !== null) setDetail(st, 'ntlm_version', m.version);
    setDetail(st, 'ntlm_encoding', m.unicode ? 'utf-16le' : 'oem');
    setDetail(st, 'ntlm_response_kind', ntlmResponseKind(m));
    setDetail(st, 'ntlm_lm_response', toHex(m.lmResponse));
    setDetail(st, 'ntlm_nt_response', toHex(m.ntResponse));
    ntlmFinish(st);
  },
};

function hex32(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}

function ntlmFinish(st: State): void {
  if (st.ntlmAuth === null || st.ntlmServerChallenge === null) return;
  st.complete = true;
  st.hashcat = ntlmHashcat(st.ntlmAuth, st.ntlmServerChallenge);
}
// #endregion

// #region ANONYMOUS (RFC 4505: optional trace information) and EXTERNAL (RFC 4422 appendix A)

const ANONYMOUS: Handler = {
  server: keepServerText,
  client(st, step) {
    if (st.sawResponse) return unexpectedClient(st, step);
    st.sawResponse = true;
    if (step.bytes === null) return;
    setDetail(st, 'trace', text(st, step.bytes), SASL_MAX_RAW_DETAIL_CHARS);
    st.complete = true;
  },
};

const EXTERNAL: Handler = {
  server: keepServerText,
  client(st, step) {
    if (st.sawResponse) return unexpectedClient(st, step);
    st.sawResponse = true;
    if (step.bytes === null) return;
    st.authzid = nonEmpty(text(st, step.bytes));
    st.complete = true;
  },
};
// #endregion

// #region GSSAPI (RFC 4752): opaque GSS-API tokens; the mechanism OID is shown

/** OID of an RFC 2743 section 3.1 InitialContextToken (0x60 len 0x06 len oid ...), or null. */
function gssOid(b: Uint8Array): string | null {
  if (b.length < 4 || b[0] !== 0x60) return null;
  let i = 1;
  const l0 = b[i++]!;
  if (l0 & 0x80) i += l0 & 0x7f; // long-form length: skip its bytes
  if (i + 2 > b.length || b[i] !== 0x06) return null;
  const len = b[i + 1]!;
  const start = i + 2;
  if (len === 0 || start + len > b.length) return null;
  const parts: number[] = [Math.floor(b[start]! / 40), b[start]! % 40];
  let v = 0;
  for (let j = start + 1; j < start + len; j++) {
    v = v * 128 + (b[j]! & 0x7f);
    if (!(b[j]! & 0x80)) {
      parts.push(v);
      v = 0;
    }
    if (v > 2 ** 40) return null;
  }
  return parts.join('.');
}

const GSS_NAMES: Record<string, string> = {
  '1.2.840.113554.1.2.2': 'kerberos5',
  '1.2.840.48018.1.2.2': 'kerberos5 (ms)',
  '1.3.6.1.5.5.2': 'spnego',
};

const GSSAPI: Handler = {
  server(st, step) {
    if (step.raw.length > 0) st.sawChallenge = true;
    setDetail(st, 'gssapi_server_tokens', String(st.serverSteps));
    gssFinish(st);
  },
  client(st, step) {
    setDetail(st, 'gssapi_client_tokens', String(st.clientSteps));
    if (st.clientSteps === 1 && step.bytes !== null) {
      const oid = gssOid(step.bytes);
      if (oid !== null) {
        setDetail(st, 'gssapi_oid', oid);
        const name = GSS_NAMES[oid];
        if (name !== undefined) setDetail(st, 'gssapi_mech', name);
      }
      setDetail(st, 'gssapi_token_bytes', String(step.bytes.length));
    }
    gssFinish(st);
  },
};

function gssFinish(st: State): void {
  // Context token, server reply, then the security-layer message: at least 2 client tokens.
  st.complete = st.sawChallenge && st.clientSteps >= 2;
}
// #endregion

// #region SCRAM (RFC 5802 section 5, RFC 7677)

const SCRAM: Handler = {
  server(st, step) {
    if (step.raw.length === 0) return; // IMAP/POP3 empty "+ " before the client-first message
    const b = needBytes(st, step);
    if (b === null) return;
    const t = text(st, b);
    const attrs = parseScramAttributes(t);
    const err = attrs.find((a) => a.name === 'e');
    if (err !== undefined) setDetail(st, 'scram_error', err.value, SASL_MAX_RAW_DETAIL_CHARS);
    if (st.scramServerFirst === null && err === undefined) {
      // server-first-message = [reserved-mext ","] nonce "," salt "," iteration-count ["," extensions]
      st.scramServerFirst = t.length > SASL_MAX_RAW_DETAIL_CHARS ? t.slice(0, SASL_MAX_RAW_DETAIL_CHARS) : t;
      st.sawChallenge = true;
      const r = attrs.find((a) => a.name === 'r');
      const s = attrs.find((a) => a.name === 's');
      const i = attrs.find((a) => a.name === 'i');
      if (r) setDetail(st, 'scram_nonce', r.value, SASL_MAX_RAW_DETAIL_CHARS);
      if (s) setDetail(st, 'scram_salt', s.value, SASL_MAX_RAW_DETAIL_CHARS);
      if (i) setDetail(st, 'scram_iterations', i.value, SASL_MAX_RAW_DETAIL_CHARS);
      if (!r || !s || !i || !/^[1-9][0-9]{0,9}$/.test(i.value)) anomaly(st, 'sasl_malformed_scram');
      return;
    }
    const v = attrs.find((a) => a.name === 'v');
    if (v !== undefined) setDetail(st, 'scram_server_signature', v.value, SASL_MAX_RAW_DETAIL_CHARS);
    else if (err === undefined) keepServerText(st, step);
  },
  client(st, step) {
    const b = step.bytes;
    if (b === null) return;
    const t = text(st, b);
    if (st.scramClientFirstBare === null) {
      // client-first-message = gs2-header client-first-message-bare; gs2-header = cbflag "," [a=authzid] ","
      const c1 = t.indexOf(',');
      const c2 = c1 < 0 ? -1 : t.indexOf(',', c1 + 1);
      if (c2 < 0) {
        anomaly(st, 'sasl_malformed_scram');
        return;
      }
      setDetail(st, 'scram_gs2_header', t.slice(0, c2 + 1), SASL_MAX_RAW_DETAIL_CHARS);
      const az = t.slice(c1 + 1, c2);
      if (az.startsWith('a=')) st.authzid = nonEmpty(unescapeSaslName(az.slice(2)));
      const bare = t.slice(c2 + 1);
      st.scramClientFirstBare = bare.length > SASL_MAX_RAW_DETAIL_CHARS ? bare.slice(0, SASL_MAX_RAW_DETAIL_CHARS) : bare;
      const attrs = parseScramAttributes(bare);
      const n = attrs.find((a) => a.name === 'n');
      const r = attrs.find((a) => a.name === 'r');
      if (n) st.username = unescapeSaslName(n.value);
      if (r) setDetail(st, 'scram_client_nonce', r.value, SASL_MAX_RAW_DETAIL_CHARS);
      if (!n || !r) anomaly(st, 'sasl_malformed_scram');
      return;
    }
    if (st.sawResponse) return unexpectedClient(st, step);
    if (st.scramServerFirst === null) {
      anomaly(st, 'sasl_malformed_scram');
      return;
    }
    st.sawResponse = true;
    // client-final-message = client-final-message-without-proof "," proof
    const pi = t.lastIndexOf(',p=');
    const attrs = parseScramAttributes(t);
    const p = attrs.find((a) => a.name === 'p');
    const c = attrs.find((a) => a.name === 'c');
    if (c) setDetail(st, 'scram_channel_binding', c.value, SASL_MAX_RAW_DETAIL_CHARS);
    if (!p || pi < 0) {
      anomaly(st, 'sasl_malformed_scram');
      return;
    }
    setDetail(st, 'scram_proof', p.value, SASL_MAX_RAW_DETAIL_CHARS);
    // AuthMessage (RFC 5802 section 3): with salt and iterations, what an offline guess is checked against.
    setDetail(st, 'scram_auth_message', `${st.scramClientFirstBare},${st.scramServerFirst},${t.slice(0, pi)}`);
    st.complete = true;
  },
};
// #endregion

// #region unknown mechanisms: raw steps kept

const UNKNOWN: Handler = {
  server(st, step) {
    keepRaw(st, 'server', st.serverSteps, step.raw);
  },
  client(st, step) {
    keepRaw(st, 'client', st.clientSteps, step.raw);
  },
};
// #endregion

const HANDLERS = {
  PLAIN,
  LOGIN,
  'CRAM-MD5': CRAM_MD5,
  'DIGEST-MD5': DIGEST_MD5,
  XOAUTH2,
  OAUTHBEARER,
  NTLM,
  ANONYMOUS,
  EXTERNAL,
  GSSAPI,
  SCRAM,
  UNKNOWN,
} satisfies Record<MechKind, Handler>;

/**
 * Decodes one SASL exchange step by step. Feed steps in wire order; call `result()` at any time
 * (e.g. when the server's final reply arrives). Never throws.
 *
 * @example
 * const x = new SaslExchange('LOGIN');
 * x.serverChallenge('VXNlcm5hbWU6'); x.clientResponse('YWxpY2U=');
 * x.serverChallenge('UGFzc3dvcmQ6'); x.clientResponse('U3VtbWVyMjAyNCE=');
 * x.result().secret; // "Summer2024!"
 */
export class SaslExchange {
  readonly #st: State;
  readonly #handler: Handler;
  #cancelled = false;
  #steps = 0;

  /**
   * @param mechanism SASL mechanism name as sent (upper-cased here).
   * @param initialResponse Initial response as sent with the command (RFC 4954 section 4, RFC 4959),
   *   base64; "=" means an empty response; null/undefined means none was sent.
   */
  constructor(mechanism: string, initialResponse?: string | null) {
    const mech = String(mechanism).slice(0, 64).toUpperCase();
    const kind = mechKind(mech);
    this.#handler = HANDLERS[kind];
    this.#st = {
      mechanism: mech,
      username: null,
      authzid: null,
      secret: null,
      hashcat: null,
      detail: new Map(),
      complete: false,
      anomalies: [],
      clientSteps: 0,
      serverSteps: 0,
      loginExpect: null,
      loginGotUser: false,
      challenge: null,
      sawChallenge: false,
      sawResponse: false,
      ntlmServerChallenge: null,
      ntlmAuth: null,
      scramClientFirstBare: null,
      scramServerFirst: null,
    };
    if (kind === 'UNKNOWN') anomaly(this.#st, 'sasl_unknown_mechanism');
    if (initialResponse !== undefined && initialResponse !== null) this.#client(initialResponse, true);
  }

  /** A server challenge: the text after "334 " / "+ " (may be empty). */
  serverChallenge(text: string): void {
    const step = this.#step(text, false, 'server');
    if (step === null) return;
    this.#st.serverSteps++;
    this.#guard(() => this.#handler.server(this.#st, step));
  }

  /** A client response line (base64; "*" cancels, RFC 4422 section 3.5). */
  clientResponse(text: string): void {
    this.#client(text, false);
  }

  #client(text: string, initial: boolean): void {
    const step = this.#step(text, initial, 'client');
    if (step === null) return;
    this.#st.clientSteps++;
    this.#guard(() => this.#handler.client(this.#st, step));
  }

  /** Caps, counts and decodes one step; null when it must not reach the mechanism. */
  #step(input: string, initial: boolean, side: 'client' | 'server'): Step | null {
    const st = this.#st;
    if (this.#cancelled) {
      anomaly(st, 'sasl_unexpected_step');
      return null;
    }
    if (this.#steps >= SASL_MAX_STEPS) {
      anomaly(st, 'sasl_too_many_steps');
      return null;
    }
    this.#steps++;
    let raw = typeof input === 'string' ? input : '';
    if (raw.length > SASL_MAX_LINE_CHARS + 2) {
      anomaly(st, 'sasl_line_too_long');
      raw = raw.slice(0, SASL_MAX_LINE_CHARS - (SASL_MAX_LINE_CHARS % 4));
    }
    raw = raw.trim();
    if (side === 'client' && raw === '*') {
      this.#cancelled = true;
      return null;
    }
    // "=" is the explicit empty initial response (RFC 4954 section 4); some clients use it later too.
    if (raw === '=') return { raw: '', bytes: new Uint8Array(0), initial };
    let bytes = decodeBase64Strict(raw);
    if (bytes === null) {
      bytes = decodeBase64Lenient(raw);
      // Server text for mechanisms that ignore it (IMAP "+ Ready") is judged by the handler.
      if (side === 'client') anomaly(st, bytes === null ? 'sasl_bad_base64' : 'sasl_base64_noncanonical');
    }
    return { raw, bytes, initial };
  }

  /** Last line of defence: a handler bug must not escape into the analyzer. */
  #guard(fn: () => void): void {
    try {
      fn();
    } catch {
      anomaly(this.#st, 'sasl_internal_error');
    }
  }

  /** What the exchange revealed so far (a fresh object each call). */
  result(): SaslResult {
    const st = this.#st;
    return {
      mechanism: st.mechanism,
      username: st.username,
      authzid: st.authzid,
      secret: st.secret,
      hashcat: st.hashcat === null ? null : { ...st.hashcat },
      detail: Object.fromEntries(st.detail),
      complete: st.complete && !this.#cancelled,
      cancelled: this.#cancelled,
      anomalies: [...st.anomalies],
    };
  }
}
