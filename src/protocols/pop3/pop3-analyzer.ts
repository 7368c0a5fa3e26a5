import type { At, Side } from '../../core/types.js';
import type { CloseReason } from '../../reassembly/stream-handler.js';
import type { AnalyzerContext, MessageSink, ProtocolAnalyzer, SessionFacts } from '../analyzer.js';
import { FramerAnomalies } from '../framer-anomalies.js';
import { MidstreamNotes } from '../midstream-notes.js';
import { UnparsedRuns } from '../unparsed-runs.js';
import { LineFramer } from '../line-framer.js';
import { SaslExchange, apopHashcat } from '../sasl/sasl-exchange.js';
import { saslCredential, saslStep } from '../sasl/sasl-credential.js';
import { DotUnstuffer } from '../smtp/dot-unstuffer.js';
import {
  apopTimestamp,
  continuationText,
  isMultiLine,
  isPop3Verb,
  parseApop,
  parseAuth,
  parseListingLine,
  parseMsgNumber,
  parseOctets,
  parseStat,
  parseTopArgs,
  splitCommand,
  statusOf,
  statusText,
} from './pop3-commands.js';
import type { Pop3DeletionFact, Pop3RetrievalFact, Pop3SessionFacts } from './pop3-facts.js';
import { pop3Transition } from './pop3-states.js';
import type { Pop3Event, Pop3State } from './pop3-states.js';

/** Longest unknown-command line kept in facts.unknown_commands (characters). */
const UNKNOWN_COMMAND_KEEP_CHARS = 256;
/** Longest sample line kept in an 'unparsed' transcript entry (characters). */
/** Longest capability line kept in facts.capabilities (characters). */
const CAPABILITY_KEEP_CHARS = 512;

function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

type Delivery = Record<string, string | number | boolean | null | string[]>;

/** A command waiting for its status line (RFC 2449 §6.6 PIPELINING queue). */
interface Pending {
  verb: string;
  argument: string;
  first: At;
  /** Message number argument (RETR, TOP, DELE, LIST n, UIDL n). */
  msg: number | null;
  topLines: number | null;
  /** USER name in effect when PASS was sent. */
  user: string | null;
}

/** A multi-line text response being collected (LIST, UIDL, CAPA, bare AUTH). */
interface Listing {
  p: Pending;
  lines: string[];
  dropped: number;
  first: At;
  /** A gap fell inside it. */
  gap: boolean;
  capabilities: string[];
  mechanisms: string[];
}

/** A RETR/TOP body being received. */
interface Body {
  p: Pending;
  sink: MessageSink;
  first: At;
  /** Unstuffed bytes received (written to the sink). */
  size: number;
  missing: number;
  octets: number | null;
  fact: Pop3RetrievalFact | null;
}

/** An AUTH exchange in progress (RFC 5034). */
interface AuthAttempt {
  exchange: SaslExchange | null;
  mechanism: string;
  first: At;
  /** "+ " challenges not yet answered by a client line. */
  awaiting: number;
  cancelled: boolean;
}

type ClientMode = 'command' | 'sync';
type ServerMode = 'status' | 'listing' | 'body';

/**
 * POP3 analyzer for one connection (RFC 1939, RFC 2449 CAPA/PIPELINING, RFC 5034 AUTH,
 * RFC 2595 STLS).
 *
 * Matches every status line to the oldest pending command (pipelining queue); whether a reply is
 * multi-line depends on that command and on the status (+OK only). RETR/TOP bodies are
 * dot-unstuffed (RFC 1939 §3, same byte-stuffing as SMTP DATA) and streamed into a message sink;
 * LIST/UIDL/CAPA listings become one transcript entry each. Emits credentials (USER/PASS, APOP with
 * a hashcat mode-20 line, SASL), mailbox events (stat, retrieve, top, delete-mark, delete-commit,
 * delete-undone) and session facts. Never throws on hostile input.
 *
 * TOP messages: the record's `partial` is true (endBytes(false)) because TOP returns the headers and
 * only n body lines, unless the received size equals the LIST size of that message, which proves
 * it whole. `delivery.top_lines` keeps the line count asked.
 */
export class Pop3Analyzer implements ProtocolAnalyzer {
  readonly protocol = 'pop3' as const;
  readonly #ctx: AnalyzerContext;
  readonly #clientFramer: LineFramer;
  readonly #serverFramer: LineFramer;
  readonly #unstuffer: DotUnstuffer;
  readonly #listCap: number;

  #state: Pop3State = 'connected';
  #clientMode: ClientMode;
  #serverMode: ServerMode = 'status';
  #greeted = false;
  readonly #midstream: MidstreamNotes;
  readonly #framerAnomalies: FramerAnomalies;
  readonly #unparsed: UnparsedRuns;
  #unknownReported = false;
  #overflowReported = false;
  /** Commands may have been lost (client gap, mid-stream start): unmatched replies are expected. */
  #uncertain: boolean;

  #pending: Pending[] = [];
  #listing: Listing | null = null;
  #body: Body | null = null;
  #auth: AuthAttempt | null = null;
  /** Argument of the last USER sent. */
  #user: string | null = null;
  #stlsPending = false;
  #commands = 0;
  #replies = 0;
  #closed = false;
  #encrypted = { client: 0, server: 0 };
  /**
   * STLS accepted: wire bytes (onData/onGap) are TLS records handed to the context; plaintext comes
   * back through onDecrypted and is parsed by the framers as a fresh phase.
   */
  #tls = false;

  /** LIST sizes and UIDL ids by message number (bounded by #listCap entries). */
  readonly #sizes = new Map<number, number>();
  readonly #uidls = new Map<number, string>();
  /** Messages marked deleted (RFC 1939 §5 DELE), in order. */
  readonly #marked = new Map<number, Pop3DeletionFact>();
  #quitPending = false;

  readonly #facts: Pop3SessionFacts = {
    greeting: null,
    greeting_ok: null,
    apop_timestamp: null,
    capabilities: [],
    implementation: null,
    sasl_mechanisms: [],
    stls: { offered: false, requested: false, accepted: false, frame: null },
    encrypted_from_frame: null,
    auth: [],
    user: null,
    final_state: 'connected',
    stat: null,
    listing: [],
    retrieved: [],
    deleted: [],
    deletion: 'none',
    deleted_pending: [],
    unknown_commands: [],
    quit: false,
  };

  constructor(ctx: AnalyzerContext) {
    this.#ctx = ctx;
    this.#framerAnomalies = new FramerAnomalies(ctx, 'pop3_bare_lf');
    this.#unparsed = new UnparsedRuns(ctx);
    this.#midstream = new MidstreamNotes(ctx, this.#unparsed, 'pop3_midstream');
    const max = ctx.limits.maxLineBytes;
    this.#listCap = ctx.limits.maxTranscriptEntriesPerSession;
    this.#clientFramer = new LineFramer(
      {
        onLine: (line, first, last) => this.#clientLine(line, first, last),
        onBytes: () => undefined,
        onBytesEnd: () => undefined,
        onAnomaly: (code, detail, at) => this.#framerAnomalies.report(code, detail, at),
      },
      max,
    );
    this.#serverFramer = new LineFramer(
      {
        onLine: (line, first, last) => this.#serverLine(line, first, last),
        onBytes: () => undefined,
        onBytesEnd: () => undefined,
        onAnomaly: (code, detail, at) => this.#framerAnomalies.report(code, detail, at),
      },
      max,
    );
    this.#unstuffer = new DotUnstuffer({
      onBody: (bytes, at) => {
        const b = this.#body;
        if (b === null) return;
        b.size += bytes.length;
        b.sink.write(bytes, at);
      },
      onAnomaly: (_code, detail, at) => this.#ctx.anomaly('pop3_body_bare_lf_dot', detail, at),
    });
    const midstream = !ctx.conn.sawHandshake;
    this.#clientMode = midstream ? 'sync' : 'command';
    this.#uncertain = midstream;
    if (midstream) this.#state = 'after_gap';
  }

  // #region input

  onData(side: Side, bytes: Uint8Array, at: At): void {
    if (this.#closed || bytes.length === 0) return;
    if (side === 'client') this.#clientData(bytes, at, true);
    else this.#serverData(bytes, at, true);
  }

  /**
   * Plaintext of the TLS session started by STLS. RFC 2595 §4: no new greeting; the client
   * continues in the AUTHORIZATION state (usually CAPA, then USER/PASS or AUTH). Facts gathered
   * before TLS are kept.
   */
  onDecrypted(side: Side, bytes: Uint8Array, at: At): void {
    if (this.#closed || bytes.length === 0 || !this.#tls) return;
    if (this.#state === 'tls') this.#step({ kind: 'tls-restart' }, at);
    if (side === 'client') this.#clientData(bytes, at, false);
    else this.#serverData(bytes, at, false);
  }

  /** `wire`: bytes from onData (encrypted once STLS was accepted), not decrypted plaintext. */
  #clientData(bytes: Uint8Array, at: At, wire: boolean): void {
    if (wire && this.#tls) {
      this.#encrypted.client += bytes.length;
      this.#ctx.encryptedData('client', bytes, at);
      return;
    }
    this.#clientFramer.push(bytes, at);
  }

  #serverData(bytes: Uint8Array, at: At, wire: boolean): void {
    let off = 0;
    const len = bytes.length;
    while (off < len) {
      if (wire && this.#tls) {
        // Everything after the STLS "+OK" line, in this chunk too, is TLS (RFC 2595 §4).
        if (this.#encrypted.server === 0 && this.#encrypted.client === 0) {
          // The server's TLS handshake only answers the client's ClientHello.
          this.#ctx.anomaly('pop3_stls_injection', 'server bytes after the STLS +OK before any client TLS bytes', at);
        }
        this.#encrypted.server += len - off;
        this.#ctx.encryptedData('server', off === 0 ? bytes : bytes.subarray(off), at);
        return;
      }
      switch (this.#serverMode) {
        case 'body': {
          const chunk = off === 0 ? bytes : bytes.subarray(off);
          off += this.#unstuffer.push(chunk, at);
          if (this.#unstuffer.done) this.#bodyEnd(true, at);
          break;
        }
        default:
          off += this.#serverFramer.push(off === 0 ? bytes : bytes.subarray(off), at);
      }
    }
  }

  onGap(side: Side, length: number, at: At): void {
    if (this.#closed || length <= 0) return;
    this.#ctx.transcript({ side, kind: 'gap', lines: [], bytes: length }, at, at);
    if (this.#tls) {
      // Wire gaps after STLS are holes in the TLS stream: the TLS layer resynchronises or gives up.
      this.#encrypted[side] += length;
      this.#ctx.encryptedGap(side, length, at);
      return;
    }
    if (side === 'client') {
      this.#unparsed.flush('client');
      this.#clientFramer.reset();
      this.#clientMode = 'sync';
      // Lost commands: the replies to come cannot be matched reliably.
      this.#uncertain = true;
      this.#dropPending(at);
      this.#step({ kind: 'gap' }, at);
      return;
    }
    this.#unparsed.flush('server');
    if (this.#serverMode === 'body' && this.#body !== null) {
      // Inside a message: the hole goes into it; keep looking for CRLF.CRLF (as SMTP DATA).
      this.#body.missing += length;
      this.#body.sink.gap(length, at);
      this.#unstuffer.gap(length);
      return;
    }
    this.#serverFramer.reset();
    if (this.#serverMode === 'listing' && this.#listing !== null) {
      this.#listing.gap = true;
      return;
    }
    // Lost status lines: the queue no longer pairs with what comes.
    this.#uncertain = true;
    this.#dropPending(at);
    this.#step({ kind: 'gap' }, at);
  }

  onSideEnd(_side: Side, _reason: 'fin' | 'rst', _at: At): void {
    // Nothing to do per side: onClose finishes what is open.
  }

  onClose(_reason: CloseReason, at: At): void {
    if (this.#closed) return;
    if (this.#body !== null) {
      this.#ctx.anomaly('pop3_response_incomplete', `${this.#body.p.verb} body not terminated`, at);
      this.#bodyEnd(false, at);
    }
    if (this.#listing !== null) {
      this.#ctx.anomaly('pop3_response_incomplete', `${this.#listing.p.verb} listing not terminated`, at);
      this.#endListing(at);
    }
    this.#unparsed.flush('client');
    this.#unparsed.flush('server');
    this.#dropPending(at);
    // RFC 1939 §6: without QUIT the session never reaches UPDATE; marked messages stay.
    if (this.#marked.size > 0 && this.#facts.deletion !== 'committed' && this.#facts.deletion !== 'unknown' && this.#facts.deletion !== 'failed') {
      for (const d of this.#marked.values()) {
        this.#event({ event: 'delete-undone', msg_number: d.msg_number, uidl: d.uidl, outcome: 'unknown' }, at, at);
      }
      this.#facts.deletion = 'undone';
    }
    if (this.#encrypted.client > 0 || this.#encrypted.server > 0 || this.#facts.stls.accepted) {
      this.#facts.encrypted_bytes = { client: this.#encrypted.client, server: this.#encrypted.server };
    }
    this.#closed = true;
  }

  summary(): { commands: number; replies: number; facts: SessionFacts; transport: 'cleartext' | 'starttls' | 'tls' } {
    const f = this.#facts;
    f.final_state = this.#state;
    f.deleted_pending = [...this.#marked.keys()];
    const nums = new Set<number>([...this.#sizes.keys(), ...this.#uidls.keys()]);
    f.listing = [...nums]
      .sort((a, b) => a - b)
      .map((n) => ({ msg_number: n, size: this.#sizes.get(n) ?? null, uidl: this.#uidls.get(n) ?? null }));
    return {
      commands: this.#commands,
      replies: this.#replies,
      facts: { pop3: f },
      transport: f.stls.accepted ? 'starttls' : 'cleartext',
    };
  }

  // #endregion

  // #region client lines

  #clientLine(bytes: Uint8Array, first: At, last: At): void {
    if (this.#stlsPending) {
      // RFC 2595 §4: nothing may follow STLS before the reply; the client's TLS bytes come after
      // "+OK". Reported per line (at its first byte), so any chunking gives the same frame.
      this.#ctx.anomaly('pop3_stls_injection', 'client line after STLS before the server reply', first);
      this.#stlsPending = false;
    }
    const line = latin1(bytes);
    const auth = this.#auth;
    // RFC 5034 §4: after a "+ " challenge the next client line is the SASL response. A line sent
    // before the challenge arrived (client did not wait) is one too when it is no command verb.
    if (auth !== null && (auth.awaiting > 0 || !isPop3Verb(splitCommand(line).verb))) {
      if (auth.awaiting > 0) auth.awaiting--;
      this.#unparsed.flush('client');
      this.#clientMode = 'command';
      this.#ctx.transcript({ side: 'client', kind: 'auth', lines: [line] }, first, last);
      if (line === '*') auth.cancelled = true;
      else this.#sasl(auth, (x) => x.clientResponse(line), last);
      return;
    }
    if (this.#clientMode === 'sync') {
      const { verb, argument } = splitCommand(line);
      if (!looksLikeCommand(verb, argument)) {
        this.#midstream.unparsedLine('client', line, bytes.length, first, last, 'client bytes before the first command line');
        return;
      }
      this.#unparsed.flush('client');
      this.#clientMode = 'command';
    }
    this.#command(line, first, last);
  }

  #command(line: string, first: At, last: At): void {
    const { verb, argument } = splitCommand(line);
    this.#commands++;
    this.#ctx.transcript({ side: 'client', kind: 'command', command: verb, argument, lines: [line] }, first, last);
    if (!this.#greeted && this.#ctx.conn.sawHandshake && this.#pending.length === 0) {
      this.#ctx.anomaly('pop3_command_before_greeting', verb, first);
    }
    this.#step({ kind: 'command', verb }, first);
    const p: Pending = { verb, argument, first, msg: null, topLines: null, user: null };
    switch (verb) {
      case 'RETR':
      case 'DELE':
        p.msg = parseMsgNumber(argument);
        if (p.msg === null) this.#ctx.anomaly('pop3_bad_argument', line.slice(0, 80), first);
        break;
      case 'TOP': {
        const t = parseTopArgs(argument);
        p.msg = t.msg;
        p.topLines = t.lines;
        if (t.msg === null || t.lines === null) this.#ctx.anomaly('pop3_bad_argument', line.slice(0, 80), first);
        break;
      }
      case 'LIST':
      case 'UIDL':
        if (argument.trim() !== '') {
          p.msg = parseMsgNumber(argument);
          if (p.msg === null) this.#ctx.anomaly('pop3_bad_argument', line.slice(0, 80), first);
        }
        break;
      case 'USER':
        // Pipelined USER/PASS: PASS goes with the last USER sent, whatever its reply will be.
        this.#user = argument;
        break;
      case 'PASS':
        p.user = this.#user;
        break;
      case 'AUTH': {
        const a = parseAuth(argument);
        if (a.mechanism !== '') {
          if (this.#auth !== null) this.#finishAuth(null, first);
          let exchange: SaslExchange | null = null;
          try {
            exchange = new SaslExchange(a.mechanism, a.initial);
          } catch (e) {
            this.#ctx.anomaly('pop3_sasl_error', String(e).slice(0, 200), first);
          }
          this.#auth = { exchange, mechanism: a.mechanism, first, awaiting: 0, cancelled: false };
        }
        break;
      }
      case 'STLS':
        this.#facts.stls.requested = true;
        this.#stlsPending = true;
        break;
      case 'QUIT':
        this.#facts.quit = true;
        this.#quitPending = true;
        break;
      default:
        if (!isPop3Verb(verb)) {
          if (this.#facts.unknown_commands.length < this.#listCap) {
            this.#facts.unknown_commands.push(line.slice(0, UNKNOWN_COMMAND_KEEP_CHARS));
          }
          if (!this.#unknownReported) {
            this.#unknownReported = true;
            this.#ctx.anomaly('pop3_unknown_command', verb.slice(0, 80), first);
          }
        }
        break;
    }
    if (this.#pending.length >= this.#ctx.limits.maxPendingCommands) {
      if (!this.#overflowReported) {
        this.#overflowReported = true;
        this.#ctx.anomaly('pop3_pipeline_overflow', `more than ${this.#ctx.limits.maxPendingCommands} commands waiting`, first);
      }
      const dropped = this.#pending.shift();
      if (dropped !== undefined) this.#abandon(dropped, first);
    }
    this.#pending.push(p);
  }

  // #endregion

  // #region server lines

  #serverLine(bytes: Uint8Array, first: At, last: At): void {
    const line = latin1(bytes);
    if (this.#serverMode === 'listing' && this.#listing !== null) {
      if (this.#listingLine(this.#listing, line, first, last)) return;
    }
    const kind = statusOf(line);
    const head = this.#pending.length > 0 ? this.#pending[0] : null;
    if (kind === 'continue') {
      if (head !== null && head.verb === 'AUTH' && this.#auth !== null) {
        this.#unparsed.flush('server');
        const auth = this.#auth;
        auth.awaiting++;
        this.#ctx.transcript({ side: 'server', kind: 'auth', lines: [line] }, first, last);
        const text = continuationText(line);
        this.#sasl(auth, (x) => x.serverChallenge(text), last);
        return;
      }
      this.#badServerLine(bytes, line, first, last);
      return;
    }
    if (kind === 'none') {
      this.#badServerLine(bytes, line, first, last);
      return;
    }
    this.#unparsed.flush('server');
    const ok = kind === 'ok';
    const text = statusText(line);
    if (!this.#greeted) {
      this.#greeted = true;
      // RFC 1939 §4: the server greets first; mid-stream the first status line may be any reply.
      if (head === null || (this.#ctx.conn.sawHandshake && !answersCommand(head.verb, text))) {
        this.#greeting(ok, line, text, first, last);
        return;
      }
      this.#midstream.note('first server status line is not a greeting', first);
    }
    this.#replies++;
    if (head === null) {
      if (!this.#uncertain) this.#ctx.anomaly('pop3_unmatched_reply', line.slice(0, 80), first);
      this.#ctx.transcript({ side: 'server', kind: 'reply', status: ok ? '+OK' : '-ERR', lines: [line] }, first, last);
      return;
    }
    this.#pending.shift();
    if (ok && isMultiLine(head.verb, head.argument)) {
      if (head.verb === 'RETR' || head.verb === 'TOP') {
        this.#ctx.transcript({ side: 'server', kind: 'reply', command: head.verb, status: '+OK', lines: [line] }, first, last);
        this.#startBody(head, text, last);
        return;
      }
      this.#listing = { p: head, lines: [line], dropped: 0, first, gap: false, capabilities: [], mechanisms: [] };
      this.#serverMode = 'listing';
      return;
    }
    this.#ctx.transcript({ side: 'server', kind: 'reply', command: head.verb, status: ok ? '+OK' : '-ERR', lines: [line] }, first, last);
    this.#finish(head, ok, line, text, first, last);
  }

  #greeting(ok: boolean, line: string, text: string, first: At, last: At): void {
    this.#replies++;
    this.#ctx.transcript({ side: 'server', kind: 'reply', status: ok ? '+OK' : '-ERR', lines: [line] }, first, last);
    this.#facts.greeting = text;
    this.#facts.greeting_ok = ok;
    this.#facts.apop_timestamp = apopTimestamp(text);
    if (!ok) this.#ctx.anomaly('pop3_greeting_refused', text.slice(0, 80), first);
    this.#step({ kind: 'greeting', ok }, last);
  }

  #badServerLine(bytes: Uint8Array, line: string, first: At, last: At): void {
    if (!this.#unparsed.open('server') && !this.#uncertain) {
      this.#ctx.anomaly('pop3_bad_reply_line', line.slice(0, 80), first);
    }
    this.#unparsed.add('server', bytes.length + 2, line, first, last);
  }

  /**
   * One line of a LIST/UIDL/CAPA/AUTH listing. Returns false when the line is a status line that
   * ended the listing early (the caller then handles it as a status line).
   */
  #listingLine(l: Listing, line: string, first: At, last: At): boolean {
    if (line === '.') {
      // RFC 1939 §3: a line of a single "." ends the multi-line response.
      this.#endListing(last);
      return true;
    }
    const st = statusOf(line);
    if (st === 'ok' || st === 'err') {
      // Listing lines never start with "+" or "-": the server ended it without ".".
      this.#ctx.anomaly('pop3_response_incomplete', `${l.p.verb} listing ended by a status line`, first);
      this.#endListing(first);
      return false;
    }
    // RFC 1939 §3: a line starting with "." is byte-stuffed; the first "." is removed.
    const content = line.charCodeAt(0) === 0x2e ? line.slice(1) : line;
    if (l.lines.length < this.#ctx.limits.maxReplyLines) {
      l.lines.push(line);
    } else {
      if (l.dropped === 0) this.#ctx.anomaly('reply_too_many_lines', `${l.p.verb} over ${this.#ctx.limits.maxReplyLines} lines`, first);
      l.dropped++;
    }
    switch (l.p.verb) {
      case 'LIST':
      case 'UIDL': {
        // RFC 1939 §5 scan listing "msg size"; §7 unique-id listing "msg uid".
        const e = parseListingLine(content);
        if (e === null) {
          this.#ctx.anomaly('pop3_listing_bad_line', content.slice(0, 80), first);
          break;
        }
        this.#remember(l.p.verb, e.msg, e.rest);
        break;
      }
      case 'CAPA':
        if (l.capabilities.length < this.#listCap) l.capabilities.push(content.slice(0, CAPABILITY_KEEP_CHARS));
        break;
      case 'AUTH':
        if (l.mechanisms.length < this.#listCap) l.mechanisms.push(content.trim().toUpperCase());
        break;
      default:
        break;
    }
    return true;
  }

  #endListing(last: At): void {
    const l = this.#listing;
    if (l === null) return;
    this.#listing = null;
    this.#serverMode = 'status';
    if (l.gap) this.#ctx.anomaly('pop3_response_incomplete', `gap inside the ${l.p.verb} listing`, last);
    this.#ctx.transcript({ side: 'server', kind: 'reply', command: l.p.verb, status: '+OK', lines: l.lines }, l.first, last);
    if (l.p.verb === 'CAPA') {
      // RFC 2449 §6: capability names are case-insensitive; STLS (RFC 2595 §4), SASL (§6.3), IMPLEMENTATION (§6.9).
      const f = this.#facts;
      f.capabilities = l.capabilities;
      for (const c of l.capabilities) {
        const sp = c.indexOf(' ');
        const name = (sp < 0 ? c : c.slice(0, sp)).toUpperCase();
        const arg = sp < 0 ? '' : c.slice(sp + 1).trim();
        if (name === 'STLS') f.stls.offered = true;
        else if (name === 'SASL') f.sasl_mechanisms = arg === '' ? [] : arg.toUpperCase().split(/[ \t]+/);
        else if (name === 'IMPLEMENTATION') f.implementation = arg;
      }
    } else if (l.p.verb === 'AUTH') {
      this.#facts.sasl_mechanisms = l.mechanisms.filter((m) => m !== '');
    }
    this.#finish(l.p, true, l.lines[0], statusText(l.lines[0]), l.first, last);
  }

  #remember(verb: string, msg: number, value: string): void {
    if (verb === 'LIST') {
      const size = /^[0-9]{1,15}$/.test(value) ? Number(value) : null;
      if (size === null) return;
      if (this.#sizes.has(msg) || this.#sizes.size < this.#listCap) this.#sizes.set(msg, size);
    } else if (this.#uidls.has(msg) || this.#uidls.size < this.#listCap) {
      // RFC 1939 §7: unique-id is 1 to 70 characters 0x21-0x7E.
      this.#uidls.set(msg, value.slice(0, 70));
    }
  }

  // #endregion

  // #region replies

  /** A final status line (or the end of a listing) answered `p`. */
  #finish(p: Pending, ok: boolean, line: string, text: string, first: At, last: At): void {
    const wasState = this.#state;
    // A bare AUTH only lists mechanisms: it logs nobody in.
    const evVerb = p.verb === 'AUTH' && p.argument.trim() === '' ? 'AUTH-LIST' : p.verb;
    this.#step({ kind: 'reply', verb: evVerb, ok }, last);
    switch (p.verb) {
      case 'USER':
        // RFC 1939 §7: "-ERR never heard of mailbox name": an attempt that failed at the name.
        if (!ok) this.#credential('USER/PASS', p.argument, null, null, {}, 'failure', line, p.first, last);
        break;
      case 'PASS':
        this.#credential('USER/PASS', p.user, p.argument, null, {}, ok ? 'success' : 'failure', line, p.first, last);
        if (ok) this.#facts.user = p.user;
        break;
      case 'APOP':
        this.#apop(p, ok ? 'success' : 'failure', line, last);
        break;
      case 'AUTH':
        if (this.#auth !== null) this.#finishAuth({ ok, line }, last);
        break;
      case 'STLS':
        this.#stlsPending = false;
        if (ok) this.#startTls(first, last);
        break;
      case 'STAT': {
        const s = ok ? parseStat(text) : null;
        if (s !== null) this.#facts.stat = { count: s.count, size: s.size, frame: last.frame };
        this.#event({ event: 'stat', count: s?.count ?? null, size: s?.size ?? null, outcome: ok ? 'ok' : 'err' }, p.first, last);
        break;
      }
      case 'LIST':
      case 'UIDL':
        if (ok && p.msg !== null) {
          // RFC 1939 §5: "+OK msg size" / §7 "+OK msg uid" for the one-message form.
          const e = parseListingLine(text);
          if (e !== null) this.#remember(p.verb, e.msg, e.rest);
        }
        break;
      case 'RETR':
      case 'TOP':
        // Only -ERR gets here (+OK starts a body).
        this.#retrievalFact(p, null, 'err', last);
        this.#event(
          { event: p.verb === 'RETR' ? 'retrieve' : 'top', msg_number: p.msg, uidl: this.#uidlOf(p.msg), message_id: null, outcome: 'err' },
          p.first,
          last,
        );
        break;
      case 'DELE': {
        const d: Pop3DeletionFact = { msg_number: p.msg, uidl: this.#uidlOf(p.msg), outcome: ok ? 'ok' : 'err', frame: p.first.frame };
        if (this.#facts.deleted.length < this.#listCap) this.#facts.deleted.push(d);
        if (ok && p.msg !== null && (this.#marked.has(p.msg) || this.#marked.size < this.#listCap)) this.#marked.set(p.msg, d);
        this.#event({ event: 'delete-mark', msg_number: p.msg, uidl: d.uidl, outcome: d.outcome }, p.first, last);
        break;
      }
      case 'RSET':
        // RFC 1939 §5: RSET unmarks every message marked deleted.
        if (ok && this.#marked.size > 0) {
          for (const d of this.#marked.values()) {
            this.#event({ event: 'delete-undone', msg_number: d.msg_number, uidl: d.uidl, outcome: 'ok' }, p.first, last);
          }
          this.#marked.clear();
          this.#facts.deletion = 'undone';
        }
        break;
      case 'QUIT':
        this.#quitPending = false;
        // RFC 1939 §6: QUIT in TRANSACTION enters UPDATE and removes the marked messages;
        // "-ERR some deleted messages not removed" reports a failure.
        if (this.#marked.size > 0 && wasState !== 'authorization') {
          for (const d of this.#marked.values()) {
            this.#event({ event: 'delete-commit', msg_number: d.msg_number, uidl: d.uidl, outcome: ok ? 'ok' : 'err' }, p.first, last);
          }
          this.#facts.deletion = ok ? 'committed' : 'failed';
        }
        break;
      default:
        break;
    }
  }

  /** A command that will get no reply (gap, overflow, end of session). */
  #abandon(p: Pending, at: At): void {
    switch (p.verb) {
      case 'PASS':
        this.#credential('USER/PASS', p.user, p.argument, null, {}, 'unknown', null, p.first, at);
        break;
      case 'APOP':
        this.#apop(p, 'unknown', null, at);
        break;
      case 'AUTH':
        if (this.#auth !== null) this.#finishAuth(null, at);
        break;
      case 'QUIT':
        this.#quitPending = false;
        if (this.#marked.size > 0) {
          // QUIT sent, reply not seen: the server most likely entered UPDATE, but it is not proven.
          for (const d of this.#marked.values()) {
            this.#event({ event: 'delete-commit', msg_number: d.msg_number, uidl: d.uidl, outcome: 'unknown' }, p.first, at);
          }
          this.#facts.deletion = 'unknown';
        }
        break;
      case 'RETR':
      case 'TOP':
        this.#retrievalFact(p, null, 'unknown', at);
        break;
      case 'DELE':
        if (this.#facts.deleted.length < this.#listCap) {
          this.#facts.deleted.push({ msg_number: p.msg, uidl: this.#uidlOf(p.msg), outcome: 'unknown', frame: p.first.frame });
        }
        break;
      default:
        break;
    }
  }

  #dropPending(at: At): void {
    const pending = this.#pending;
    this.#pending = [];
    for (const p of pending) this.#abandon(p, at);
    if (this.#auth !== null) this.#finishAuth(null, at);
  }

  #startTls(first: At, last: At): void {
    if (this.#tls) {
      // A second STLS inside TLS: nested TLS cannot be followed; keep parsing what we have.
      this.#ctx.anomaly('pop3_stls_injection', 'STLS accepted again inside TLS', last);
      return;
    }
    const f = this.#facts;
    f.stls.accepted = true;
    f.stls.frame = last.frame;
    f.encrypted_from_frame = last.frame;
    this.#ctx.transcript({ side: 'server', kind: 'tls', lines: [] }, first, last);
    this.#ctx.markEncrypted(last);
    if (this.#clientFramer.hasPartialLine) this.#ctx.anomaly('pop3_stls_injection', 'client bytes after STLS before the server reply', last);
    this.#tls = true;
    // The rest of this server chunk is TLS: stop the framer; both framers start clean for the
    // decrypted phase (RFC 2595 §4: a fresh start, no greeting).
    this.#serverFramer.pause();
    this.#serverMode = 'status';
    this.#clientMode = 'command';
    this.#clientFramer.reset();
    // Commands pipelined after STLS were sent in cleartext and will be answered (if at all) encrypted.
    const rest = this.#pending;
    this.#pending = [];
    for (const p of rest) this.#abandon(p, last);
  }

  // #endregion

  // #region messages

  #startBody(p: Pending, text: string, at: At): void {
    const transport = p.verb === 'TOP' ? 'pop3-top' : 'pop3-retr';
    const sink = this.#ctx.openMessage({ transport, envelope: null, at });
    this.#body = { p, sink, first: at, size: 0, missing: 0, octets: parseOctets(text), fact: null };
    this.#unstuffer.begin();
    this.#serverMode = 'body';
    this.#serverFramer.pause();
  }

  /** The body ended: terminator seen (`terminated`) or the session ended inside it. */
  #bodyEnd(terminated: boolean, at: At): void {
    const b = this.#body;
    if (b === null) return;
    this.#body = null;
    this.#serverMode = 'status';
    const p = b.p;
    this.#ctx.transcript({ side: 'server', kind: 'data', command: p.verb, lines: [], bytes: this.#unstuffer.wireBytes }, b.first, at);
    const listSize = p.msg === null ? null : (this.#sizes.get(p.msg) ?? null);
    const intact = terminated && b.missing === 0;
    if (p.verb === 'RETR' && intact) {
      // RFC 1939 §5 "+OK 120 octets": the announced size should be the size received.
      const expected = b.octets ?? listSize;
      if (expected !== null && expected !== b.size) {
        this.#ctx.anomaly('pop3_octets_mismatch', `RETR ${p.msg ?? '?'}: ${b.octets !== null ? 'announced' : 'listed'} ${expected}, received ${b.size}`, at);
      }
    }
    // TOP is an excerpt (the header and the first lines) unless the LIST size proves the whole
    // message came; only a cut transfer is an incomplete one.
    const wholeByRequest = p.verb === 'RETR' || (listSize !== null && listSize === b.size);
    b.sink.endBytes(intact, at, wholeByRequest ? undefined : 'head');
    const uidl = this.#uidlOf(p.msg);
    const delivery: Delivery = {
      command: p.verb,
      msg_number: p.msg,
      uidl,
      octets_announced: b.octets,
      list_size: listSize,
      terminated,
    };
    if (p.verb === 'TOP') {
      delivery.top_lines = p.topLines;
      delivery.top_whole = intact && wholeByRequest;
    }
    b.sink.close(delivery, at);
    this.#retrievalFact(p, b, 'ok', at);
    this.#event(
      { event: p.verb === 'RETR' ? 'retrieve' : 'top', msg_number: p.msg, uidl, size: b.size, message_id: b.sink.id, outcome: 'ok' },
      p.first,
      at,
    );
  }

  #retrievalFact(p: Pending, b: Body | null, outcome: Pop3RetrievalFact['outcome'], _at: At): void {
    if (this.#facts.retrieved.length >= this.#listCap) return;
    this.#facts.retrieved.push({
      command: p.verb === 'TOP' ? 'TOP' : 'RETR',
      msg_number: p.msg,
      uidl: this.#uidlOf(p.msg),
      top_lines: p.verb === 'TOP' ? p.topLines : null,
      octets_announced: b?.octets ?? null,
      list_size: p.msg === null ? null : (this.#sizes.get(p.msg) ?? null),
      size: b?.size ?? null,
      message_id: b?.sink.id ?? null,
      outcome,
      frame: p.first.frame,
    });
  }

  #uidlOf(msg: number | null): string | null {
    return msg === null ? null : (this.#uidls.get(msg) ?? null);
  }

  // #endregion

  // #region auth

  #apop(p: Pending, outcome: 'success' | 'failure' | 'unknown', reply: string | null, at: At): void {
    // RFC 1939 §7: digest = MD5(timestamp + secret) -> hashcat mode 20 md5($salt.$pass).
    const { user, digest } = parseApop(p.argument);
    const ts = this.#facts.apop_timestamp;
    if (ts === null) this.#ctx.anomaly('pop3_apop_without_timestamp', user.slice(0, 80), p.first);
    const hashcat = ts === null ? null : apopHashcat(ts, user, digest);
    const detail: Record<string, string> = { digest };
    if (ts !== null) detail.timestamp = ts;
    this.#credential('APOP', user, null, hashcat, detail, outcome, reply, p.first, at);
    if (outcome === 'success') this.#facts.user = user;
  }

  #sasl(auth: AuthAttempt, f: (x: SaslExchange) => void, at: At): void {
    saslStep(this.#ctx, auth, f, 'pop3_sasl_error', at);
  }

  /** Ends the AUTH attempt: "+OK" = success (RFC 5034 §4), "-ERR" = failure, null = unknown. */
  #finishAuth(reply: { ok: boolean; line: string } | null, at: At): void {
    const auth = this.#auth;
    if (auth === null) return;
    this.#auth = null;
    const outcome: 'success' | 'failure' | 'unknown' = reply === null ? 'unknown' : reply.ok ? 'success' : 'failure';
    const { mechanism, username } = saslCredential(
      this.#ctx,
      auth,
      { outcome, reply: reply === null ? null : reply.line, last: at },
      { command: 'AUTH', errorCode: 'pop3_sasl_error' },
      at,
    );
    if (this.#facts.auth.length < this.#listCap) this.#facts.auth.push({ mechanism, username, outcome, frame: auth.first.frame });
    if (outcome === 'success') this.#facts.user = username;
  }

  #credential(
    mechanism: string,
    username: string | null,
    secret: string | null,
    hashcat: { mode: number; line: string } | null,
    detail: Record<string, string>,
    outcome: 'success' | 'failure' | 'unknown',
    reply: string | null,
    first: At,
    last: At,
  ): void {
    this.#ctx.credential({ mechanism, username, authzid: null, secret, hashcat, detail, outcome, reply }, first, last);
    if (this.#facts.auth.length < this.#listCap) this.#facts.auth.push({ mechanism, username, outcome, frame: first.frame });
  }

  // #endregion

  // #region helpers

  #event(rec: Record<string, unknown>, first: At, last: At): void {
    this.#ctx.extraRecord('mailbox_events', rec, first, last);
  }

  #step(ev: Pop3Event, at: At): void {
    const s = pop3Transition(this.#state, ev);
    if (s.anomaly !== null && !(s.anomaly === 'pop3_command_wrong_state' && (this.#uncertain || this.#stateMayChange()))) {
      this.#ctx.anomaly(s.anomaly, ev.kind === 'command' ? ev.verb : undefined, at);
    }
    this.#state = s.state;
  }

  /** A pipelined command still waiting for its reply may change the state (RFC 2449 §6.6). */
  #stateMayChange(): boolean {
    for (const p of this.#pending) {
      if (p.verb === 'PASS' || p.verb === 'APOP' || p.verb === 'AUTH' || p.verb === 'QUIT' || p.verb === 'STLS') return true;
    }
    return false;
  }


  // #endregion
}

/**
 * Client spoke first and no greeting came: a first status line whose text plainly answers the
 * waiting command (RFC 2449 "Capability list follows", a STAT/LIST count, "Logged in") is that
 * reply, not a greeting.
 */
function answersCommand(verb: string, text: string): boolean {
  switch (verb) {
    case 'CAPA':
      return /capabilit/i.test(text);
    case 'STAT':
      return /^\s*[0-9]+ [0-9]+\s*$/.test(text);
    case 'LIST':
    case 'RETR':
    case 'TOP':
      return /octets|messages|follows/i.test(text);
    case 'PASS':
    case 'APOP':
      return /logged|maildrop|mailbox|locked|welcome/i.test(text);
    default:
      return false;
  }
}

/**
 * While resynchronising (mid-stream start, after a gap), only lines that look like real commands
 * end the unparsed run: a known verb with the argument shape RFC 1939 gives it.
 */
function looksLikeCommand(verb: string, argument: string): boolean {
  if (!isPop3Verb(verb)) return false;
  const arg = argument.trim();
  switch (verb) {
    case 'STAT':
    case 'NOOP':
    case 'RSET':
    case 'QUIT':
    case 'CAPA':
    case 'STLS':
      return arg === '';
    case 'RETR':
    case 'DELE':
      return /^[0-9]+$/.test(arg);
    case 'LIST':
    case 'UIDL':
      return /^[0-9]*$/.test(arg);
    case 'TOP':
      return /^[0-9]+ +[0-9]+$/.test(arg);
    default:
      return arg.length < 512;
  }
}
