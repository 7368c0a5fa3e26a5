import type { At, Side } from '../../core/types.js';
import type { CloseReason } from '../../reassembly/stream-handler.js';
import type { AnalyzerContext, ProtocolAnalyzer, SessionFacts } from '../analyzer.js';
import { FramerAnomalies } from '../framer-anomalies.js';
import { MidstreamNotes } from '../midstream-notes.js';
import { UnparsedRuns } from '../unparsed-runs.js';
import { LineFramer } from '../line-framer.js';
import { SaslExchange } from '../sasl/sasl-exchange.js';
import { saslCredential, saslStep } from '../sasl/sasl-credential.js';
import type { SieveScriptFact, SieveSessionFacts } from './sieve-facts.js';
import { extractSieveActions } from './sieve-script-actions.js';
import type { SieveScriptSummary } from './sieve-script-actions.js';

// #region constants

/** Commands of RFC 5804 §2 (plus CHECKSCRIPT/RENAMESCRIPT/NOOP/UNAUTHENTICATE of §2.12-2.14). */
const KNOWN_COMMANDS = new Set([
  'AUTHENTICATE',
  'STARTTLS',
  'LOGOUT',
  'CAPABILITY',
  'HAVESPACE',
  'PUTSCRIPT',
  'LISTSCRIPTS',
  'SETACTIVE',
  'GETSCRIPT',
  'DELETESCRIPT',
  'RENAMESCRIPT',
  'CHECKSCRIPT',
  'NOOP',
  'UNAUTHENTICATE',
]);
/** Script records held until the session ends (for `active`); past it the oldest is written at once. */
const MAX_DEFERRED_SCRIPT_RECORDS = 1000;
/** Longest unknown-command line kept in facts.unknown_commands (characters). */
const UNKNOWN_COMMAND_KEEP_CHARS = 256;
/** Longest sample line kept in an 'unparsed' transcript entry (characters). */
/** Largest literal size believed (bytes); larger announcements are framing errors (`sieve_bad_literal`). */
const MAX_LITERAL_ANNOUNCED = 2 ** 40;
/** Longest parse issue list copied into a script record. */
const MAX_ISSUES_IN_RECORD = 20;

// #endregion

// #region tokens

function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

/** A ManageSieve token (RFC 5804 §4): atom, string (quoted or literal), or a parenthesis. */
interface Token {
  kind: 'atom' | 'string' | 'open' | 'close';
  /** atom: as sent; string: the value (latin1, so bytes round-trip). */
  text: string;
  /** Index into the logical line's literals when the string was a literal. */
  literal: number;
}

/** One literal of a logical line: its bytes (kept up to the cap) and what was lost. */
interface Literal {
  size: number;
  chunks: Buffer[];
  kept: number;
  /** Bytes past the keep cap (counted, not kept). */
  dropped: number;
  /** Bytes lost in gaps. */
  missing: number;
  first: At;
}

/** A logical line: CRLF-lines joined by literals (`PUTSCRIPT "x" {5+}` CRLF `<5 bytes>` CRLF). */
interface Logical {
  fragments: string[];
  literals: Literal[];
  first: At;
  last: At;
}

/**
 * If the line ends with a literal announcement `{n}` / `{n+}` outside a quoted string, returns
 * its start index and size; else null. Size -1 means the number is not believable.
 */
function trailingLiteral(s: string): { start: number; size: number } | null {
  if (s.length < 3 || s.charCodeAt(s.length - 1) !== 0x7d) return null;
  const open = s.lastIndexOf('{');
  if (open < 0) return null;
  let body = s.slice(open + 1, -1);
  if (body.endsWith('+')) body = body.slice(0, -1);
  if (!/^[0-9]+$/.test(body)) return null;
  // The brace must be outside quotes: scan the prefix.
  let inQ = false;
  for (let i = 0; i < open; i++) {
    const c = s.charCodeAt(i);
    if (inQ && c === 0x5c) i++;
    else if (c === 0x22) inQ = !inQ;
  }
  if (inQ) return null;
  const n = body.length > 13 ? Infinity : Number(body);
  return { start: open, size: n > MAX_LITERAL_ANNOUNCED ? -1 : n };
}

/** Tokenizes a logical line (quoted strings unescaped per RFC 5804 §4: `\"` and `\\`). */
function tokenize(l: Logical): Token[] {
  const out: Token[] = [];
  for (let f = 0; f < l.fragments.length; f++) {
    let s = l.fragments[f];
    const lit = f < l.literals.length ? trailingLiteral(s) : null;
    if (lit !== null) s = s.slice(0, lit.start);
    let i = 0;
    const n = s.length;
    while (i < n) {
      const c = s.charCodeAt(i);
      if (c === 0x20 || c === 0x09) {
        i++;
      } else if (c === 0x22) {
        let v = '';
        let j = i + 1;
        let run = j;
        while (j < n && s.charCodeAt(j) !== 0x22) {
          if (s.charCodeAt(j) === 0x5c && j + 1 < n) {
            v += s.slice(run, j);
            run = j + 1;
            j += 2;
            continue;
          }
          j++;
        }
        v += s.slice(run, Math.min(j, n));
        out.push({ kind: 'string', text: v, literal: -1 });
        i = j + 1;
      } else if (c === 0x28 || c === 0x29) {
        out.push({ kind: c === 0x28 ? 'open' : 'close', text: s[i], literal: -1 });
        i++;
      } else {
        let j = i + 1;
        while (j < n) {
          const d = s.charCodeAt(j);
          if (d === 0x20 || d === 0x09 || d === 0x22 || d === 0x28 || d === 0x29) break;
          j++;
        }
        out.push({ kind: 'atom', text: s.slice(i, j), literal: -1 });
        i = j;
      }
    }
    if (lit !== null) {
      const L = l.literals[f];
      out.push({ kind: 'string', text: literalText(L), literal: f });
    }
  }
  return out;
}

function literalBytes(L: Literal): Buffer {
  return L.chunks.length === 1 ? L.chunks[0] : Buffer.concat(L.chunks, L.kept);
}

/** Literal as latin1 text, capped for use as a name or SASL step (scripts use the bytes). */
function literalText(L: Literal): string {
  const b = literalBytes(L);
  return b.subarray(0, Math.min(b.length, 64 * 1024)).toString('latin1');
}

/** Latin1 text (as tokenized) back to its wire bytes; then shown as UTF-8 (RFC 5804 strings are UTF-8). */
function utf8(s: string): string {
  return Buffer.from(s, 'latin1').toString('utf8');
}

// #endregion

type Outcome = 'ok' | 'no' | 'unknown';

/** A complete server response: data lines then OK/NO/BYE. */
interface Response {
  status: 'OK' | 'NO' | 'BYE';
  /** Response code atoms/strings inside (...) as text, e.g. "WARNINGS", "SASL". */
  code: string[];
  /** The human-readable string after the status/code. */
  text: string | null;
  /** Data logical lines before the status line. */
  data: Logical[];
  /** The status logical line. */
  final: Logical;
  lines: string[];
  first: At;
  last: At;
}

/** A script captured from a literal or string. */
interface CapturedScript {
  command: 'PUTSCRIPT' | 'CHECKSCRIPT' | 'GETSCRIPT';
  name: string | null;
  size: number;
  sha256: string;
  path: string | null;
  partial: boolean;
  truncated: boolean;
  missing: number;
  parsed: SieveScriptSummary;
  username: string | null;
  first: At;
  last: At;
  outcome: Outcome;
  reply: string | null;
  fact: SieveScriptFact;
  /** Written to sieve_scripts already. */
  written: boolean;
}

interface Pending {
  verb: string;
  args: Token[];
  first: At;
  script: CapturedScript | null;
}

interface AuthAttempt {
  exchange: SaslExchange | null;
  mechanism: string;
  first: At;
  awaiting: number;
  cancelled: boolean;
}

type Mode = 'line' | 'sync';

function outcomeOf(r: Response | null): Outcome {
  return r === null ? 'unknown' : r.status === 'OK' ? 'ok' : 'no';
}

/**
 * ManageSieve analyzer for one connection (RFC 5804). Parses commands and responses with their
 * literals, decodes AUTHENTICATE through the SASL module, saves every script sent (PUTSCRIPT,
 * CHECKSCRIPT) or received (GETSCRIPT) verbatim as an artifact and writes one `sieve_scripts`
 * record per script with its actions (see {@link extractSieveActions}).
 *
 * Script records are written when the session ends, so `active` reflects everything the session
 * showed (a later SETACTIVE, LISTSCRIPTS' ACTIVE mark, RENAMESCRIPT); with more than
 * MAX_DEFERRED_SCRIPT_RECORDS scripts the oldest are written early with what was known then.
 * Never throws on hostile input.
 */
export class SieveAnalyzer implements ProtocolAnalyzer {
  readonly protocol = 'sieve' as const;
  readonly #ctx: AnalyzerContext;
  readonly #framers: Record<Side, LineFramer>;
  readonly #modes: Record<Side, Mode>;
  readonly #logical: Record<Side, Logical | null> = { client: null, server: null };
  /** Keep cap for one literal's bytes. */
  readonly #literalCap: number;
  readonly #listCap: number;

  #greeted = false;
  #pending: Pending[] = [];
  /** Data lines of the response being assembled. */
  #respData: Logical[] = [];
  #respLines = 0;
  #respDropped = 0;
  #auth: AuthAttempt | null = null;
  #starttlsPending = false;
  #user: string | null = null;
  /** Active script per the session's evidence: undefined = unknown, "" = none. */
  #active: string | undefined = undefined;
  #scripts: CapturedScript[] = [];
  #commands = 0;
  #replies = 0;
  #closed = false;
  readonly #framerAnomalies: FramerAnomalies;
  readonly #unparsed: UnparsedRuns;
  #unknownReported = false;
  #overflowReported = false;
  readonly #midstream: MidstreamNotes;
  #encrypted = { client: 0, server: 0 };
  /**
   * STARTTLS accepted: wire bytes (onData/onGap) are TLS records handed to the context; plaintext
   * comes back through onDecrypted and is parsed as a fresh phase.
   */
  #tls = false;
  /** The next server response is the capability list the server re-sends after TLS (RFC 5804 §2.2). */
  #tlsCapsPending = false;

  readonly #facts: SieveSessionFacts = {
    greeting: null,
    implementation: null,
    capabilities: {},
    sieve_extensions: [],
    sasl_mechanisms: [],
    owner: null,
    starttls: { offered: false, requested: false, accepted: false, frame: null },
    encrypted_from_frame: null,
    auth: [],
    username: null,
    scripts_uploaded: [],
    scripts_checked: [],
    scripts_fetched: [],
    active_script: null,
    setactive: [],
    listed_scripts: null,
    deleted_scripts: [],
    renamed_scripts: [],
    havespace: [],
    unknown_commands: [],
    logout: false,
  };

  constructor(ctx: AnalyzerContext) {
    this.#ctx = ctx;
    this.#framerAnomalies = new FramerAnomalies(ctx, 'sieve_bare_lf');
    this.#unparsed = new UnparsedRuns(ctx);
    this.#midstream = new MidstreamNotes(ctx, this.#unparsed, 'sieve_midstream');
    this.#literalCap = ctx.limits.maxInMemoryMessageBytes;
    this.#listCap = ctx.limits.maxTranscriptEntriesPerSession;
    const mk = (side: Side): LineFramer =>
      new LineFramer(
        {
          onLine: (line, first, last) => this.#line(side, line, first, last),
          onBytes: (bytes, at) => this.#literalBytes(side, bytes, at),
          onBytesEnd: (at) => this.#literalEnd(side, at),
          onAnomaly: (code, detail, at) => this.#framerAnomalies.report(code, detail, at),
        },
        ctx.limits.maxLineBytes,
      );
    this.#framers = { client: mk('client'), server: mk('server') };
    const midstream = !ctx.conn.sawHandshake;
    this.#modes = { client: midstream ? 'sync' : 'line', server: midstream ? 'sync' : 'line' };
    if (midstream) this.#greeted = true;
  }

  // #region input

  onData(side: Side, bytes: Uint8Array, at: At): void {
    if (this.#closed || bytes.length === 0) return;
    this.#consume(side, bytes, at, true);
  }

  /**
   * Plaintext of the TLS session started by STARTTLS. RFC 5804 §2.2: the server first re-sends its
   * capabilities followed by OK (no greeting otherwise); framing restarts clean, facts are kept.
   */
  onDecrypted(side: Side, bytes: Uint8Array, at: At): void {
    if (this.#closed || bytes.length === 0 || !this.#tls) return;
    this.#consume(side, bytes, at, false);
  }

  /** `wire`: bytes from onData (TLS records once STARTTLS was accepted), not decrypted plaintext. */
  #consume(side: Side, bytes: Uint8Array, at: At, wire: boolean): void {
    let off = 0;
    const len = bytes.length;
    while (off < len) {
      if (wire && this.#tls) {
        // Everything after the OK line, in this chunk too, is TLS (RFC 5804 §2.2).
        if (side === 'server' && this.#encrypted.server === 0 && this.#encrypted.client === 0) {
          // The server's TLS bytes only answer the client's ClientHello.
          this.#ctx.anomaly('sieve_starttls_injection', 'server bytes after the STARTTLS OK before any client TLS bytes', at);
        }
        this.#encrypted[side] += len - off;
        this.#ctx.encryptedData(side, off === 0 ? bytes : bytes.subarray(off), at);
        return;
      }
      const n = this.#framers[side].push(off === 0 ? bytes : bytes.subarray(off), at);
      off += n;
      if (n === 0 && !(wire && this.#tls)) break; // defensive: never spin
    }
  }

  onGap(side: Side, length: number, at: At): void {
    if (this.#closed || length <= 0) return;
    this.#ctx.transcript({ side, kind: 'gap', lines: [], bytes: length }, at, at);
    if (this.#tls) {
      // A hole in the TLS stream: the TLS layer resynchronises or gives up.
      this.#encrypted[side] += length;
      this.#ctx.encryptedGap(side, length, at);
      return;
    }
    this.#unparsed.flush(side);
    const framer = this.#framers[side];
    const log = this.#logical[side];
    let inPlain = 0;
    if (framer.inPlainMode && log !== null) {
      const L = log.literals[log.literals.length - 1];
      if (L !== undefined) {
        // Counted before framer.gap: onBytesEnd may fire inside it.
        L.missing += Math.min(length, L.size - L.kept - L.dropped - L.missing);
      }
      inPlain = framer.gap(length, at);
    }
    if (length > inPlain) {
      framer.reset();
      this.#logical[side] = null;
      this.#modes[side] = 'sync';
      if (side === 'server') {
        if (this.#respData.length > 0) this.#ctx.anomaly('sieve_response_incomplete', 'gap inside a server response', at);
        this.#respData = [];
        this.#respLines = 0;
        // Pairing of responses to commands is lost.
        for (const p of this.#pending) this.#finishCommand(p, null, at);
        this.#pending = [];
      }
      if (this.#auth !== null) this.#finishAuth(null, at);
    }
  }

  onSideEnd(_side: Side, _reason: 'fin' | 'rst', _at: At): void {
    // onClose finishes what is open.
  }

  onClose(_reason: CloseReason, at: At): void {
    if (this.#closed) return;
    for (const side of ['client', 'server'] as const) {
      const log = this.#logical[side];
      if (log !== null && log.literals.length > 0) {
        // Ended inside a literal (or just after one): the command/response is incomplete.
        this.#logical[side] = null;
        const L = log.literals[log.literals.length - 1];
        if (this.#framers[side].inPlainMode) this.#ctx.transcript({ side, kind: 'data', lines: [], bytes: L.kept + L.dropped }, L.first, at);
        if (side === 'client') this.#clientLogical(log, true);
      }
      this.#unparsed.flush(side);
    }
    if (this.#respData.length > 0) {
      this.#ctx.anomaly('sieve_response_incomplete', 'session ended inside a server response', at);
      const lines = this.#respData.flatMap((l) => l.fragments);
      this.#ctx.transcript({ side: 'server', kind: 'reply', lines }, this.#respData[0].first, at);
      this.#respData = [];
    }
    if (this.#auth !== null) this.#finishAuth(null, at);
    for (const p of this.#pending) this.#finishCommand(p, null, at);
    this.#pending = [];
    for (const s of this.#scripts) this.#writeScript(s);
    this.#scripts = [];
    this.#facts.active_script = this.#active === undefined ? null : this.#active;
    if (this.#encrypted.client > 0 || this.#encrypted.server > 0 || this.#facts.starttls.accepted) {
      this.#facts.encrypted_bytes = { client: this.#encrypted.client, server: this.#encrypted.server };
    }
    this.#closed = true;
  }

  summary(): { commands: number; replies: number; facts: SessionFacts; transport: 'cleartext' | 'starttls' | 'tls' } {
    return {
      commands: this.#commands,
      replies: this.#replies,
      facts: { sieve: this.#facts },
      transport: this.#facts.starttls.accepted ? 'starttls' : 'cleartext',
    };
  }

  // #endregion

  // #region framing

  #line(side: Side, bytes: Uint8Array, first: At, last: At): void {
    const text = latin1(bytes);
    if (this.#modes[side] === 'sync' && this.#logical[side] === null) {
      if (!this.#resyncs(side, text)) {
        this.#midstream.unparsedLine(side, text, bytes.length, first, last, `${side} bytes before the first line that parses`);
        return;
      }
      this.#unparsed.flush(side);
      this.#modes[side] = 'line';
      // A server status line seen while resynchronising answers a command we cannot know: dropped.
      if (side === 'server') {
        this.#unparsed.add(side, bytes.length + 2, text, first, last);
        this.#unparsed.flush(side);
        return;
      }
    }
    let log = this.#logical[side];
    if (log === null) {
      log = { fragments: [], literals: [], first, last };
      this.#logical[side] = log;
    }
    log.fragments.push(text);
    log.last = last;
    const lit = trailingLiteral(text);
    if (lit !== null) {
      if (lit.size < 0) {
        this.#ctx.anomaly('sieve_bad_literal', text.slice(lit.start, lit.start + 40), last);
      } else {
        log.literals.push({ size: lit.size, chunks: [], kept: 0, dropped: 0, missing: 0, first: last });
        this.#framers[side].expectBytes(lit.size);
        return;
      }
    }
    // Literal count must match fragments-1 for tokenize(); a bad literal leaves it short, which is fine.
    this.#logical[side] = null;
    if (side === 'client') this.#clientLogical(log, false);
    else this.#serverLogical(log);
  }

  /** In sync mode: does this line start a command (client) or end a response (server)? */
  #resyncs(side: Side, text: string): boolean {
    const word = /^[A-Za-z]+/.exec(text)?.[0]?.toUpperCase() ?? '';
    if (side === 'client') return KNOWN_COMMANDS.has(word) && (text.length === word.length || text[word.length] === ' ');
    return (word === 'OK' || word === 'NO' || word === 'BYE') && (text.length === word.length || text[word.length] === ' ' || text[word.length] === '(');
  }

  #literalBytes(side: Side, bytes: Uint8Array, _at: At): void {
    const log = this.#logical[side];
    const L = log?.literals[log.literals.length - 1];
    if (L === undefined) return;
    const room = this.#literalCap - L.kept;
    const take = Math.min(room, bytes.length);
    if (take > 0) {
      L.chunks.push(Buffer.from(bytes.subarray(0, take)));
      L.kept += take;
    }
    L.dropped += bytes.length - Math.max(0, take);
  }

  #literalEnd(side: Side, at: At): void {
    const log = this.#logical[side];
    const L = log?.literals[log.literals.length - 1];
    if (log === null || L === undefined) return;
    log.last = at;
    this.#ctx.transcript({ side, kind: 'data', lines: [], bytes: L.size }, L.first, at);
  }


  // #endregion

  // #region client

  /** A complete client logical line (`cut`: the session ended inside it). */
  #clientLogical(log: Logical, cut: boolean): void {
    const tokens = tokenize(log);
    // RFC 5804 §2.1: during AUTHENTICATE each client line is a string answering the server's challenge.
    const auth = this.#auth;
    if (auth !== null && auth.awaiting > 0) {
      auth.awaiting--;
      this.#ctx.transcript({ side: 'client', kind: 'auth', lines: log.fragments }, log.first, log.last);
      const value = tokens[0]?.kind === 'string' ? tokens[0].text : (tokens[0]?.text ?? '');
      if (value === '*') auth.cancelled = true;
      this.#sasl(auth, (x) => x.clientResponse(value), log.last);
      return;
    }
    if (this.#starttlsPending) {
      this.#ctx.anomaly('sieve_starttls_injection', 'client sent a command after STARTTLS before the server answered', log.first);
    }
    const verbTok = tokens[0];
    const verb = verbTok?.kind === 'atom' ? verbTok.text.toUpperCase() : '';
    const joined = log.fragments.join(' ').trimEnd();
    const argument = verbTok?.kind === 'atom' ? joined.slice(joined.indexOf(verbTok.text) + verbTok.text.length).replace(/^ /, '') : joined;
    this.#commands++;
    this.#ctx.transcript({ side: 'client', kind: 'command', command: verb || undefined, argument, lines: log.fragments }, log.first, log.last);
    const args = tokens.slice(1);
    const p: Pending = { verb, args, first: log.first, script: null };
    const str = (i: number): string | null => (args[i]?.kind === 'string' || args[i]?.kind === 'atom' ? utf8(args[i].text) : null);
    switch (verb) {
      case 'AUTHENTICATE': {
        if (this.#auth !== null) this.#finishAuth(null, log.first);
        const mech = (str(0) ?? '').toUpperCase();
        const attempt: AuthAttempt = { exchange: null, mechanism: mech, first: log.first, awaiting: 0, cancelled: false };
        try {
          const ir = args[1]?.kind === 'string' ? args[1].text : null;
          attempt.exchange = new SaslExchange(mech, ir);
        } catch (e) {
          this.#ctx.anomaly('sieve_sasl_error', String(e).slice(0, 200), log.first);
        }
        this.#auth = attempt;
        break;
      }
      case 'STARTTLS':
        this.#facts.starttls.requested = true;
        this.#starttlsPending = true;
        break;
      case 'PUTSCRIPT':
        p.script = this.#capture('PUTSCRIPT', str(0), args[1], log, cut);
        break;
      case 'CHECKSCRIPT':
        p.script = this.#capture('CHECKSCRIPT', null, args[0], log, cut);
        break;
      case 'LOGOUT':
        this.#facts.logout = true;
        break;
      default:
        if (!KNOWN_COMMANDS.has(verb)) {
          if (this.#facts.unknown_commands.length < this.#listCap) this.#facts.unknown_commands.push(joined.slice(0, UNKNOWN_COMMAND_KEEP_CHARS));
          if (!this.#unknownReported) {
            this.#unknownReported = true;
            this.#ctx.anomaly('sieve_unknown_command', verb.slice(0, 64) || joined.slice(0, 64), log.first);
          }
        }
    }
    if (cut) {
      this.#finishCommand(p, null, log.last);
      return;
    }
    if (this.#pending.length >= this.#ctx.limits.maxPendingCommands) {
      if (!this.#overflowReported) {
        this.#overflowReported = true;
        this.#ctx.anomaly('sieve_pipeline_overflow', `more than ${this.#ctx.limits.maxPendingCommands} commands without responses`, log.first);
      }
      this.#finishCommand(p, null, log.last);
      return;
    }
    this.#pending.push(p);
  }

  /** Saves a script (a literal, or a quoted string for tiny scripts) and parses its actions. */
  #capture(command: CapturedScript['command'], name: string | null, tok: Token | undefined, log: Logical, cut: boolean): CapturedScript | null {
    if (tok === undefined || tok.kind !== 'string') return null;
    let bytes: Buffer;
    let size: number;
    let truncated = false;
    let missing = 0;
    if (tok.literal >= 0) {
      const L = log.literals[tok.literal];
      bytes = literalBytes(L);
      size = L.size;
      truncated = L.dropped > 0;
      missing = L.missing + Math.max(0, L.size - L.kept - L.dropped - L.missing);
    } else {
      bytes = Buffer.from(tok.text, 'latin1');
      size = bytes.length;
    }
    if (truncated) this.#ctx.anomaly('sieve_script_truncated', `${command} ${size} bytes, kept ${bytes.length}`, log.last);
    if (missing > 0 && !cut) this.#ctx.anomaly('sieve_script_gap', `${command}: ${missing} bytes missing`, log.last);
    const saved = this.#ctx.saveArtifact(bytes);
    const parsed = extractSieveActions(bytes);
    if (parsed.issues.length > 0) this.#ctx.anomaly('sieve_script_parse_issues', `${command} ${name ?? ''}: ${parsed.issues[0]}`.slice(0, 200), log.last);
    const fact: SieveScriptFact = { command, name, size, sha256: saved.sha256, outcome: 'unknown', frame: log.first.frame };
    const list =
      command === 'PUTSCRIPT' ? this.#facts.scripts_uploaded : command === 'CHECKSCRIPT' ? this.#facts.scripts_checked : this.#facts.scripts_fetched;
    if (list.length < this.#listCap) list.push(fact);
    const s: CapturedScript = {
      command,
      name,
      size,
      sha256: saved.sha256,
      path: saved.path,
      partial: missing > 0 || truncated,
      truncated,
      missing,
      parsed,
      username: this.#user,
      first: log.first,
      last: log.last,
      outcome: 'unknown',
      reply: null,
      fact,
      written: false,
    };
    this.#scripts.push(s);
    if (this.#scripts.length > MAX_DEFERRED_SCRIPT_RECORDS) {
      const old = this.#scripts.shift();
      if (old !== undefined) this.#writeScript(old);
    }
    return s;
  }

  // #endregion

  // #region server

  #serverLogical(log: Logical): void {
    const tokens = tokenize(log);
    const head = tokens[0];
    const word = head?.kind === 'atom' ? head.text.toUpperCase() : '';
    if (word !== 'OK' && word !== 'NO' && word !== 'BYE') {
      // RFC 5804 §2.1: a server challenge during AUTHENTICATE is a bare string line.
      const auth = this.#auth;
      if (auth !== null && this.#respData.length === 0 && this.#pending[0]?.verb === 'AUTHENTICATE' && head?.kind === 'string' && tokens.length === 1) {
        auth.awaiting++;
        this.#ctx.transcript({ side: 'server', kind: 'auth', lines: log.fragments }, log.first, log.last);
        this.#sasl(auth, (x) => x.serverChallenge(head.text), log.last);
        return;
      }
      if (this.#respLines >= this.#ctx.limits.maxReplyLines) {
        if (this.#respDropped === 0) this.#ctx.anomaly('reply_too_many_lines', `more than ${this.#ctx.limits.maxReplyLines} response lines`, log.last);
        this.#respDropped++;
        return;
      }
      this.#respData.push(log);
      this.#respLines += log.fragments.length;
      return;
    }
    // response = ("OK" / "NO" / "BYE") [SP "(" resp-code ")"] [SP string] CRLF  (RFC 5804 §4)
    let i = 1;
    const code: string[] = [];
    if (tokens[i]?.kind === 'open') {
      i++;
      while (i < tokens.length && tokens[i].kind !== 'close') code.push(tokens[i++].text);
      i++;
    }
    const t = tokens[i];
    const r: Response = {
      status: word as Response['status'],
      code,
      text: t !== undefined && t.kind === 'string' ? utf8(t.text) : null,
      data: this.#respData,
      final: log,
      lines: [...this.#respData.flatMap((l) => l.fragments), ...log.fragments],
      first: this.#respData[0]?.first ?? log.first,
      last: log.last,
    };
    this.#respData = [];
    this.#respLines = 0;
    this.#respDropped = 0;
    this.#replies++;
    this.#ctx.transcript({ side: 'server', kind: 'reply', status: word, lines: r.lines }, r.first, r.last);
    if (this.#tlsCapsPending) {
      this.#tlsCapsPending = false;
      // RFC 5804 §2.2: after TLS the server MUST re-issue its capabilities, then OK; the client
      // must forget the cleartext ones (they may have changed, e.g. SASL mechanisms).
      if (r.status === 'OK') {
        this.#capabilities(r);
        return;
      }
    }
    const p = this.#pending.shift();
    if (p === undefined) {
      if (!this.#greeted) {
        this.#greeted = true;
        this.#facts.greeting = r.text;
        this.#capabilities(r);
      } else if (r.status !== 'BYE') {
        this.#ctx.anomaly('sieve_unmatched_response', r.lines[r.lines.length - 1].slice(0, 100), r.last);
      }
      return;
    }
    this.#greeted = true;
    this.#finishCommand(p, r, r.last);
  }

  /** Capability lines: `"NAME" ["value"]` (RFC 5804 §1.7). */
  #capabilities(r: Response): void {
    if (r.data.length === 0) return;
    const caps: Record<string, string | null> = {};
    for (const l of r.data) {
      const toks = tokenize(l);
      if (toks[0]?.kind !== 'string') continue;
      const name = utf8(toks[0].text).toUpperCase();
      const value = toks[1]?.kind === 'string' ? utf8(toks[1].text) : null;
      caps[name] = value;
    }
    this.#facts.capabilities = caps;
    const split = (v: string | null | undefined): string[] => (v ?? '').split(/\s+/).filter((x) => x.length > 0);
    if (caps.IMPLEMENTATION != null) this.#facts.implementation = caps.IMPLEMENTATION;
    if ('SIEVE' in caps) this.#facts.sieve_extensions = split(caps.SIEVE);
    if ('SASL' in caps) this.#facts.sasl_mechanisms = split(caps.SASL);
    if (caps.OWNER != null) this.#facts.owner = caps.OWNER;
    if ('STARTTLS' in caps) this.#facts.starttls.offered = true;
  }

  /** Applies a command's response (null: unknown, the session ended or pairing was lost). */
  #finishCommand(p: Pending, r: Response | null, at: At): void {
    const outcome = outcomeOf(r);
    const reply = r === null ? null : r.final.fragments.join(' ');
    const arg = (i: number): string | null =>
      p.args[i] !== undefined && (p.args[i].kind === 'string' || p.args[i].kind === 'atom') ? utf8(p.args[i].text) : null;
    const cap = <T>(list: T[], x: T): void => {
      if (list.length < this.#listCap) list.push(x);
    };
    const frame = p.first.frame;
    switch (p.verb) {
      case 'CAPABILITY':
        if (r !== null && outcome === 'ok') this.#capabilities(r);
        break;
      case 'AUTHENTICATE':
        if (r !== null && r.code[0]?.toUpperCase() === 'SASL' && r.code[1] !== undefined && this.#auth !== null) {
          // RFC 5804 §2.1: OK (SASL "<base64>") carries the server's last step (e.g. SCRAM server-final).
          const last = r.code[1];
          this.#sasl(this.#auth, (x) => x.serverChallenge(last), at);
        }
        this.#finishAuth(r, at);
        break;
      case 'STARTTLS':
        this.#starttlsPending = false;
        if (r !== null && outcome === 'ok') this.#startTls(r, at);
        break;
      case 'UNAUTHENTICATE':
        if (outcome === 'ok') {
          this.#user = null;
          this.#facts.username = null;
        }
        break;
      case 'PUTSCRIPT':
      case 'CHECKSCRIPT':
        if (p.script !== null) this.#scriptOutcome(p.script, r, outcome, reply, at);
        break;
      case 'GETSCRIPT': {
        if (r === null || outcome !== 'ok') break;
        // RFC 5804 §2.9: the script is a string (a literal {n}) before the OK.
        const d = r.data[0];
        if (d === undefined) break;
        const tok = tokenize(d)[0];
        const s = this.#capture('GETSCRIPT', arg(0), tok, d, false);
        if (s !== null) {
          s.first = p.first;
          s.fact.frame = p.first.frame;
          this.#scriptOutcome(s, r, outcome, reply, at);
        }
        break;
      }
      case 'SETACTIVE': {
        const name = arg(0) ?? '';
        cap(this.#facts.setactive, { name, outcome, frame });
        if (outcome === 'ok') this.#active = name;
        break;
      }
      case 'LISTSCRIPTS': {
        if (r === null || outcome !== 'ok') break;
        const listed: { name: string; active: boolean }[] = [];
        let active = '';
        for (const d of r.data) {
          const toks = tokenize(d);
          if (toks[0]?.kind !== 'string') continue;
          const name = utf8(toks[0].text);
          const isActive = toks[1]?.kind === 'atom' && toks[1].text.toUpperCase() === 'ACTIVE';
          if (isActive) active = name;
          if (listed.length < this.#listCap) listed.push({ name, active: isActive });
        }
        this.#facts.listed_scripts = listed;
        this.#active = active;
        break;
      }
      case 'DELETESCRIPT': {
        const name = arg(0) ?? '';
        cap(this.#facts.deleted_scripts, { name, outcome, frame });
        if (outcome === 'ok' && this.#active === name) this.#active = '';
        break;
      }
      case 'RENAMESCRIPT': {
        const from = arg(0) ?? '';
        const to = arg(1) ?? '';
        cap(this.#facts.renamed_scripts, { from, to, outcome, frame });
        if (outcome === 'ok' && this.#active === from) this.#active = to;
        break;
      }
      case 'HAVESPACE': {
        const n = arg(1);
        const size = n !== null && /^[0-9]{1,15}$/.test(n) ? Number(n) : null;
        cap(this.#facts.havespace, { name: arg(0) ?? '', size, outcome, reply, frame });
        break;
      }
      default:
        break;
    }
  }

  #scriptOutcome(s: CapturedScript, r: Response | null, outcome: Outcome, reply: string | null, at: At): void {
    s.outcome = outcome;
    s.reply = reply;
    s.fact.outcome = outcome;
    if (r !== null) s.last = r.last;
    else s.last = at;
  }

  #startTls(r: Response, at: At): void {
    if (this.#tls) {
      // STARTTLS accepted again inside TLS: nested TLS cannot be followed.
      this.#ctx.anomaly('sieve_starttls_injection', 'STARTTLS accepted again inside TLS', at);
      return;
    }
    this.#facts.starttls.accepted = true;
    this.#facts.starttls.frame = at.frame;
    this.#facts.encrypted_from_frame = at.frame;
    this.#ctx.transcript({ side: 'server', kind: 'tls', lines: [] }, r.first, at);
    this.#ctx.markEncrypted(at);
    this.#tls = true;
    this.#tlsCapsPending = true;
    // The rest of this server chunk is TLS; the plaintext phase starts at a line boundary.
    this.#framers.server.pause();
    this.#modes.server = 'line';
    this.#modes.client = 'line';
    this.#framers.client.reset();
    this.#logical.client = null;
    if (this.#auth !== null) this.#finishAuth(null, at);
    for (const p of this.#pending) this.#finishCommand(p, null, at);
    this.#pending = [];
  }

  // #endregion

  // #region auth and scripts

  #sasl(auth: AuthAttempt, f: (x: SaslExchange) => void, at: At): void {
    saslStep(this.#ctx, auth, f, 'sieve_sasl_error', at);
  }

  /** Ends the AUTHENTICATE exchange: OK = success, NO/BYE = failure, null = unknown (RFC 5804 §2.1). */
  #finishAuth(r: Response | null, at: At): void {
    const auth = this.#auth;
    if (auth === null) return;
    this.#auth = null;
    const outcome: 'success' | 'failure' | 'unknown' = r === null ? 'unknown' : r.status === 'OK' ? 'success' : 'failure';
    const { mechanism, username, authzid } = saslCredential(
      this.#ctx,
      auth,
      { outcome, reply: r === null ? null : r.final.fragments.join(' '), last: r?.last ?? at },
      { command: 'AUTHENTICATE', errorCode: 'sieve_sasl_error' },
      at,
    );
    if (this.#facts.auth.length < this.#listCap) this.#facts.auth.push({ mechanism, username, outcome, frame: auth.first.frame });
    if (outcome === 'success') {
      // Authorization identity, when given, is whom the session acts as.
      this.#user = authzid !== null && authzid !== '' ? authzid : username;
      this.#facts.username = this.#user;
    }
  }

  /** Writes one sieve_scripts record (see the class comment for when). */
  #writeScript(s: CapturedScript): void {
    if (s.written) return;
    s.written = true;
    const active = this.#active === undefined || s.name === null || s.command === 'CHECKSCRIPT' ? null : this.#active === s.name;
    this.#ctx.extraRecord(
      'sieve_scripts',
      {
        command: s.command,
        name: s.name,
        size: s.size,
        sha256: s.sha256,
        path: s.path,
        outcome: s.outcome,
        reply: s.reply,
        active,
        requires: s.parsed.requires,
        actions: s.parsed.actions,
        actions_dropped: s.parsed.actions_dropped,
        parse_issues: s.parsed.issues.slice(0, MAX_ISSUES_IN_RECORD),
        username: s.username,
        partial: s.partial,
        truncated: s.truncated,
        missing_bytes: s.missing,
      },
      s.first,
      s.last,
    );
  }

  // #endregion
}
