/**
 * SMTP command vocabulary and argument parsers (RFC 5321 §4.1, RFC 1869/5321 §4.1.2 ESMTP
 * parameters, RFC 3030 BDAT, RFC 4954 AUTH). Pure functions over latin1 strings; never throw.
 */

/** Verbs the analyzer understands, in wire case. */
export const SMTP_VERBS = [
  'HELO', 'EHLO', 'LHLO', 'MAIL', 'RCPT', 'DATA', 'BDAT', 'RSET', 'VRFY', 'EXPN', 'NOOP', 'HELP',
  'QUIT', 'STARTTLS', 'AUTH', 'XCLIENT', 'XFORWARD', 'ETRN', 'TURN', 'ATRN', 'SEND', 'SOML', 'SAML',
] as const;

export type SmtpVerb = (typeof SMTP_VERBS)[number];

const VERB_SET: ReadonlySet<string> = new Set(SMTP_VERBS);

/** True when `verb` (upper case) is a known SMTP verb. */
export function isSmtpVerb(verb: string): verb is SmtpVerb {
  return VERB_SET.has(verb);
}

/** A command line split into verb and argument. */
export interface SmtpCommandLine {
  /** Upper-cased verb (ASCII only; other bytes kept as latin1). */
  verb: string;
  /** Everything after the first space, as sent; '' when none. */
  argument: string;
}

/**
 * Splits a command line (latin1 string, no EOL). RFC 5321 §2.4: verbs are case-insensitive.
 * Leading spaces are tolerated; the verb ends at the first space or tab.
 */
export function splitCommand(line: string): SmtpCommandLine {
  let s = 0;
  while (s < line.length && (line.charCodeAt(s) === 0x20 || line.charCodeAt(s) === 0x09)) s++;
  let e = s;
  while (e < line.length && line.charCodeAt(e) !== 0x20 && line.charCodeAt(e) !== 0x09) e++;
  const verb = line.slice(s, e).toUpperCase();
  const argument = e < line.length ? line.slice(e + 1) : '';
  return { verb, argument };
}

/** ESMTP parameters in order, keyword upper-cased; value null for a bare keyword. */
export type EsmtpParams = { keyword: string; value: string | null }[];

/** Parses `KEY=VALUE KEY2 ...` (RFC 5321 §4.1.2 Mail-parameters / Rcpt-parameters). */
export function parseEsmtpParams(text: string): EsmtpParams {
  const out: EsmtpParams = [];
  for (const tok of text.split(/[ \t]+/)) {
    if (tok === '') continue;
    const eq = tok.indexOf('=');
    if (eq < 0) out.push({ keyword: tok.toUpperCase(), value: null });
    else out.push({ keyword: tok.slice(0, eq).toUpperCase(), value: tok.slice(eq + 1) });
  }
  return out;
}

/** Result of parsing a MAIL FROM / RCPT TO argument. */
export interface PathArgument {
  /**
   * The mailbox without angle brackets and source route. '' for the null reverse-path `<>`.
   * null when the argument does not carry the expected `FROM:` / `TO:` keyword.
   */
  address: string | null;
  /** Text after the path (ESMTP parameters), or null when there is none. */
  params: string | null;
  parsed: EsmtpParams;
  /** Deviations from RFC 5321 syntax that were tolerated. */
  issues: ('no_angle_brackets' | 'space_after_colon' | 'source_route' | 'unterminated_path' | 'missing_keyword')[];
}

function parsePath(arg: string, keyword: 'FROM' | 'TO'): PathArgument {
  const issues: PathArgument['issues'] = [];
  let s = 0;
  while (s < arg.length && arg.charCodeAt(s) === 0x20) s++;
  const kw = keyword + ':';
  if (arg.slice(s, s + kw.length).toUpperCase() !== kw) {
    // Some clients send "MAIL FROM <x>" or "RCPT <x>"; take the first <...> if any.
    issues.push('missing_keyword');
    const lt = arg.indexOf('<');
    if (lt < 0) return { address: null, params: null, parsed: [], issues };
    s = lt;
  } else {
    s += kw.length;
  }
  // RFC 5321 §4.1.1.2 has no space after the colon; many clients add one.
  if (arg.charCodeAt(s) === 0x20 || arg.charCodeAt(s) === 0x09) {
    issues.push('space_after_colon');
    while (s < arg.length && (arg.charCodeAt(s) === 0x20 || arg.charCodeAt(s) === 0x09)) s++;
  }
  let address: string;
  let rest: number;
  if (arg.charCodeAt(s) === 0x3c /* < */) {
    // Find the closing '>' outside a quoted local part.
    let i = s + 1;
    let quoted = false;
    for (; i < arg.length; i++) {
      const c = arg.charCodeAt(i);
      if (c === 0x5c /* \ */ && quoted) i++;
      else if (c === 0x22 /* " */) quoted = !quoted;
      else if (c === 0x3e /* > */ && !quoted) break;
    }
    if (i >= arg.length) {
      issues.push('unterminated_path');
      address = arg.slice(s + 1).trim();
      rest = arg.length;
    } else {
      address = arg.slice(s + 1, i);
      rest = i + 1;
    }
  } else {
    issues.push('no_angle_brackets');
    let e = s;
    while (e < arg.length && arg.charCodeAt(e) !== 0x20 && arg.charCodeAt(e) !== 0x09) e++;
    address = arg.slice(s, e);
    rest = e;
  }
  // RFC 5321 §4.1.2 / Appendix C: an obsolete source route "@a,@b:user@c" is ignored.
  if (address.startsWith('@')) {
    const colon = address.indexOf(':');
    if (colon > 0) {
      issues.push('source_route');
      address = address.slice(colon + 1);
    }
  }
  const paramText = arg.slice(rest).trim();
  return {
    address,
    params: paramText === '' ? null : paramText,
    parsed: paramText === '' ? [] : parseEsmtpParams(paramText),
    issues,
  };
}

/** Parses the argument of MAIL (`FROM:<path> [params]`), RFC 5321 §4.1.1.2. */
export function parseMailFrom(argument: string): PathArgument {
  return parsePath(argument, 'FROM');
}

/** Parses the argument of RCPT (`TO:<path> [params]`), RFC 5321 §4.1.1.3. */
export function parseRcptTo(argument: string): PathArgument {
  return parsePath(argument, 'TO');
}

/** BDAT arguments, RFC 3030 §2: `BDAT <chunk-size> [LAST]`. */
export interface BdatArgument {
  /**
   * null when the argument is not `chunk-size [SP "LAST"]`: the size is not a decimal number, or
   * something else follows it ("BDAT 5 X"). A server refuses such a command (501) and reads no chunk.
   */
  size: number | null;
  last: boolean;
}

export function parseBdat(argument: string): BdatArgument {
  const toks = argument.trim().split(/[ \t]+/);
  const sizeTok = toks[0] ?? '';
  const last = toks.length === 2 && toks[1].toUpperCase() === 'LAST';
  // RFC 3030 §2: bdat-cmd = "BDAT" SP chunk-size [ SP end-marker ] CRLF; end-marker = "LAST".
  const wellFormed = /^[0-9]{1,15}$/.test(sizeTok) && (toks.length === 1 || last);
  return { size: wellFormed ? Number(sizeTok) : null, last: wellFormed && last };
}

/** AUTH arguments, RFC 4954 §4: `AUTH mechanism [initial-response]` ("=" = empty response). */
export interface AuthArgument {
  mechanism: string;
  initialResponse: string | null;
}

export function parseAuth(argument: string): AuthArgument {
  const toks = argument.trim().split(/[ \t]+/);
  const mechanism = (toks[0] ?? '').toUpperCase();
  const initialResponse = toks.length > 1 && toks[1] !== '' ? toks[1] : null;
  return { mechanism, initialResponse };
}

/** A parsed reply line: RFC 5321 §4.2 `Reply-code [ SP / "-" text ]`. */
export interface ReplyLine {
  code: number;
  /** True for `NNN-text` (more lines follow). */
  continued: boolean;
  text: string;
}

/** Parses one reply line (latin1, no EOL); null when it is not `NNN`, `NNN text` or `NNN-text`. */
export function parseReplyLine(line: string): ReplyLine | null {
  if (line.length < 3) return null;
  const a = line.charCodeAt(0) - 0x30;
  const b = line.charCodeAt(1) - 0x30;
  const c = line.charCodeAt(2) - 0x30;
  if (a < 2 || a > 5 || b < 0 || b > 9 || c < 0 || c > 9) return null;
  const code = a * 100 + b * 10 + c;
  if (line.length === 3) return { code, continued: false, text: '' };
  const sep = line.charCodeAt(3);
  if (sep === 0x2d /* - */) return { code, continued: true, text: line.slice(4) };
  if (sep === 0x20 || sep === 0x09) return { code, continued: false, text: line.slice(4) };
  return null;
}

/** Queue id and server-side message id extracted from a final reply's text. */
export interface QueueInfo {
  queue_id: string | null;
  /** MS Exchange puts the message's Message-ID in the reply. */
  server_message_id: string | null;
}

/**
 * Extracts the queue id from the reply to the end of data. Known forms:
 * Postfix `2.0.0 Ok: queued as 1239B168212`; Exim `OK id=1abcDE-000123-AB`;
 * Sendmail `2.0.0 x1234 Message accepted for delivery`;
 * MS Exchange `2.6.0 <msgid> [InternalId=123, Hostname=X] Queued mail for delivery`;
 * Gmail `2.0.0 OK  1700000000 x1si123 - gsmtp`. Others give null (the text is recorded anyway).
 */
export function parseQueueId(text: string): QueueInfo {
  let m = /queued as\s+<?([0-9A-Za-z._-]+)>?/i.exec(text);
  if (m) return { queue_id: m[1], server_message_id: null };
  m = /\bid=([0-9A-Za-z-]+)/.exec(text);
  if (m && !/InternalId=/i.test(text)) return { queue_id: m[1], server_message_id: null };
  m = /^(?:[245]\.\d{1,3}\.\d{1,3}\s+)?(\S+)\s+Message accepted for delivery/i.exec(text);
  if (m) return { queue_id: m[1], server_message_id: null };
  m = /(<[^>\s]*>)?\s*\[InternalId=([0-9]+)/i.exec(text);
  if (m) return { queue_id: m[2], server_message_id: m[1] ?? null };
  m = /\bOK\s+\d+\s+(\S+)\s+-\s+gsmtp/i.exec(text);
  if (m) return { queue_id: m[1], server_message_id: null };
  return { queue_id: null, server_message_id: null };
}
