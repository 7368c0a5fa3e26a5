/**
 * A tolerant Sieve (RFC 5228) lexer and parser that extracts what a mail filter script *does*:
 * its `require` list and every action (redirect, fileinto, discard, vacation, reject, ...) with the
 * line it is on and the condition that guards it.
 *
 * Built for hostile and broken input: it never throws, never recurses deeper than
 * {@link SIEVE_MAX_DEPTH}, stops at {@link SIEVE_MAX_SCRIPT_CHARS} characters and
 * {@link SIEVE_MAX_ACTIONS} actions, and skips what it cannot parse to the next `;` or `}`
 * (recording an issue) instead of giving up on the rest of the script.
 */

// #region limits
// These bound one parse. Scripts reach here already capped by the analyzer (maxInMemoryMessageBytes).

/** Characters of script text parsed. The rest is ignored (`truncated`). */
export const SIEVE_MAX_SCRIPT_CHARS = 1024 * 1024;
/** Actions extracted per script. Past it: counted in `actions_dropped`. */
export const SIEVE_MAX_ACTIONS = 1000;
/** Nesting depth of blocks and test lists followed. Deeper content is skipped (issue recorded). */
export const SIEVE_MAX_DEPTH = 32;
/** Longest string value kept in an action field (characters); longer values are cut and end with "…". */
export const SIEVE_MAX_VALUE_CHARS = 4096;
/** Longest condition summary (characters). */
export const SIEVE_MAX_CONDITION_CHARS = 512;
/** Parse issues kept per script. */
export const SIEVE_MAX_ISSUES = 50;
/** Items kept per string list in an action field. */
export const SIEVE_MAX_LIST_ITEMS = 256;
// #endregion

/** One action of a Sieve script, normalised. Fields that do not apply to the action are absent. */
export interface SieveAction {
  /** Command name in lower case: redirect, fileinto, keep, discard, stop, reject, ereject, vacation, notify, addheader, deleteheader, setflag, addflag, removeflag, include, return. */
  action: string;
  /** 1-based line of the command's name in the script. */
  line: number;
  /**
   * The condition guarding the action as short Sieve text (nested conditions joined by " and ",
   * elsif/else branches as `not (...)`), or null at top level (always runs).
   */
  condition: string | null;
  /** redirect: the target address(es). */
  targets?: string[];
  /** redirect / fileinto: `:copy` (RFC 3894): the message is also kept. */
  copy?: boolean;
  /** fileinto: target folder. include: script name. */
  folder?: string;
  /** fileinto: `:create` (RFC 5490). */
  create?: boolean;
  /** reject / ereject / vacation: the reason text. notify: the message. */
  reason?: string;
  /** vacation (RFC 5230): `:days` / `:seconds` (RFC 6131). */
  days?: number;
  seconds?: number;
  /** vacation: `:subject`. */
  subject?: string;
  /** vacation / notify: `:from`. */
  from?: string;
  /** vacation: `:addresses`. */
  addresses?: string[];
  /** vacation: `:handle`. */
  handle?: string;
  /** notify (RFC 5435): method URI (e.g. "mailto:x@y"); `:importance`; `:options`. */
  method?: string;
  importance?: string;
  options?: string[];
  /** addheader / deleteheader (RFC 5293): field name, value(s). */
  header?: string;
  value?: string;
  values?: string[];
  /** addheader `:last`; deleteheader `:index`. */
  last?: boolean;
  index?: number;
  /** setflag/addflag/removeflag (RFC 5232) flags; fileinto/keep `:flags`. */
  flags?: string[];
  /** setflag/addflag/removeflag: the variable name when one is given. */
  variable?: string;
  /** include (RFC 6609): `:personal` / `:global`. */
  location?: string;
  /** Tags seen on the command that are not mapped to a field above (e.g. ":mime", ":optional"). */
  other_tags?: string[];
}

/** What a script does, as far as it parses. */
export interface SieveScriptSummary {
  /** Capabilities from every `require` command, in order, without duplicates. */
  requires: string[];
  actions: SieveAction[];
  /** Actions past SIEVE_MAX_ACTIONS (not listed). */
  actions_dropped: number;
  /** Parse problems ("line 3: expected ';'"); the parser skipped past each one. */
  issues: string[];
  /** The script was longer than SIEVE_MAX_SCRIPT_CHARS and only its start was parsed. */
  truncated: boolean;
}

// #region lexer (RFC 5228 §8.1)

type TokKind = 'id' | 'tag' | 'num' | 'str' | 'punct' | 'eof';

interface Tok {
  kind: TokKind;
  /** id/tag: lower-cased name (tag without ':'); str: value; punct: the character; num: digits+quantifier. */
  text: string;
  /** num: the value (with K/M/G applied). */
  num: number;
  line: number;
  /** str: came from a multi-line `text:` string. */
  multiline: boolean;
}

function isIdStart(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f;
}
function isIdChar(c: number): boolean {
  return isIdStart(c) || (c >= 0x30 && c <= 0x39);
}
function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** Splits a script into tokens. Unknown characters become issues and are skipped. Never throws. */
function lex(src: string, issues: string[]): Tok[] {
  const toks: Tok[] = [];
  const n = src.length;
  let i = 0;
  let line = 1;
  const tok = (kind: TokKind, text: string, l: number, num = 0, multiline = false): void => {
    toks.push({ kind, text, num, line: l, multiline });
  };
  while (i < n) {
    const c = src.charCodeAt(i);
    if (c === 0x0a) {
      line++;
      i++;
      continue;
    }
    if (c === 0x20 || c === 0x09 || c === 0x0d) {
      i++;
      continue;
    }
    if (c === 0x23) {
      // hash-comment: "#" to end of line
      const e = src.indexOf('\n', i);
      i = e < 0 ? n : e;
      continue;
    }
    if (c === 0x2f && src.charCodeAt(i + 1) === 0x2a) {
      // bracket-comment: "/*" ... "*/" (does not nest)
      const e = src.indexOf('*/', i + 2);
      const end = e < 0 ? n : e + 2;
      if (e < 0) addIssue(issues, `line ${line}: unterminated /* comment`);
      line += countLf(src, i, end);
      i = end;
      continue;
    }
    if (c === 0x22) {
      // quoted-string (§2.4.2): \" and \\ escape; any other "\x" is just "x".
      const startLine = line;
      let out = '';
      let j = i + 1;
      let closed = false;
      let runStart = j;
      while (j < n) {
        const d = src.charCodeAt(j);
        if (d === 0x22) {
          out += src.slice(runStart, j);
          closed = true;
          j++;
          break;
        }
        if (d === 0x5c && j + 1 < n) {
          out += src.slice(runStart, j);
          if (src.charCodeAt(j + 1) === 0x0a) line++;
          out += src[j + 1];
          j += 2;
          runStart = j;
          continue;
        }
        if (d === 0x0a) line++;
        j++;
      }
      if (!closed) {
        out += src.slice(runStart, j);
        addIssue(issues, `line ${startLine}: unterminated string`);
      }
      tok('str', out, startLine);
      i = j;
      continue;
    }
    if (isIdStart(c)) {
      let j = i + 1;
      while (j < n && isIdChar(src.charCodeAt(j))) j++;
      const word = src.slice(i, j);
      // multi-line = "text:" *(SP / HTAB) (hash-comment / CRLF) *(multiline-literal / multiline-dotstart) "." CRLF
      if (word.toLowerCase() === 'text' && src.charCodeAt(j) === 0x3a) {
        const startLine = line;
        const r = readMultiline(src, j + 1);
        line += r.lines;
        tok('str', r.value, startLine, 0, true);
        if (!r.closed) addIssue(issues, `line ${startLine}: unterminated text: string`);
        i = r.end;
        continue;
      }
      tok('id', word.toLowerCase(), line);
      i = j;
      continue;
    }
    if (c === 0x3a && isIdStart(src.charCodeAt(i + 1))) {
      let j = i + 2;
      while (j < n && isIdChar(src.charCodeAt(j))) j++;
      tok('tag', src.slice(i + 1, j).toLowerCase(), line);
      i = j;
      continue;
    }
    if (isDigit(c)) {
      let j = i + 1;
      while (j < n && isDigit(src.charCodeAt(j))) j++;
      let v = Number(src.slice(i, j));
      const q = src[j];
      // number = 1*DIGIT [ QUANTIFIER ], QUANTIFIER = "K" / "M" / "G" (§2.4.1)
      if (q === 'K' || q === 'k' || q === 'M' || q === 'm' || q === 'G' || q === 'g') {
        const u = q.toUpperCase();
        v *= u === 'K' ? 1024 : u === 'M' ? 1024 * 1024 : 1024 * 1024 * 1024;
        j++;
      }
      tok('num', src.slice(i, j), line, v);
      i = j;
      continue;
    }
    if (c === 0x5b || c === 0x5d || c === 0x28 || c === 0x29 || c === 0x7b || c === 0x7d || c === 0x2c || c === 0x3b) {
      tok('punct', src[i], line);
      i++;
      continue;
    }
    addIssue(issues, `line ${line}: unexpected character ${JSON.stringify(src[i])}`);
    i++;
  }
  tok('eof', '', line);
  return toks;
}

function countLf(s: string, from: number, to: number): number {
  let k = 0;
  for (let p = s.indexOf('\n', from); p >= 0 && p < to; p = s.indexOf('\n', p + 1)) k++;
  return k;
}

/** Reads a `text:` string body starting after the colon. Lines "." end it; "..x" is ".x" (§2.4.2). */
function readMultiline(src: string, from: number): { value: string; end: number; lines: number; closed: boolean } {
  const n = src.length;
  let p = src.indexOf('\n', from);
  if (p < 0) return { value: '', end: n, lines: 0, closed: false };
  let lines = 1;
  let pos = p + 1;
  const parts: string[] = [];
  for (;;) {
    if (pos >= n) return { value: parts.join(''), end: n, lines, closed: false };
    p = src.indexOf('\n', pos);
    const lineEnd = p < 0 ? n : p;
    let content = src.slice(pos, lineEnd);
    if (content.endsWith('\r')) content = content.slice(0, -1);
    if (content === '.') return { value: parts.join(''), end: p < 0 ? n : p + 1, lines: lines + (p < 0 ? 0 : 1), closed: true };
    if (content.startsWith('..')) content = content.slice(1);
    parts.push(content, p < 0 ? '' : '\n');
    if (p < 0) return { value: parts.join(''), end: n, lines, closed: false };
    lines++;
    pos = p + 1;
  }
}

function addIssue(issues: string[], s: string): void {
  if (issues.length < SIEVE_MAX_ISSUES) issues.push(s);
}

// #endregion

// #region parser (RFC 5228 §8.2)

/** A parsed argument: tag, number, string or string list. */
type Arg =
  | { kind: 'tag'; name: string }
  | { kind: 'num'; value: number; text: string }
  | { kind: 'str'; value: string; multiline: boolean }
  | { kind: 'list'; values: string[] };

interface Test {
  name: string;
  args: Arg[];
  tests: Test[];
}

class Parser {
  #p = 0;
  readonly #t: Tok[];
  readonly issues: string[];
  readonly requires: string[] = [];
  readonly actions: SieveAction[] = [];
  dropped = 0;
  readonly #encoded: () => boolean;

  constructor(toks: Tok[], issues: string[]) {
    this.#t = toks;
    this.issues = issues;
    this.#encoded = () => this.requires.includes('encoded-character');
  }

  #peek(): Tok {
    return this.#t[this.#p];
  }
  #next(): Tok {
    const t = this.#t[this.#p];
    if (t.kind !== 'eof') this.#p++;
    return t;
  }
  #isPunct(ch: string): boolean {
    const t = this.#peek();
    return t.kind === 'punct' && t.text === ch;
  }

  /** commands = *command; stops at "}" (when inside a block) or EOF. */
  commands(depth: number, cond: string | null): void {
    for (;;) {
      const t = this.#peek();
      if (t.kind === 'eof') return;
      if (t.kind === 'punct' && t.text === '}') {
        if (depth > 0) return;
        addIssue(this.issues, `line ${t.line}: unmatched '}'`);
        this.#next();
        continue;
      }
      const before = this.#p;
      this.#command(depth, cond);
      if (this.#p === before) this.#next(); // always advance: no endless loop on junk
    }
  }

  /** Skips to just past the next ";" or to a "}" / "{" at this level. */
  #recover(): void {
    let nest = 0;
    for (;;) {
      const t = this.#peek();
      if (t.kind === 'eof') return;
      if (t.kind === 'punct') {
        if (t.text === ';' && nest === 0) {
          this.#next();
          return;
        }
        if (t.text === '{') nest++;
        if (t.text === '}') {
          if (nest === 0) return;
          nest--;
          if (nest === 0) {
            this.#next();
            return;
          }
        }
      }
      this.#next();
    }
  }

  #command(depth: number, cond: string | null): void {
    const head = this.#peek();
    if (head.kind !== 'id') {
      addIssue(this.issues, `line ${head.line}: expected a command, got ${describe(head)}`);
      this.#recover();
      return;
    }
    this.#next();
    const name = head.text;
    if (name === 'if') {
      this.#ifChain(head, depth, cond);
      return;
    }
    if (name === 'elsif' || name === 'else') {
      addIssue(this.issues, `line ${head.line}: ${name} without if`);
    }
    const args = this.#arguments(depth);
    const tests: Test[] = [];
    // Unknown commands may carry a test or test list (extensions): parse and ignore.
    if (this.#peek().kind === 'id') tests.push(this.#test(depth + 1));
    else if (this.#isPunct('(')) tests.push(...this.#testList(depth + 1));
    if (this.#isPunct(';')) {
      this.#next();
    } else if (this.#isPunct('{')) {
      // A command with a block (foreverypart, or an unknown extension): actions inside run under the same condition.
      this.#block(depth, cond, name === 'foreverypart' ? joinCond(cond, 'foreverypart') : cond);
    } else {
      addIssue(this.issues, `line ${this.#peek().line}: expected ';' after ${name}`);
      this.#recover();
    }
    if (name === 'require') {
      for (const a of args) {
        const vals = a.kind === 'str' ? [a.value] : a.kind === 'list' ? a.values : [];
        for (const v of vals) if (!this.requires.includes(v) && this.requires.length < SIEVE_MAX_LIST_ITEMS) this.requires.push(v);
      }
      return;
    }
    const action = toAction(name, args, head.line, cond);
    if (action === null) return;
    if (this.actions.length >= SIEVE_MAX_ACTIONS) {
      this.dropped++;
      return;
    }
    this.actions.push(action);
  }

  /** if test block *(elsif test block) [else block] (§3.1). */
  #ifChain(head: Tok, depth: number, cond: string | null): void {
    const prior: string[] = [];
    let kind = 'if';
    let line = head.line;
    for (;;) {
      let branch: string;
      if (kind === 'else') {
        branch = prior.map((p) => `not ${p}`).join(' and ');
      } else {
        const test = this.#peek().kind === 'id' ? this.#test(depth + 1) : null;
        if (test === null) addIssue(this.issues, `line ${line}: ${kind} without a test`);
        const text = test === null ? '?' : summarizeTest(test);
        branch = prior.length === 0 ? text : `${prior.map((p) => `not ${p}`).join(' and ')} and ${text}`;
        prior.push(needsParens(text) ? `(${text})` : text);
      }
      if (this.#isPunct('{')) {
        this.#block(depth, cond, joinCond(cond, clip(branch, SIEVE_MAX_CONDITION_CHARS)));
      } else {
        addIssue(this.issues, `line ${this.#peek().line}: expected '{' after ${kind}`);
        this.#recover();
        return;
      }
      const t = this.#peek();
      if (kind !== 'else' && t.kind === 'id' && (t.text === 'elsif' || t.text === 'else')) {
        kind = t.text;
        line = t.line;
        this.#next();
        continue;
      }
      return;
    }
  }

  /** "{" commands "}"; past SIEVE_MAX_DEPTH the block is skipped. */
  #block(depth: number, _outer: string | null, inner: string | null): void {
    const open = this.#next(); // "{"
    if (depth + 1 > SIEVE_MAX_DEPTH) {
      addIssue(this.issues, `line ${open.line}: nesting deeper than ${SIEVE_MAX_DEPTH}; block skipped`);
      this.#skipBlockRest();
      return;
    }
    this.commands(depth + 1, inner);
    if (this.#isPunct('}')) this.#next();
    else addIssue(this.issues, `line ${open.line}: unterminated block`);
  }

  /** Skips tokens up to and including the "}" closing an already-opened block (iteratively). */
  #skipBlockRest(): void {
    let nest = 1;
    for (;;) {
      const t = this.#next();
      if (t.kind === 'eof') return;
      if (t.kind === 'punct') {
        if (t.text === '{') nest++;
        else if (t.text === '}' && --nest === 0) return;
      }
    }
  }

  /** *argument: tags, numbers, strings, string lists. */
  #arguments(_depth: number): Arg[] {
    const out: Arg[] = [];
    for (;;) {
      const t = this.#peek();
      if (t.kind === 'tag') {
        this.#next();
        out.push({ kind: 'tag', name: t.text });
      } else if (t.kind === 'num') {
        this.#next();
        out.push({ kind: 'num', value: t.num, text: t.text });
      } else if (t.kind === 'str') {
        this.#next();
        out.push({ kind: 'str', value: this.#decode(t.text), multiline: t.multiline });
      } else if (t.kind === 'punct' && t.text === '[') {
        out.push({ kind: 'list', values: this.#stringList() });
      } else {
        return out;
      }
    }
  }

  /** "[" string *("," string) "]" */
  #stringList(): string[] {
    const open = this.#next();
    const values: string[] = [];
    for (;;) {
      const t = this.#peek();
      if (t.kind === 'str') {
        this.#next();
        if (values.length < SIEVE_MAX_LIST_ITEMS) values.push(this.#decode(t.text));
      } else if (t.kind === 'punct' && t.text === ',') {
        this.#next();
      } else if (t.kind === 'punct' && t.text === ']') {
        this.#next();
        return values;
      } else {
        addIssue(this.issues, `line ${open.line}: unterminated string list`);
        return values;
      }
    }
  }

  /** test = identifier arguments [test / test-list] */
  #test(depth: number): Test {
    const name = this.#next().text;
    if (depth > SIEVE_MAX_DEPTH) {
      addIssue(this.issues, `nesting deeper than ${SIEVE_MAX_DEPTH} in test ${name}`);
      return { name, args: [], tests: [] };
    }
    const args = this.#arguments(depth);
    const tests: Test[] = [];
    if (this.#peek().kind === 'id') tests.push(this.#test(depth + 1));
    else if (this.#isPunct('(')) tests.push(...this.#testList(depth + 1));
    return { name, args, tests };
  }

  /** "(" test *("," test) ")" */
  #testList(depth: number): Test[] {
    const open = this.#next();
    const out: Test[] = [];
    for (;;) {
      const t = this.#peek();
      if (t.kind === 'id') {
        const before = this.#p;
        out.push(this.#test(depth));
        if (this.#p === before) this.#next();
      } else if (t.kind === 'punct' && t.text === ',') {
        this.#next();
      } else if (t.kind === 'punct' && t.text === ')') {
        this.#next();
        return out;
      } else {
        addIssue(this.issues, `line ${open.line}: unterminated test list`);
        return out;
      }
    }
  }

  /** RFC 5228 §2.4.2.4 encoded-character: ${hex:40} / ${unicode:1F600}, only when required. */
  #decode(s: string): string {
    if (!this.#encoded() || s.indexOf('${') < 0) return s;
    return s.replace(/\$\{(hex|unicode):([\s0-9a-fA-F]*)\}/gi, (whole, kind: string, body: string) => {
      const items = body.trim().split(/\s+/).filter((x) => x.length > 0);
      if (items.length === 0) return whole;
      if (kind.toLowerCase() === 'hex') {
        if (items.some((h) => h.length > 2)) return whole;
        return Buffer.from(items.map((h) => parseInt(h, 16))).toString('utf8');
      }
      let out = '';
      for (const u of items) {
        const cp = parseInt(u, 16);
        if (!(cp >= 0 && cp <= 0x10ffff) || (cp >= 0xd800 && cp <= 0xdfff)) return whole;
        out += String.fromCodePoint(cp);
      }
      return out;
    });
  }
}

function describe(t: Tok): string {
  switch (t.kind) {
    case 'eof':
      return 'end of script';
    case 'str':
      return 'a string';
    case 'num':
      return `number ${t.text}`;
    case 'tag':
      return `:${t.text}`;
    default:
      return `'${t.text}'`;
  }
}

function joinCond(outer: string | null, inner: string): string {
  return outer === null ? inner : clip(`${outer} and ${inner}`, SIEVE_MAX_CONDITION_CHARS);
}

function needsParens(s: string): boolean {
  return s.includes(' ');
}

function clip(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

function quote(s: string): string {
  const short = s.length > 80 ? `${s.slice(0, 79)}…` : s;
  return `"${short.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\r?\n/g, '\\n')}"`;
}

/** Renders a test back as compact Sieve text: `header :contains "subject" "invoice"`. */
export function summarizeTest(t: Test): string {
  const parts: string[] = [t.name];
  for (const a of t.args) {
    if (a.kind === 'tag') parts.push(`:${a.name}`);
    else if (a.kind === 'num') parts.push(a.text);
    else if (a.kind === 'str') parts.push(quote(a.value));
    else parts.push(`[${a.values.slice(0, 8).map(quote).join(', ')}${a.values.length > 8 ? ', …' : ''}]`);
  }
  let s = parts.join(' ');
  if (t.tests.length > 0) {
    if (t.name === 'not' && t.tests.length === 1) s += ` ${summarizeTest(t.tests[0])}`;
    else s += `(${t.tests.map(summarizeTest).join(', ')})`;
  }
  return clip(s, SIEVE_MAX_CONDITION_CHARS);
}

// #endregion

// #region actions

const ACTIONS = new Set([
  'redirect',
  'fileinto',
  'keep',
  'discard',
  'stop',
  'reject',
  'ereject',
  'vacation',
  'notify',
  'addheader',
  'deleteheader',
  'setflag',
  'addflag',
  'removeflag',
  'include',
  'return',
]);

/** Tags that take one value argument, per action (the value follows the tag). */
const VALUE_TAGS: Record<string, readonly string[]> = {
  vacation: ['days', 'seconds', 'subject', 'from', 'addresses', 'handle', 'fcc', 'specialuse'],
  notify: ['from', 'importance', 'options', 'message', 'method', 'id', 'priority'],
  fileinto: ['flags', 'specialuse'],
  keep: ['flags'],
  deleteheader: ['index', 'comparator', 'is', 'contains', 'matches'],
  redirect: ['notify', 'ret', 'bytimerelative', 'bytimeabsolute', 'bymode', 'list'],
};

function cut(s: string): string {
  return clip(s, SIEVE_MAX_VALUE_CHARS);
}

/** Maps one command to an action record, or null when it is not an action (set, require, unknown...). */
function toAction(name: string, args: Arg[], line: number, condition: string | null): SieveAction | null {
  if (!ACTIONS.has(name)) return null;
  const valueTags = VALUE_TAGS[name] ?? [];
  const tags = new Map<string, Arg | null>();
  const positional: Arg[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a.kind === 'tag') {
      if (valueTags.includes(a.name) && i + 1 < args.length && args[i + 1].kind !== 'tag') {
        tags.set(a.name, args[i + 1]);
        i++;
      } else {
        tags.set(a.name, null);
      }
    } else {
      positional.push(a);
    }
  }
  const act: SieveAction = { action: name, line, condition };
  const str = (a: Arg | null | undefined): string | undefined =>
    a == null ? undefined : a.kind === 'str' ? cut(a.value) : a.kind === 'list' ? cut(a.values.join(', ')) : a.kind === 'num' ? a.text : undefined;
  const list = (a: Arg | null | undefined): string[] | undefined =>
    a == null ? undefined : a.kind === 'list' ? a.values.map(cut) : a.kind === 'str' ? [cut(a.value)] : undefined;
  const mapped = new Set<string>();
  const take = (tag: string): Arg | null | undefined => {
    mapped.add(tag);
    return tags.get(tag);
  };
  switch (name) {
    case 'redirect':
      act.targets = positional.flatMap((a) => list(a) ?? []);
      act.copy = tags.has('copy');
      mapped.add('copy');
      break;
    case 'fileinto':
      act.folder = str(positional[0]);
      act.copy = tags.has('copy');
      act.create = tags.has('create');
      mapped.add('copy').add('create');
      if (tags.has('flags')) act.flags = list(take('flags'));
      break;
    case 'keep':
      if (tags.has('flags')) act.flags = list(take('flags'));
      break;
    case 'reject':
    case 'ereject':
      act.reason = str(positional[0]);
      break;
    case 'vacation': {
      const d = take('days');
      if (d?.kind === 'num') act.days = d.value;
      const s = take('seconds');
      if (s?.kind === 'num') act.seconds = s.value;
      act.subject = str(take('subject'));
      act.from = str(take('from'));
      act.addresses = list(take('addresses'));
      act.handle = str(take('handle'));
      act.reason = str(positional[positional.length - 1]);
      break;
    }
    case 'notify': {
      // RFC 5435: notify [:from] [:importance] [:options] [:message] <method>; the old draft used :method.
      act.method = str(positional[0]) ?? str(take('method'));
      act.from = str(take('from'));
      act.importance = str(take('importance'));
      act.options = list(take('options'));
      act.reason = str(take('message'));
      break;
    }
    case 'addheader':
      act.header = str(positional[0]);
      act.value = str(positional[1]);
      act.last = tags.has('last');
      mapped.add('last');
      break;
    case 'deleteheader': {
      const ix = take('index');
      if (ix?.kind === 'num') act.index = ix.value;
      act.header = str(positional[0]);
      if (positional.length > 1) act.values = list(positional[1]);
      break;
    }
    case 'setflag':
    case 'addflag':
    case 'removeflag':
      // [<variablename: string>] <list-of-flags: string-list> (RFC 5232 §5)
      if (positional.length >= 2) {
        act.variable = str(positional[0]);
        act.flags = list(positional[1]);
      } else {
        act.flags = list(positional[0]);
      }
      break;
    case 'include':
      act.folder = str(positional[0]);
      if (tags.has('global')) act.location = 'global';
      else if (tags.has('personal')) act.location = 'personal';
      mapped.add('global').add('personal');
      break;
    default:
      break;
  }
  const other: string[] = [];
  for (const [tag, v] of tags) {
    if (mapped.has(tag)) continue;
    const val = v === null ? '' : ` ${str(v) ?? ''}`;
    other.push(`:${tag}${val}`);
  }
  if (other.length > 0) act.other_tags = other;
  for (const k of Object.keys(act) as (keyof SieveAction)[]) if (act[k] === undefined) delete act[k];
  return act;
}

// #endregion

/**
 * Parses a Sieve script and lists its requires and actions. Bytes are decoded as UTF-8
 * (RFC 5228 §2.2); invalid sequences become U+FFFD. Never throws.
 */
export function extractSieveActions(script: Uint8Array | string): SieveScriptSummary {
  const issues: string[] = [];
  try {
    let text = typeof script === 'string' ? script : Buffer.from(script.buffer, script.byteOffset, script.byteLength).toString('utf8');
    let truncated = false;
    if (text.length > SIEVE_MAX_SCRIPT_CHARS) {
      text = text.slice(0, SIEVE_MAX_SCRIPT_CHARS);
      truncated = true;
    }
    const p = new Parser(lex(text, issues), issues);
    p.commands(0, null);
    return { requires: p.requires, actions: p.actions, actions_dropped: p.dropped, issues: p.issues, truncated };
  } catch (e) {
    // Defensive: a bug here must not stop the session analysis.
    addIssue(issues, `internal parser error: ${String(e).slice(0, 200)}`);
    return { requires: [], actions: [], actions_dropped: 0, issues, truncated: false };
  }
}
