/**
 * IMAP command and response line heads (RFC 3501 §6-7, RFC 9051), sequence sets and small
 * argument helpers. Pure functions on latin1 text; never throw.
 */
import type { ImapToken } from './imap-tokenizer.js';
import { nstring, tokenString } from './imap-tokenizer.js';

/** Commands the analyzer knows (RFC 3501, 9051 and the extensions in the issue). Others are recorded as unknown. */
export const IMAP_COMMANDS: ReadonlySet<string> = new Set([
  'CAPABILITY', 'NOOP', 'LOGOUT', 'STARTTLS', 'AUTHENTICATE', 'LOGIN', 'ID', 'ENABLE',
  'SELECT', 'EXAMINE', 'CREATE', 'DELETE', 'RENAME', 'SUBSCRIBE', 'UNSUBSCRIBE', 'LIST', 'LSUB',
  'NAMESPACE', 'STATUS', 'APPEND', 'IDLE', 'CHECK', 'CLOSE', 'UNSELECT', 'EXPUNGE', 'SEARCH',
  'FETCH', 'STORE', 'COPY', 'MOVE', 'UID', 'COMPRESS', 'GETQUOTA', 'GETQUOTAROOT', 'SETQUOTA',
  'GETACL', 'SETACL', 'DELETEACL', 'LISTRIGHTS', 'MYRIGHTS', 'GETMETADATA', 'SETMETADATA',
  'SORT', 'THREAD', 'ESEARCH', 'XLIST', 'UNAUTHENTICATE', 'REPLACE', 'NOTIFY', 'XAPPLEPUSHSERVICE',
]);

/** Commands that take a UID prefix (RFC 3501 §6.4.8, RFC 4315, RFC 6851, RFC 5256, RFC 8508). */
export const UID_COMMANDS: ReadonlySet<string> = new Set(['FETCH', 'STORE', 'COPY', 'MOVE', 'SEARCH', 'EXPUNGE', 'SORT', 'THREAD', 'REPLACE']);

/** A client command line head: tag, command (upper case, `UID FETCH` for UID variants) and where the arguments start. */
export interface CommandHead {
  readonly tag: string;
  readonly command: string;
  /** The verb after UID (FETCH for UID FETCH), upper case. */
  readonly verb: string;
  readonly uid: boolean;
  /** Offset of the first argument character in the line (after the separating space). */
  readonly argStart: number;
}

/** RFC 3501 `tag`: 1*<any ASTRING-CHAR except "+">. Lenient: any non-space run that is not "+" or "*". */
export function parseCommandHead(line: string): CommandHead | null {
  const sp = line.indexOf(' ');
  if (sp <= 0) return null;
  const tag = line.slice(0, sp);
  if (tag === '*' || tag === '+' || /[\x00-\x1f\x7f(){"]/.test(tag)) return null;
  let p = sp + 1;
  let e = line.indexOf(' ', p);
  if (e < 0) e = line.length;
  let verb = line.slice(p, e).toUpperCase();
  if (verb === '' || !/^[A-Z0-9.\-_=]+$/.test(verb)) return null;
  let uid = false;
  if (verb === 'UID' && e < line.length) {
    const p2 = e + 1;
    let e2 = line.indexOf(' ', p2);
    if (e2 < 0) e2 = line.length;
    const v2 = line.slice(p2, e2).toUpperCase();
    if (/^[A-Z]+$/.test(v2)) {
      uid = true;
      verb = v2;
      p = p2;
      e = e2;
    }
  }
  return { tag, command: uid ? `UID ${verb}` : verb, verb, uid, argStart: Math.min(e + 1, line.length) };
}

export type ResponseStatus = 'OK' | 'NO' | 'BAD' | 'PREAUTH' | 'BYE';

/** A server response line head (RFC 3501 §7). */
export type ResponseHead =
  | { readonly kind: 'continuation'; readonly text: string }
  | {
      readonly kind: 'status';
      /** null for untagged (`*`). */
      readonly tag: string | null;
      readonly status: ResponseStatus;
      /** resp-text-code without brackets, e.g. `APPENDUID 38505 3955`. */
      readonly code: string | null;
      readonly text: string;
    }
  | {
      /** Untagged data: `* CAPABILITY ...`, `* 3 FETCH (...)`, `* 5 EXISTS`. */
      readonly kind: 'data';
      /** The number before the name (message-data), or null. */
      readonly number: number | null;
      /** Upper case: CAPABILITY, LIST, FETCH, EXISTS ... */
      readonly name: string;
      /** Offset of the rest (after the name and a space). */
      readonly restStart: number;
    }
  | { readonly kind: 'unknown' };

const STATUSES: ReadonlySet<string> = new Set(['OK', 'NO', 'BAD', 'PREAUTH', 'BYE']);

/** Splits `[code] text` (RFC 3501 resp-text). */
export function parseRespText(s: string): { code: string | null; text: string } {
  if (!s.startsWith('[')) return { code: null, text: s };
  // The code may hold brackets in BADCHARSET/CAPABILITY lists rarely; take the first "]".
  const close = s.indexOf(']');
  if (close < 0) return { code: s.slice(1), text: '' };
  return { code: s.slice(1, close), text: s.slice(close + 1).replace(/^ /, '') };
}

/** Parses the first segment of a server response. */
export function parseResponseHead(line: string): ResponseHead {
  // RFC 3501 §7.5: continue-req = "+" SP (resp-text / base64); some servers omit the space.
  if (line.startsWith('+')) return { kind: 'continuation', text: line.slice(line.startsWith('+ ') ? 2 : 1) };
  const sp = line.indexOf(' ');
  const tag = sp < 0 ? line : line.slice(0, sp);
  if (tag === '') return { kind: 'unknown' };
  const rest = sp < 0 ? '' : line.slice(sp + 1);
  let e = rest.indexOf(' ');
  if (e < 0) e = rest.length;
  const word = rest.slice(0, e).toUpperCase();
  if (STATUSES.has(word)) {
    const rt = parseRespText(rest.slice(Math.min(e + 1, rest.length)));
    return { kind: 'status', tag: tag === '*' ? null : tag, status: word as ResponseStatus, code: rt.code, text: rt.text };
  }
  if (tag !== '*') return { kind: 'unknown' };
  if (/^[0-9]+$/.test(word)) {
    const rest2 = rest.slice(Math.min(e + 1, rest.length));
    let e2 = rest2.indexOf(' ');
    if (e2 < 0) e2 = rest2.length;
    const name = rest2.slice(0, e2).toUpperCase();
    if (name === '') return { kind: 'unknown' };
    return { kind: 'data', number: Number(word), name, restStart: sp + 1 + e + 1 + Math.min(e2 + 1, rest2.length) };
  }
  if (word === '' || !/^[A-Z0-9.\-_]+$/.test(word)) return { kind: 'unknown' };
  return { kind: 'data', number: null, name: word, restStart: Math.min(sp + 1 + e + 1, line.length) };
}

/**
 * Number of messages named by a sequence set (RFC 3501 `sequence-set`: `1:3,7,10:12`), or null
 * when it uses `*` / `$` or does not parse. Ranges are bounded so a hostile set cannot overflow.
 */
export function sequenceSetCount(set: string): number | null {
  if (set === '' || set.includes('*') || set === '$') return null;
  let n = 0;
  for (const part of set.split(',')) {
    const m = /^([0-9]+)(?::([0-9]+))?$/.exec(part);
    if (m === null) return null;
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    n += Math.abs(b - a) + 1;
    if (!Number.isSafeInteger(n)) return null;
  }
  return n;
}

/** A single message number from a sequence set (`7`), else null. */
export function singleNumber(set: string): number | null {
  return /^[0-9]{1,10}$/.test(set) ? Number(set) : null;
}

/** Flags of a `flag-list` token or a bare flag atom. */
export function flagList(t: ImapToken | undefined): string[] {
  if (t === undefined) return [];
  if (t.kind === 'list') return t.items.map((x) => tokenString(x)).filter((x): x is string => x !== null);
  const s = tokenString(t);
  return s === null ? [] : [s];
}

/** `(key value key value)` as sent by ID (RFC 2971) into a record; NIL values become "". Null for NIL. */
export function idParams(t: ImapToken | undefined, maxPairs: number): Record<string, string> | null {
  if (t === undefined || t.kind !== 'list') return null;
  const out: Record<string, string> = {};
  let pairs = 0;
  for (let i = 0; i + 1 < t.items.length && pairs < maxPairs; i += 2, pairs++) {
    const k = nstring(t.items[i]);
    if (k === null) continue;
    out[k.toLowerCase()] = nstring(t.items[i + 1]) ?? '';
  }
  return out;
}

/** The tokens of a FETCH response's msg-att list as name/value pairs (RFC 3501 §7.4.2). */
export function fetchItems(t: ImapToken | undefined): { name: string; token: ImapToken; value: ImapToken | undefined }[] {
  const out: { name: string; token: ImapToken; value: ImapToken | undefined }[] = [];
  if (t === undefined || t.kind !== 'list') return out;
  const items = t.items;
  for (let i = 0; i < items.length; i += 2) {
    const k = items[i]!;
    if (k.kind !== 'atom') {
      i--; // out of step: resynchronise on the next atom
      continue;
    }
    out.push({ name: k.value.toUpperCase(), token: k, value: items[i + 1] });
  }
  return out;
}

/**
 * The mailbox name as an investigator reads it: `INBOX` is case-insensitive (RFC 3501 §5.1);
 * modified UTF-7 (RFC 3501 §5.1.3) is decoded when it is well formed.
 */
export function mailboxName(raw: string): string {
  if (raw.toUpperCase() === 'INBOX') return 'INBOX';
  if (!raw.includes('&')) return raw;
  let ok = true;
  const s = raw.replace(/&([A-Za-z0-9+,]*)-/g, (_m, b64: string) => {
    if (b64 === '') return '&';
    const bytes = Buffer.from(b64.replace(/,/g, '/'), 'base64');
    if (bytes.length % 2 !== 0) {
      ok = false;
      return _m;
    }
    let out = '';
    for (let i = 0; i < bytes.length; i += 2) out += String.fromCharCode((bytes[i]! << 8) | bytes[i + 1]!);
    return out;
  });
  return ok ? s : raw;
}
