import type { AddressRecord } from '../core/records.js';
import { decodeWords } from './encoded-words.js';

/**
 * RFC 5322 section 3.4 address-list parser, lenient the way mail clients are: groups
 * (`name: a, b;`), quoted display names, comments, angle addresses, bare addresses, RFC 2047
 * encoded-word names. Its heuristics for broken input follow postal-mime's addressParser (the
 * reference our tests compare with). Groups are flattened into their members.
 */
export function parseAddressList(value: string): AddressRecord[] {
  const out: AddressRecord[] = [];
  parseList(value, 0, out);
  return out;
}

const MAX_GROUP_DEPTH = 50;

type Tok =
  | { k: 'text'; v: string; quoted: boolean }
  | { k: 'comment'; v: string }
  | { k: 'angle'; v: string }
  | { k: 'group'; name: string; members: string }
  | { k: 'sep' };

/** Splits into tokens. Quoted strings, comments, angle addresses and groups are single tokens. */
function tokenize(s: string): Tok[] {
  const toks: Tok[] = [];
  let text = '';
  const flushText = (): void => {
    const t = text.trim();
    if (t) toks.push({ k: 'text', v: t, quoted: false });
    text = '';
  };
  const n = s.length;
  let i = 0;
  while (i < n) {
    const c = s[i]!;
    if (c === '"') {
      flushText();
      let v = '';
      i++;
      while (i < n && s[i] !== '"') {
        if (s[i] === '\\' && i + 1 < n) i++;
        v += s[i];
        i++;
      }
      i++;
      v = v.replace(/[\r\n]/g, ' ').trim();
      if (v) toks.push({ k: 'text', v, quoted: true });
    } else if (c === '(') {
      flushText();
      // RFC 5322 3.2.2: comments nest; postal-mime ends a comment at the first ')'.
      let v = '';
      i++;
      while (i < n && s[i] !== ')') {
        if (s[i] === '\\' && i + 1 < n) i++;
        v += s[i];
        i++;
      }
      i++;
      v = v.trim();
      if (v) toks.push({ k: 'comment', v });
    } else if (c === '<') {
      flushText();
      const close = s.indexOf('>', i + 1);
      const end = close < 0 ? n : close;
      const v = s.slice(i + 1, end).trim();
      if (v) toks.push({ k: 'angle', v });
      i = end + 1;
    } else if (c === ',' || c === ';') {
      flushText();
      toks.push({ k: 'sep' });
      i++;
    } else if (c === ':') {
      // RFC 5322 3.4: group = display-name ":" [group-list] ";"
      const name = text.trim();
      text = '';
      let groupName = name;
      // A group name may be a quoted string just before.
      const prev = toks[toks.length - 1];
      if (!groupName && prev && prev.k === 'text') {
        toks.pop();
        groupName = prev.v;
      }
      const semi = s.indexOf(';', i + 1);
      const end = semi < 0 ? n : semi;
      toks.push({ k: 'group', name: groupName, members: s.slice(i + 1, end) });
      i = end + 1;
    } else {
      text += c === '\n' || c === '\r' ? ' ' : c;
      i++;
    }
  }
  flushText();
  return toks;
}

function parseList(s: string, depth: number, out: AddressRecord[]): void {
  if (depth > MAX_GROUP_DEPTH) return;
  let cur: Tok[] = [];
  for (const t of tokenize(s)) {
    if (t.k === 'sep') {
      if (cur.length) mailbox(cur, depth, out);
      cur = [];
    } else if (t.k === 'group') {
      if (cur.length) mailbox(cur, depth, out);
      cur = [];
      parseList(t.members, depth + 1, out);
    } else {
      cur.push(t);
    }
  }
  if (cur.length) mailbox(cur, depth, out);
}

const STRICT_ADDR = /^[^@\s]+@[^@\s]+$/;
const WORD = /\w/;
const ENCODED_WORDS_ONLY = /^(?:=\?[^?\s]+\?[QqBb]\?[^?]*\?=\s*)+$/;

/** Finds an address-looking token (x@y) inside free text. */
function findAddress(text: string): { index: number; value: string } | null {
  const re = /\S+/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text))) {
    const tok = m[0];
    const at = tok.indexOf('@');
    if (at < 0) continue;
    let a = 0;
    while (a < at && !WORD.test(tok[a]!)) a++;
    if (a >= at) continue;
    let b = tok.length;
    while (b > at + 1 && !WORD.test(tok[b - 1]!)) b--;
    if (b <= at + 1) continue;
    return { index: m.index + a, value: tok.slice(a, b) };
  }
  return null;
}

function hasAngleAddress(text: string): boolean {
  return /<[^<>@]+@[^<>]+>/.test(text);
}

function mailbox(toks: Tok[], depth: number, out: AddressRecord[]): void {
  const texts: { v: string; quoted: boolean }[] = [];
  let comments: string[] = [];
  const addrs: string[] = [];
  for (const t of toks) {
    if (t.k === 'text') texts.push({ v: t.v, quoted: t.quoted });
    else if (t.k === 'comment') comments.push(t.v);
    else if (t.k === 'angle') addrs.push(t.v);
  }
  if (!addrs.length && texts.length) {
    for (let i = texts.length - 1; i >= 0; i--) {
      if (!texts[i]!.quoted && STRICT_ADDR.test(texts[i]!.v)) {
        addrs.push(texts[i]!.v);
        texts.splice(i, 1);
        break;
      }
    }
    if (!addrs.length) {
      for (let i = texts.length - 1; i >= 0; i--) {
        const t = texts[i]!;
        if (t.quoted) continue;
        const f = findAddress(t.v);
        if (f) {
          addrs.push(f.value);
          t.v = (t.v.slice(0, f.index).trimEnd() + ' ' + t.v.slice(f.index + f.value.length).trimStart()).trim();
          break;
        }
      }
    }
  }
  let nameParts = texts.map((t) => t.v).filter((v) => v !== '');
  if (!nameParts.length && comments.length) {
    nameParts = comments;
    comments = [];
  }
  if (addrs.length > 1) nameParts = nameParts.concat(addrs.splice(1));
  const text = nameParts.join(' ');
  const address = addrs.join(' ');
  if (!address && ENCODED_WORDS_ONLY.test(text.trim())) {
    const decoded = decodeWords(text);
    if (hasAngleAddress(decoded) && depth < MAX_GROUP_DEPTH) {
      const sub: AddressRecord[] = [];
      parseList(decoded, depth + 1, sub);
      if (sub.length) {
        for (const a of sub) out.push(a);
        return;
      }
    }
    out.push({ name: decoded, address: '' });
    return;
  }
  const rec: AddressRecord = { address: address || text, name: decodeWords(text || address) };
  if (rec.address === rec.name) {
    if (rec.address.includes('@')) rec.name = '';
    else rec.address = '';
  }
  out.push(rec);
}
