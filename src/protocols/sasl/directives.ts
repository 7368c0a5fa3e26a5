/**
 * Parsers for the comma-separated attribute lists of DIGEST-MD5 (RFC 2831 section 2.1 and 7.1:
 * `name=token` or `name="quoted-string"`, LWS allowed, empty list elements allowed) and SCRAM
 * (RFC 5802 section 5: `a=value` pairs, no quoting).
 */

export interface Directives {
  /** Directive values by lower-case name. A repeated name keeps every value in order. */
  readonly values: Map<string, string[]>;
  /** Text that did not parse as a directive (kept for the anomaly detail), or null. */
  readonly error: string | null;
}

function isLws(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a;
}

/** Parses a DIGEST-MD5 challenge or response. Never throws. */
export function parseDigestDirectives(text: string): Directives {
  const values = new Map<string, string[]>();
  let i = 0;
  const n = text.length;
  let error: string | null = null;
  while (i < n) {
    while (i < n && (isLws(text.charCodeAt(i)) || text[i] === ',')) i++;
    if (i >= n) break;
    const nameStart = i;
    while (i < n && text[i] !== '=' && text[i] !== ',' && !isLws(text.charCodeAt(i))) i++;
    const name = text.slice(nameStart, i).toLowerCase();
    while (i < n && isLws(text.charCodeAt(i))) i++;
    if (i >= n || text[i] !== '=' || name.length === 0) {
      error = text.slice(nameStart, Math.min(n, nameStart + 64));
      // Skip to the next comma and go on: one bad element should not hide the rest.
      while (i < n && text[i] !== ',') i++;
      continue;
    }
    i++; // '='
    while (i < n && isLws(text.charCodeAt(i))) i++;
    let value = '';
    if (text[i] === '"') {
      i++;
      let closed = false;
      while (i < n) {
        const ch = text[i]!;
        if (ch === '\\' && i + 1 < n) {
          value += text[i + 1];
          i += 2;
        } else if (ch === '"') {
          i++;
          closed = true;
          break;
        } else {
          value += ch;
          i++;
        }
      }
      if (!closed) error = `${name}: unterminated quoted-string`;
    } else {
      const start = i;
      while (i < n && text[i] !== ',') i++;
      value = text.slice(start, i).trimEnd();
    }
    const list = values.get(name);
    if (list) list.push(value);
    else values.set(name, [value]);
    while (i < n && text[i] !== ',') {
      if (!isLws(text.charCodeAt(i)) && error === null) error = `${name}: junk after value`;
      i++;
    }
  }
  return { values, error };
}

/** First value of a directive, or null. */
export function first(d: Directives, name: string): string | null {
  const v = d.values.get(name);
  return v && v.length > 0 ? v[0]! : null;
}

/**
 * SCRAM attributes (RFC 5802 section 5.1): `a=value` separated by commas. Returns the pairs in order;
 * an element without `=` is returned with an empty name.
 */
export function parseScramAttributes(text: string): { name: string; value: string }[] {
  const out: { name: string; value: string }[] = [];
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) out.push({ name: '', value: part });
    else out.push({ name: part.slice(0, eq), value: part.slice(eq + 1) });
  }
  return out;
}

/** RFC 5802 saslname / RFC 5801 GS2 authzid: "=2C" is ",", "=3D" is "=". */
export function unescapeSaslName(s: string): string {
  return s.replace(/=2C|=3D/gi, (m) => (m.toUpperCase() === '=2C' ? ',' : '='));
}
