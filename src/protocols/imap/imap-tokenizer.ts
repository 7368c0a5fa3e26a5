/**
 * IMAP token tree (RFC 3501 §9 / RFC 9051 §9 formal syntax, read leniently): atoms, quoted
 * strings, literals (`{n}`, `{n+}` RFC 7888, `~{n}` RFC 3516), parenthesised lists, and fetch
 * attributes with a section and a partial (`BODY[HEADER.FIELDS (FROM)]<0.100>`).
 *
 * Input is one logical line as the framer delivers it: the line segments (latin1 text without
 * CRLF) and the literals that follow every segment but the last. Synchronous and bounded: lists
 * deeper than {@link IMAP_MAX_DEPTH} are flattened, more than {@link IMAP_MAX_TOKENS} tokens are
 * dropped; irregularities are reported in `errors`, never thrown.
 */

/** Deepest list nesting kept (RFC 3501 puts no bound; BODYSTRUCTURE needs ~10). Deeper lists are flattened. */
export const IMAP_MAX_DEPTH = 32;
/** Tokens kept per logical line. The rest are dropped (`errors` says so). */
export const IMAP_MAX_TOKENS = 100_000;

/** A literal as delivered by the framer: its announced size and, when kept, its bytes. */
export interface LiteralValue {
  readonly size: number;
  /** RFC 7888 `{n+}` (LITERAL+ / LITERAL-): the client does not wait for "+". */
  readonly nonSync: boolean;
  /** RFC 3516 `~{n}` (BINARY): may contain NUL. */
  readonly binary: boolean;
  /** The bytes when kept (small literals), null when streamed elsewhere (message literals). */
  readonly bytes: Uint8Array | null;
  /** Bytes lost in a gap inside the literal. */
  readonly missing: number;
}

export type ImapToken =
  | {
      readonly kind: 'atom';
      /** As sent (case kept). NIL and numbers are atoms too. */
      readonly value: string;
      /** Text inside `[...]` right after the atom (fetch section, resp-text-code), without brackets. */
      readonly section?: string;
      /** Text inside `<...>` after the section (partial `origin[.length]`). */
      readonly partial?: string;
    }
  | { readonly kind: 'quoted'; readonly value: string }
  | { readonly kind: 'literal'; readonly literal: LiteralValue; readonly index: number }
  | { readonly kind: 'list'; readonly items: ImapToken[] };

export interface TokenizeResult {
  readonly tokens: ImapToken[];
  /** Syntax irregularities (unterminated quote, unbalanced parenthesis, depth limit ...). */
  readonly errors: string[];
}

const SP = 0x20;
const LPAREN = 0x28;
const RPAREN = 0x29;
const DQUOTE = 0x22;
const BSLASH = 0x5c;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const LT = 0x3c;
const GT = 0x3e;
const TILDE = 0x7e;
const PLUS = 0x2b;

/** Announced literal at the end of a line segment (RFC 3501 `literal`, RFC 7888, RFC 3516). */
export interface LiteralMarker {
  readonly size: number;
  readonly nonSync: boolean;
  readonly binary: boolean;
  /** Offset of the marker (`{` or `~`) in the segment. */
  readonly start: number;
  /** The size had too many digits to be a real literal (not framed as one). */
  readonly invalid: boolean;
}

/** Longest literal size accepted as a number (digits). RFC 3501 `number` is 32-bit; 15 digits stay exact. */
const MAX_SIZE_DIGITS = 15;

/**
 * The literal announced at the end of a segment (`... {123}`, `{123+}`, `~{123}`), or null.
 * Works on bytes so the framer can call it on every line without building a string.
 */
export function literalMarker(seg: Uint8Array, off = 0, end = seg.length): LiteralMarker | null {
  let i = end - 1;
  if (i < off || seg[i] !== RBRACE) return null;
  i--;
  let nonSync = false;
  if (i >= off && seg[i] === PLUS) {
    nonSync = true;
    i--;
  }
  const digitsEnd = i + 1;
  while (i >= off && seg[i]! >= 0x30 && seg[i]! <= 0x39) i--;
  const digits = digitsEnd - (i + 1);
  if (digits === 0 || i < off || seg[i] !== LBRACE) return null;
  let start = i;
  const binary = i - 1 >= off && seg[i - 1] === TILDE;
  if (binary) start--;
  if (digits > MAX_SIZE_DIGITS) return { size: 0, nonSync, binary, start, invalid: true };
  let size = 0;
  for (let k = i + 1; k < digitsEnd; k++) size = size * 10 + (seg[k]! - 0x30);
  return { size, nonSync, binary, start, invalid: false };
}

/** Same as {@link literalMarker} on a latin1 string. */
function markerInString(s: string): { start: number } | null {
  const m = /~?\{[0-9]+\+?\}$/.exec(s);
  return m === null ? null : { start: m.index };
}

function isAtomEnd(c: number): boolean {
  return c === SP || c === LPAREN || c === RPAREN || c === DQUOTE || c === RBRACKET || c < 0x20 || c === 0x7f;
}

/**
 * Tokenizes one logical line. `segments[i]` is followed by `literals[i]` (so there is one more
 * segment than literals; missing literals are tolerated). Starts at `segments[0][start]`.
 */
export function tokenize(segments: readonly string[], literals: readonly LiteralValue[], start = 0): TokenizeResult {
  const errors: string[] = [];
  const root: ImapToken[] = [];
  const stack: ImapToken[][] = [root];
  /** Lists opened past the depth limit (their parens are matched but not nested). */
  let flattened = 0;
  let count = 0;
  let dropped = false;
  const push = (t: ImapToken): void => {
    if (count >= IMAP_MAX_TOKENS) {
      dropped = true;
      return;
    }
    count++;
    stack[stack.length - 1]!.push(t);
  };

  for (let si = 0; si < segments.length; si++) {
    const s = segments[si]!;
    const hasLiteral = si < literals.length;
    const marker = hasLiteral ? markerInString(s) : null;
    const end = marker !== null ? marker.start : s.length;
    let i = si === 0 ? start : 0;
    while (i < end) {
      const c = s.charCodeAt(i);
      if (c === SP) {
        i++;
        continue;
      }
      if (c === LPAREN) {
        i++;
        if (stack.length > IMAP_MAX_DEPTH) {
          if (flattened === 0) errors.push(`lists nested deeper than ${IMAP_MAX_DEPTH}`);
          flattened++;
          continue;
        }
        const items: ImapToken[] = [];
        push({ kind: 'list', items });
        stack.push(items);
        continue;
      }
      if (c === RPAREN) {
        i++;
        if (flattened > 0) flattened--;
        else if (stack.length > 1) stack.pop();
        else errors.push('unbalanced ")"');
        continue;
      }
      if (c === DQUOTE) {
        // RFC 3501 quoted: DQUOTE *QUOTED-CHAR DQUOTE, with \" and \\ escapes.
        let v = '';
        let j = i + 1;
        let closed = false;
        let runStart = j;
        while (j < end) {
          const d = s.charCodeAt(j);
          if (d === DQUOTE) {
            closed = true;
            break;
          }
          if (d === BSLASH && j + 1 < end) {
            v += s.slice(runStart, j);
            j++;
            runStart = j;
          }
          j++;
        }
        v += s.slice(runStart, j);
        if (!closed) errors.push('unterminated quoted string');
        push({ kind: 'quoted', value: v });
        i = closed ? j + 1 : j;
        continue;
      }
      // Atom (lenient: any run up to an atom end), with an optional [section] and <partial>.
      let j = i;
      while (j < end) {
        const d = s.charCodeAt(j);
        if (isAtomEnd(d) || d === LBRACKET) break;
        j++;
      }
      const value = s.slice(i, j);
      let section: string | undefined;
      let partial: string | undefined;
      if (j < end && s.charCodeAt(j) === LBRACKET) {
        // Section: up to the matching "]" (may hold a parenthesised header list and quoted strings).
        let k = j + 1;
        let inQuote = false;
        let depth = 0;
        while (k < end) {
          const d = s.charCodeAt(k);
          if (inQuote) {
            if (d === BSLASH) k++;
            else if (d === DQUOTE) inQuote = false;
          } else if (d === DQUOTE) inQuote = true;
          else if (d === LPAREN) depth++;
          else if (d === RPAREN) depth--;
          else if (d === RBRACKET && depth <= 0) break;
          k++;
        }
        section = s.slice(j + 1, Math.min(k, end));
        if (k >= end) errors.push('unterminated "["');
        j = Math.min(k + 1, end);
        if (j < end && s.charCodeAt(j) === LT) {
          const g = s.indexOf('>', j);
          if (g >= 0 && g < end) {
            partial = s.slice(j + 1, g);
            j = g + 1;
          }
        }
        // Anything glued after the section is part of the atom in lenient reading.
        while (j < end && !isAtomEnd(s.charCodeAt(j))) j++;
      }
      if (j === i) {
        // A lone "]" or control byte: skip it.
        errors.push(`unexpected character 0x${c.toString(16)}`);
        i++;
        continue;
      }
      const tok: { kind: 'atom'; value: string; section?: string; partial?: string } = { kind: 'atom', value };
      if (section !== undefined) tok.section = section;
      if (partial !== undefined) tok.partial = partial;
      push(tok);
      i = j;
    }
    if (hasLiteral) push({ kind: 'literal', literal: literals[si]!, index: si });
  }
  if (stack.length > 1) errors.push('unbalanced "("');
  if (dropped) errors.push(`more than ${IMAP_MAX_TOKENS} tokens; the rest dropped`);
  return { tokens: root, errors };
}

/** Latin1 text of a string-like token (atom, quoted, kept literal); null for lists, NIL and unkept literals. */
export function tokenString(t: ImapToken | undefined): string | null {
  if (t === undefined) return null;
  switch (t.kind) {
    case 'atom':
      return t.section === undefined ? t.value : `${t.value}[${t.section}]${t.partial !== undefined ? `<${t.partial}>` : ''}`;
    case 'quoted':
      return t.value;
    case 'literal': {
      const b = t.literal.bytes;
      return b === null ? null : Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
    }
    case 'list':
      return null;
  }
}

/** `astring`/`nstring` value: like tokenString but NIL (atom) gives null. */
export function nstring(t: ImapToken | undefined): string | null {
  if (t !== undefined && t.kind === 'atom' && t.section === undefined && t.value.toUpperCase() === 'NIL') return null;
  return tokenString(t);
}

/** Renders tokens back to IMAP text (literals as `{n}` markers), for facts and details. */
export function renderTokens(tokens: readonly ImapToken[]): string {
  const out: string[] = [];
  for (const t of tokens) {
    switch (t.kind) {
      case 'atom':
        out.push(tokenString(t)!);
        break;
      case 'quoted':
        out.push(`"${t.value.replace(/["\\]/g, '\\$&')}"`);
        break;
      case 'literal':
        out.push(`${t.literal.binary ? '~' : ''}{${t.literal.size}${t.literal.nonSync ? '+' : ''}}`);
        break;
      case 'list':
        out.push(`(${renderTokens(t.items)})`);
        break;
    }
  }
  return out.join(' ');
}
