/**
 * NTLM messages as carried by SASL "NTLM" (MS-SMTPNTLM, MS-POP3, MS-IMAP): NEGOTIATE (type 1),
 * CHALLENGE (type 2) and AUTHENTICATE (type 3), laid out in MS-NLMP section 2.2.1. Every offset and
 * length comes from the wire, so each is checked against the message size; nothing here throws.
 */
import { decodeLatin1, decodeUtf16le, toHex } from './text.js';

/** "NTLMSSP\0" (MS-NLMP 2.2.1.1 Signature). */
const SIGNATURE = [0x4e, 0x54, 0x4c, 0x4d, 0x53, 0x53, 0x50, 0x00] as const;

/** MS-NLMP 2.2.2.5 NEGOTIATE flags used here. */
export const NTLMSSP_NEGOTIATE_UNICODE = 0x00000001;
export const NTLM_NEGOTIATE_OEM = 0x00000002;
export const NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY = 0x00080000;
export const NTLMSSP_NEGOTIATE_VERSION = 0x02000000;

export interface NtlmNegotiate {
  readonly type: 1;
  readonly flags: number;
  /** OEM strings, present only when the client supplied them. */
  readonly domain: string | null;
  readonly workstation: string | null;
  readonly version: string | null;
}

export interface NtlmChallenge {
  readonly type: 2;
  readonly flags: number;
  /** The 8-byte ServerChallenge, hex. */
  readonly serverChallenge: string;
  readonly targetName: string | null;
  readonly version: string | null;
}

export interface NtlmAuthenticate {
  readonly type: 3;
  /** Flags from the message, or null when the (old-style) header is too short to carry them. */
  readonly flags: number | null;
  readonly lmResponse: Uint8Array;
  readonly ntResponse: Uint8Array;
  readonly domain: string;
  readonly user: string;
  readonly workstation: string;
  readonly version: string | null;
  /** True when the strings were read as UTF-16LE. */
  readonly unicode: boolean;
  /** A field pointed outside the message (its value is empty). */
  readonly truncated: boolean;
}

export type NtlmMessage = NtlmNegotiate | NtlmChallenge | NtlmAuthenticate;

export type NtlmParse = { ok: true; message: NtlmMessage } | { ok: false; reason: string };

function u16(b: Uint8Array, o: number): number {
  return b[o]! | (b[o + 1]! << 8);
}

function u32(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}

/** True when the bytes start with the NTLMSSP signature. */
export function isNtlmMessage(b: Uint8Array): boolean {
  if (b.length < 12) return false;
  for (let i = 0; i < 8; i++) if (b[i] !== SIGNATURE[i]) return false;
  return true;
}

interface Field {
  bytes: Uint8Array;
  /** The field's offset (0 when empty), used to find where the payload starts. */
  offset: number;
  outOfRange: boolean;
}

/** Reads a MS-NLMP 2.2.1 "Fields" triple (Len u16, MaxLen u16, BufferOffset u32) at `at`. */
function field(b: Uint8Array, at: number): Field {
  if (at + 8 > b.length) return { bytes: new Uint8Array(0), offset: 0, outOfRange: true };
  const len = u16(b, at);
  const off = u32(b, at + 4);
  if (len === 0) return { bytes: new Uint8Array(0), offset: 0, outOfRange: false };
  if (off > b.length || off + len > b.length) {
    return { bytes: new Uint8Array(0), offset: off, outOfRange: true };
  }
  return { bytes: b.subarray(off, off + len), offset: off, outOfRange: false };
}

/** MS-NLMP 2.2.2.10 VERSION: "major.minor.build (ntlm rev N)". */
function version(b: Uint8Array, at: number): string | null {
  if (at + 8 > b.length) return null;
  return `${b[at]!}.${b[at + 1]!}.${u16(b, at + 2)} (ntlm rev ${b[at + 7]!})`;
}

/** Smallest non-zero payload offset: tells how long the fixed header really is. */
function payloadStart(fields: Field[], size: number): number {
  let min = size;
  for (const f of fields) if (f.offset > 0 && f.offset < min) min = f.offset;
  return min;
}

/** Parses one NTLM message. Borrowed input; returned byte fields are views into it. */
export function parseNtlm(b: Uint8Array): NtlmParse {
  if (!isNtlmMessage(b)) return { ok: false, reason: 'no NTLMSSP signature' };
  const type = u32(b, 8);
  switch (type) {
    case 1: {
      // MS-NLMP 2.2.1.1 NEGOTIATE_MESSAGE: flags @12, DomainNameFields @16, WorkstationFields @24, Version @32.
      if (b.length < 16) return { ok: false, reason: 'NEGOTIATE shorter than its header' };
      const flags = u32(b, 12);
      const dom = b.length >= 24 ? field(b, 16) : null;
      const ws = b.length >= 32 ? field(b, 24) : null;
      const start = payloadStart([dom, ws].filter((f): f is Field => f !== null), b.length);
      return {
        ok: true,
        message: {
          type: 1,
          flags,
          domain: dom && dom.bytes.length > 0 ? decodeLatin1(dom.bytes) : null,
          workstation: ws && ws.bytes.length > 0 ? decodeLatin1(ws.bytes) : null,
          version: flags & NTLMSSP_NEGOTIATE_VERSION && start >= 40 ? version(b, 32) : null,
        },
      };
    }
    case 2: {
      // MS-NLMP 2.2.1.2 CHALLENGE_MESSAGE: TargetNameFields @12, flags @20, ServerChallenge @24,
      // Reserved @32, TargetInfoFields @40, Version @48.
      if (b.length < 32) return { ok: false, reason: 'CHALLENGE shorter than its header' };
      const flags = u32(b, 20);
      const tn = field(b, 12);
      const ti = b.length >= 48 ? field(b, 40) : null;
      const start = payloadStart(ti ? [tn, ti] : [tn], b.length);
      const unicode = (flags & NTLMSSP_NEGOTIATE_UNICODE) !== 0;
      return {
        ok: true,
        message: {
          type: 2,
          flags,
          serverChallenge: toHex(b.subarray(24, 32)),
          targetName: tn.bytes.length > 0 ? (unicode ? decodeUtf16le(tn.bytes) : decodeLatin1(tn.bytes)) : null,
          version: flags & NTLMSSP_NEGOTIATE_VERSION && start >= 56 ? version(b, 48) : null,
        },
      };
    }
    case 3: {
      // MS-NLMP 2.2.1.3 AUTHENTICATE_MESSAGE: LmChallengeResponseFields @12, NtChallengeResponseFields
      // @20, DomainNameFields @28, UserNameFields @36, WorkstationFields @44,
      // EncryptedRandomSessionKeyFields @52, NegotiateFlags @60, Version @64, MIC @72.
      if (b.length < 52) return { ok: false, reason: 'AUTHENTICATE shorter than its header' };
      const lm = field(b, 12);
      const nt = field(b, 20);
      const dom = field(b, 28);
      const user = field(b, 36);
      const ws = field(b, 44);
      const all = [lm, nt, dom, user, ws];
      const start = payloadStart(all, b.length);
      // Old (NTLMv1-era) messages end the header at 52 or 60; flags exist only if the payload starts at 64+.
      const flags = start >= 64 && b.length >= 64 ? u32(b, 60) : null;
      const unicode = flags !== null
        ? (flags & NTLMSSP_NEGOTIATE_UNICODE) !== 0
        : looksUtf16([dom.bytes, user.bytes, ws.bytes]);
      const str = (f: Field): string => (unicode ? decodeUtf16le(f.bytes) : decodeLatin1(f.bytes));
      return {
        ok: true,
        message: {
          type: 3,
          flags,
          lmResponse: lm.bytes,
          ntResponse: nt.bytes,
          domain: str(dom),
          user: str(user),
          workstation: str(ws),
          version: flags !== null && flags & NTLMSSP_NEGOTIATE_VERSION && start >= 72 ? version(b, 64) : null,
          unicode,
          truncated: all.some((f) => f.outOfRange),
        },
      };
    }
    default:
      return { ok: false, reason: `unknown NTLM message type ${type}` };
  }
}

/** Heuristic for headers without flags: every string even-length with zero high bytes. */
function looksUtf16(parts: Uint8Array[]): boolean {
  let seen = false;
  for (const p of parts) {
    if (p.length === 0) continue;
    if (p.length % 2 !== 0) return false;
    for (let i = 1; i < p.length; i += 2) if (p[i] !== 0) return false;
    seen = true;
  }
  return seen;
}

/** Which response an AUTHENTICATE message carries (MS-NLMP 3.3.1 / 3.3.2). */
export type NtlmResponseKind = 'anonymous' | 'v1' | 'v1-ess' | 'v2' | 'unknown';

/**
 * NT response length decides (24 bytes = NTLMv1, longer = NTLMv2's NTProofStr + blob). NTLMv1 with
 * extended session security carries the client challenge in the first 8 bytes of an otherwise zero
 * 24-byte LM response (MS-NLMP 3.3.1).
 */
export function ntlmResponseKind(m: NtlmAuthenticate): NtlmResponseKind {
  const nt = m.ntResponse.length;
  if (nt === 0) return m.lmResponse.length <= 1 ? 'anonymous' : 'unknown';
  if (nt === 24) {
    const lm = m.lmResponse;
    if (lm.length === 24) {
      let zero = true;
      for (let i = 8; i < 24; i++) if (lm[i] !== 0) zero = false;
      if (zero) return 'v1-ess';
    }
    return 'v1';
  }
  // NTProofStr (16) + blob header (at least 28 bytes: RespType, HiRespType, reserved, time, client challenge).
  if (nt > 24) return 'v2';
  return 'unknown';
}

/**
 * hashcat lines for an AUTHENTICATE message against the server challenge (hex).
 * Formats as parsed by hashcat's module_05500.c / module_05600.c:
 *  - 5500 NetNTLMv1 / NetNTLMv1+ESS: `user::domain:lm_response:nt_response:server_challenge`
 *  - 5600 NetNTLMv2: `user::domain:server_challenge:ntproofstr:blob` (blob = NT response after byte 16)
 * Returns null for anonymous or unrecognised responses.
 */
export function ntlmHashcat(m: NtlmAuthenticate, serverChallenge: string): { mode: number; line: string } | null {
  const kind = ntlmResponseKind(m);
  if (kind === 'v1' || kind === 'v1-ess') {
    return { mode: 5500, line: `${m.user}::${m.domain}:${toHex(m.lmResponse)}:${toHex(m.ntResponse)}:${serverChallenge}` };
  }
  if (kind === 'v2') {
    const proof = toHex(m.ntResponse.subarray(0, 16));
    const blob = toHex(m.ntResponse.subarray(16));
    return { mode: 5600, line: `${m.user}::${m.domain}:${serverChallenge}:${proof}:${blob}` };
  }
  return null;
}
