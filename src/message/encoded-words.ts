import libmime from 'libmime';

/**
 * Decodes RFC 2047 encoded words (`=?charset?B|Q?...?=`) with libmime (which converts charsets
 * through iconv-lite, so gb2312, iso-8859-x, windows-125x ... all work). Never throws: on any
 * failure the input is returned as is.
 */
export function decodeWords(value: string): string {
  if (value.indexOf('=?') < 0) return value;
  try {
    return libmime.decodeWords(value);
  } catch {
    return value;
  }
}

/** A structured header value (`type/subtype; a=b`): lowercased value, parameters by lowercased name. */
export interface StructuredValue {
  value: string;
  params: Record<string, string>;
}

/**
 * Parses a structured MIME header value (Content-Type, Content-Disposition) with libmime:
 * RFC 2045 parameters, RFC 2231 continuations and charsets (`filename*0*=utf-8''...`).
 * The first of duplicated parameters wins. Never throws.
 */
export function parseStructured(value: string): StructuredValue {
  try {
    const parsed = libmime.parseHeaderValue(stripComments(value));
    const params: Record<string, string> = Object.create(null) as Record<string, string>;
    for (const [k, v] of Object.entries(parsed.params ?? {})) {
      if (typeof v === 'string') params[k.toLowerCase()] = v;
    }
    return { value: String(parsed.value ?? '').trim().toLowerCase(), params };
  } catch {
    const semi = value.indexOf(';');
    return { value: (semi < 0 ? value : value.slice(0, semi)).trim().toLowerCase(), params: Object.create(null) as Record<string, string> };
  }
}

/**
 * Removes RFC 5322 comments `(...)` from a structured value, outside quoted strings. Inside an
 * unquoted parameter value a parenthesis only opens a comment after whitespace
 * (`filename=Invoice(1).pdf` keeps its name). An unbalanced `(` followed by more parameters is
 * not treated as a comment.
 */
export function stripComments(s: string): string {
  if (s.indexOf('(') < 0) return s;
  let out = '';
  let depth = 0;
  let inQuote = false;
  let inValue = false;
  let commentStart = -1;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\' && i + 1 < s.length) {
      if (depth === 0) out += c + s[i + 1];
      i++;
      continue;
    }
    if (c === '"' && depth === 0) {
      inQuote = !inQuote;
      out += c;
      continue;
    }
    if (!inQuote) {
      if (c === '(' && (depth > 0 || !inValue || out.length === 0 || /[ \t]$/.test(out))) {
        if (depth === 0) commentStart = i;
        depth++;
        continue;
      }
      if (c === ')' && depth > 0) {
        depth--;
        continue;
      }
      if (depth === 0) {
        if (c === '=') inValue = true;
        else if (c === ';') inValue = false;
      }
    }
    if (depth === 0) out += c;
  }
  if (depth === 0) return out;
  return s.indexOf(';', commentStart) < 0 ? out : s;
}
