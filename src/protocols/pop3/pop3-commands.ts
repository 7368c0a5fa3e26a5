/**
 * POP3 line grammar (RFC 1939, RFC 2449 CAPA, RFC 5034 AUTH, RFC 2595 STLS): command lines,
 * status lines and the fields carried by them. Pure functions over latin1-decoded lines.
 */

/** Commands of RFC 1939 (§5-§7), RFC 2449 (CAPA), RFC 2595 (STLS), RFC 5034 (AUTH), RFC 6856 (UTF8) and LANG. */
const VERBS: ReadonlySet<string> = new Set([
  'USER',
  'PASS',
  'APOP',
  'AUTH',
  'CAPA',
  'STLS',
  'STAT',
  'LIST',
  'UIDL',
  'RETR',
  'TOP',
  'DELE',
  'NOOP',
  'RSET',
  'QUIT',
  'UTF8',
  'LANG',
]);

/** True for a command verb (upper case) the analyzer knows. */
export function isPop3Verb(verb: string): boolean {
  return VERBS.has(verb);
}

/**
 * Splits a command line: RFC 1939 §3 "keywords ... separated by a single SPACE"; the keyword is
 * case-insensitive and returned upper-cased; the argument is the rest of the line as sent.
 */
export function splitCommand(line: string): { verb: string; argument: string } {
  const sp = line.indexOf(' ');
  if (sp < 0) return { verb: line.toUpperCase(), argument: '' };
  return { verb: line.slice(0, sp).toUpperCase(), argument: line.slice(sp + 1) };
}

/** What a server line is, seen as a status line. */
export type StatusKind = 'ok' | 'err' | 'continue' | 'none';

/**
 * Classifies a server line: RFC 1939 §3 "+OK" / "-ERR" (case-insensitive in practice),
 * RFC 5034 §4 "+" followed by a space (or nothing) = SASL continuation.
 */
export function statusOf(line: string): StatusKind {
  const c = line.charCodeAt(0);
  if (c === 0x2b /* + */) {
    if (line.length >= 3 && (line.charCodeAt(1) | 0x20) === 0x6f && (line.charCodeAt(2) | 0x20) === 0x6b) {
      const d = line.charCodeAt(3);
      if (Number.isNaN(d) || d === 0x20 || d === 0x09) return 'ok';
    }
    if (line.length === 1 || line.charCodeAt(1) === 0x20) return 'continue';
    return 'none';
  }
  if (c === 0x2d /* - */ && line.length >= 4 && line.slice(1, 4).toUpperCase() === 'ERR') {
    const d = line.charCodeAt(4);
    if (Number.isNaN(d) || d === 0x20 || d === 0x09) return 'err';
  }
  return 'none';
}

/** The text after "+OK " / "-ERR " (empty when none). */
export function statusText(line: string): string {
  const sp = line.indexOf(' ');
  return sp < 0 ? '' : line.slice(sp + 1);
}

/** The base64 payload of a "+ xxx" continuation line (RFC 5034 §4). */
export function continuationText(line: string): string {
  return line.length <= 2 ? '' : line.slice(2).trim();
}

/**
 * The APOP timestamp of a greeting (RFC 1939 §7: "a string of the form <...@...>", the syntax of
 * an RFC 822 msg-id). Returns it with its angle brackets, exactly as sent, or null.
 */
export function apopTimestamp(greeting: string): string | null {
  const m = /<[^<>\s]*@[^<>\s]*>/.exec(greeting);
  return m === null ? null : m[0];
}

function parseUint(tok: string | undefined): number | null {
  if (tok === undefined || !/^[0-9]{1,15}$/.test(tok)) return null;
  return Number(tok);
}

/** A message number argument (RFC 1939 §5 `RETR msg`): decimal, 1-based. null when malformed. */
export function parseMsgNumber(argument: string): number | null {
  const n = parseUint(argument.trim().split(/[ \t]+/)[0]);
  return n === null || n < 1 ? null : n;
}

/** `TOP msg n` (RFC 1939 §7). Fields null when malformed. */
export function parseTopArgs(argument: string): { msg: number | null; lines: number | null } {
  const t = argument.trim().split(/[ \t]+/);
  const msg = parseUint(t[0]);
  return { msg: msg === null || msg < 1 ? null : msg, lines: parseUint(t[1]) };
}

/** `APOP name digest` (RFC 1939 §7): the name may not contain spaces; digest is the last token. */
export function parseApop(argument: string): { user: string; digest: string } {
  const t = argument.trim();
  const sp = t.lastIndexOf(' ');
  if (sp < 0) return { user: t, digest: '' };
  return { user: t.slice(0, sp).trim(), digest: t.slice(sp + 1) };
}

/** `AUTH mechanism [initial-response]` (RFC 5034 §4). mechanism "" = the mechanism-list form. */
export function parseAuth(argument: string): { mechanism: string; initial: string | null } {
  const t = argument.trim().split(/[ \t]+/);
  const mechanism = (t[0] ?? '').toUpperCase();
  return { mechanism, initial: t.length > 1 ? t[1] : null };
}

/** `+OK nn mm` of STAT (RFC 1939 §5: "the number of messages ... the size ... in octets"). */
export function parseStat(text: string): { count: number; size: number } | null {
  const t = text.trim().split(/[ \t]+/);
  const count = parseUint(t[0]);
  const size = parseUint(t[1]);
  return count === null || size === null ? null : { count, size };
}

/** A scan listing `msg size` (RFC 1939 §5 LIST) or `msg uid` (§7 UIDL); rest = the second token. */
export function parseListingLine(line: string): { msg: number; rest: string } | null {
  const t = line.trim().split(/[ \t]+/);
  const msg = parseUint(t[0]);
  if (msg === null || t.length < 2) return null;
  return { msg, rest: t[1] };
}

/** `+OK 120 octets` announced by RETR/TOP (RFC 1939 §5 example): the octet count, or null. */
export function parseOctets(text: string): number | null {
  const m = /^\s*([0-9]{1,15})\s+octets?\b/i.exec(text);
  return m === null ? null : Number(m[1]);
}

/**
 * Whether the reply to a command is multi-line (RFC 1939 §3: only "+OK" replies of commands
 * that define one; "-ERR" is always a single line):
 * LIST and UIDL without an argument (§5, §7), RETR (§5), TOP (§7), CAPA (RFC 2449 §5), and AUTH
 * without a mechanism (the mechanism list of the RFC 1734-era servers, still sent by Dovecot and Exchange).
 */
export function isMultiLine(verb: string, argument: string): boolean {
  switch (verb) {
    case 'RETR':
    case 'TOP':
    case 'CAPA':
      return true;
    case 'LIST':
    case 'UIDL':
    case 'AUTH':
      return argument.trim() === '';
    default:
      return false;
  }
}
