import type { AddressRecord, MessageHeaders, ReceivedHop } from '../core/records.js';
import { parseAddressList } from './address-list.js';
import { decodeWords } from './encoded-words.js';

/** One header field: name as written, value unfolded (RFC 5322 section 2.2.3) and trimmed, not decoded. */
export interface HeaderField {
  name: string;
  value: string;
}

const utf8Fatal = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * windows-1252 code points for bytes 0x80-0x9F (WHATWG Encoding, index-windows-1252; the five
 * unassigned bytes 0x81 0x8D 0x8F 0x90 0x9D map to the C1 control of the same value). Other bytes
 * are their latin1 code point. Own table because Node 20's `TextDecoder('windows-1252')` decodes
 * as plain latin1 (0x92 gives U+0092, not U+2019).
 */
const WIN1252_C1 = Uint16Array.from([
  0x20ac, 0x0081, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021, 0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008d, 0x017d, 0x008f,
  0x0090, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, 0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0x009d, 0x017e, 0x0178,
]);

/** Decodes bytes as windows-1252 (WHATWG). Builds the string in slices of at most 8192 code units. */
export function decodeWindows1252(bytes: Uint8Array): string {
  let out = '';
  const CHUNK = 8192;
  const codes = new Uint16Array(Math.min(bytes.length, CHUNK));
  for (let start = 0; start < bytes.length; start += CHUNK) {
    const end = Math.min(bytes.length, start + CHUNK);
    for (let i = start; i < end; i++) {
      const b = bytes[i]!;
      codes[i - start] = b >= 0x80 && b < 0xa0 ? WIN1252_C1[b - 0x80]! : b;
    }
    out += String.fromCharCode.apply(null, codes.subarray(0, end - start) as unknown as number[]);
  }
  return out;
}

/**
 * Decodes raw header bytes. RFC 6532 allows UTF-8; anything that is not valid UTF-8 is read as
 * windows-1252 (a superset of latin1 for printable bytes). `eightBit` tells which happened.
 */
export function decodeHeaderBytes(bytes: Uint8Array): { text: string; eightBit: boolean } {
  try {
    return { text: utf8Fatal.decode(bytes), eightBit: false };
  } catch {
    return { text: decodeWindows1252(bytes), eightBit: true };
  }
}

/**
 * Splits a header block (text, without the blank line) into fields. Lines starting with SP or
 * HTAB continue the previous field (RFC 5322 section 2.2.3: unfolding removes the CRLF, keeps the
 * whitespace). Lines without a colon are counted in `badLines` and skipped.
 */
export function parseHeaderFields(text: string): { fields: HeaderField[]; badLines: number } {
  const fields: HeaderField[] = [];
  let badLines = 0;
  const lines = text.split('\n');
  let cur: string | null = null;
  const flush = (): void => {
    if (cur === null) return;
    const colon = cur.indexOf(':');
    if (colon < 0) {
      badLines++;
    } else {
      const name = trimWsp(cur.slice(0, colon));
      const value = trimWsp(cur.slice(colon + 1).replace(/[\r\n]+/g, ' '));
      if (name) fields.push({ name, value });
      else badLines++;
    }
    cur = null;
  };
  for (let line of lines) {
    // Trailing CRs of a line belong to its terminator.
    let e = line.length;
    while (e > 0 && line.charCodeAt(e - 1) === 13) e--;
    line = line.slice(0, e);
    if (line.length === 0) continue;
    const c0 = line.charCodeAt(0);
    if ((c0 === 0x20 || c0 === 0x09) && cur !== null) {
      cur += line;
    } else {
      flush();
      cur = line;
    }
  }
  flush();
  return { fields, badLines };
}

function trimWsp(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && (s.charCodeAt(a) === 0x20 || s.charCodeAt(a) === 0x09)) a++;
  while (b > a && (s.charCodeAt(b - 1) === 0x20 || s.charCodeAt(b - 1) === 0x09)) b--;
  return s.slice(a, b);
}

/** First field with this name (case-insensitive), or undefined. */
export function firstField(fields: readonly HeaderField[], lowerName: string): HeaderField | undefined {
  for (const f of fields) if (f.name.toLowerCase() === lowerName) return f;
  return undefined;
}

const MONTHS: Record<string, number> = {
  jan: 0, feb: 1, mar: 2, apr: 3, may: 4, jun: 5, jul: 6, aug: 7, sep: 8, oct: 9, nov: 10, dec: 11,
};
/** RFC 5322 section 4.3 obsolete zones (military zones other than Z read as -0000). */
const ZONES: Record<string, number> = {
  ut: 0, gmt: 0, utc: 0, z: 0, est: -300, edt: -240, cst: -360, cdt: -300, mst: -420, mdt: -360, pst: -480, pdt: -420,
};

/**
 * Lenient RFC 5322 section 3.3 date parse to ISO-8601 UTC: optional day name, day, month name,
 * 2- or 4-digit year (RFC 5322 4.3: 00-49 → 20xx, 50-99 → 19xx), time with optional seconds,
 * numeric or named zone; comments ignored. Falls back to Date.parse. Null when unparseable.
 */
export function parseRfc5322Date(value: string): string | null {
  const s = value.replace(/\([^()]*\)/g, ' ').trim();
  const m = /^(?:[A-Za-z]+\s*,?\s*)?(\d{1,2})[\s-]+([A-Za-z]{3})[A-Za-z]*\.?[\s-]+(\d{2,4})\s+(\d{1,2}):(\d{1,2})(?::(\d{1,2}))?(?:\.\d+)?\s*([+-]\d{2}:?\d{2}|[A-Za-z]{1,5})?/.exec(s);
  if (m) {
    const day = Number(m[1]);
    const mon = MONTHS[m[2]!.toLowerCase()];
    let year = Number(m[3]);
    if (m[3]!.length <= 2) year += year < 50 ? 2000 : 1900;
    else if (m[3]!.length === 3) year += 1900;
    const hh = Number(m[4]);
    const mm = Number(m[5]);
    const ss = m[6] ? Number(m[6]) : 0;
    let offset = 0;
    const z = m[7];
    if (z) {
      if (z[0] === '+' || z[0] === '-') {
        const digits = z.slice(1).replace(':', '');
        offset = (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4))) * (z[0] === '-' ? -1 : 1);
      } else {
        offset = ZONES[z.toLowerCase()] ?? 0;
      }
    }
    if (mon !== undefined && day >= 1 && day <= 31 && hh <= 23 && mm <= 59 && ss <= 60) {
      const t = Date.UTC(year, mon, day, hh, mm, Math.min(ss, 59)) - offset * 60_000;
      if (Number.isFinite(t)) return new Date(t).toISOString();
    }
  }
  const t = Date.parse(s);
  if (!Number.isFinite(t)) return null;
  const d = new Date(t);
  return Number.isFinite(d.getTime()) ? d.toISOString() : null;
}

const RECEIVED_KEYWORDS = new Set(['from', 'by', 'via', 'with', 'id', 'for']);

/**
 * Parses a Received field (RFC 5321 section 4.4, "Received:" trace): the from / by / with / id /
 * for clauses, the IP literal of the from clause (`[192.0.2.1]`, `[IPv6:...]`, or an address in
 * its comment) and the date after the last ';'.
 */
export function parseReceived(raw: string): ReceivedHop {
  const hop: ReceivedHop = { raw };
  const semi = raw.lastIndexOf(';');
  const clauses = semi < 0 ? raw : raw.slice(0, semi);
  if (semi >= 0) {
    const date = raw.slice(semi + 1).trim();
    if (date) hop.date = date;
  }
  // Tokens at comment depth 0; comments are kept with the clause they follow.
  const words: { w: string; depth0: boolean }[] = [];
  let depth = 0;
  let cur = '';
  const push = (d0: boolean): void => {
    if (cur) words.push({ w: cur, depth0: d0 });
    cur = '';
  };
  for (let i = 0; i < clauses.length; i++) {
    const c = clauses[i]!;
    if (c === '(') {
      if (depth === 0) push(true);
      depth++;
      cur += c;
    } else if (c === ')' && depth > 0) {
      cur += c;
      depth--;
      if (depth === 0) push(false);
    } else if ((c === ' ' || c === '\t' || c === '\r' || c === '\n') && depth === 0) {
      push(true);
    } else {
      cur += c;
    }
  }
  push(depth === 0);
  let key: string | null = null;
  let fromText = '';
  for (const { w, depth0 } of words) {
    const lw = w.toLowerCase();
    if (depth0 && RECEIVED_KEYWORDS.has(lw)) {
      key = lw;
      continue;
    }
    if (key === 'from') fromText += ' ' + w;
    if (!depth0 || key === null) continue;
    const field = key as 'from' | 'by' | 'via' | 'with' | 'id' | 'for';
    if (field === 'via') continue;
    if (hop[field] === undefined) {
      hop[field] = field === 'for' ? w.replace(/^<|>$/g, '') : w;
    }
  }
  const lit = /\[(?:IPv6:)?([0-9A-Fa-f:.]+)\]/.exec(fromText);
  if (lit) hop.ip = lit[1]!;
  else {
    const v4 = /(?:^|[^\d.])((?:\d{1,3}\.){3}\d{1,3})(?![\d.])/.exec(fromText);
    if (v4) hop.ip = v4[1]!;
  }
  return hop;
}

/** Message-ids `<...>` in a References / In-Reply-To value. */
function msgIds(value: string): string[] {
  const ids = value.match(/<[^<>\s]*>/g);
  if (ids) return ids;
  return value.split(/\s+/).filter((s) => s !== '');
}

function addresses(fields: readonly HeaderField[], lowerName: string, all: boolean): AddressRecord[] {
  const out: AddressRecord[] = [];
  for (const f of fields) {
    if (f.name.toLowerCase() !== lowerName || !f.value) continue;
    for (const a of parseAddressList(f.value)) out.push(a);
    if (!all) break;
  }
  return out;
}

function single(fields: readonly HeaderField[], lowerName: string): string | null {
  const f = firstField(fields, lowerName);
  return f ? decodeWords(f.value) : null;
}

/**
 * Fills {@link MessageHeaders} from a message's top-level header fields. Single-valued fields
 * take the first occurrence (as postal-mime does); To/Cc/Bcc/Reply-To collect every occurrence.
 */
export function buildMessageHeaders(fields: readonly HeaderField[]): MessageHeaders {
  const date = single(fields, 'date');
  const rp = firstField(fields, 'return-path');
  let returnPath: string | null = null;
  if (rp) {
    const m = /<([^<>]*)>/.exec(rp.value);
    returnPath = m ? m[1]!.trim() : rp.value.trim();
  }
  const xoip = single(fields, 'x-originating-ip');
  const inReplyTo = single(fields, 'in-reply-to');
  const refs = firstField(fields, 'references');
  const received: ReceivedHop[] = [];
  const authResults: string[] = [];
  const all: { name: string; value: string }[] = [];
  for (const f of fields) {
    const lower = f.name.toLowerCase();
    if (lower === 'received') received.push(parseReceived(f.value));
    else if (lower === 'authentication-results') authResults.push(f.value);
    all.push({ name: f.name, value: decodeWords(f.value) });
  }
  return {
    from: addresses(fields, 'from', false),
    to: addresses(fields, 'to', true),
    cc: addresses(fields, 'cc', true),
    bcc: addresses(fields, 'bcc', true),
    reply_to: addresses(fields, 'reply-to', true),
    sender: addresses(fields, 'sender', false),
    return_path: returnPath,
    subject: single(fields, 'subject'),
    date,
    date_iso: date ? parseRfc5322Date(date) : null,
    message_id: single(fields, 'message-id'),
    in_reply_to: inReplyTo,
    references: refs ? msgIds(refs.value) : [],
    x_mailer: single(fields, 'x-mailer'),
    user_agent: single(fields, 'user-agent'),
    x_originating_ip: xoip === null ? null : xoip.replace(/^\s*\[|\]\s*$/g, '').trim(),
    received,
    authentication_results: authResults,
    all,
  };
}

/** Empty headers (a message with no header block). */
export function emptyMessageHeaders(): MessageHeaders {
  return buildMessageHeaders([]);
}
