import type { At, Side } from '../../core/types.js';
import type { SmtpRcptRecord, SmtpSessionFacts, SmtpTransactionRecord } from '../../core/records.js';
import type { CloseReason } from '../../reassembly/stream-handler.js';
import type { AnalyzerContext, MessageSink, ProtocolAnalyzer, SessionFacts } from '../analyzer.js';
import { LineFramer } from '../line-framer.js';
import type { LineFramerAnomaly } from '../line-framer.js';
import { SaslExchange } from '../sasl/sasl-exchange.js';
import { DotUnstuffer } from './dot-unstuffer.js';
import {
  isSmtpVerb,
  parseAuth,
  parseBdat,
  parseEsmtpParams,
  parseMailFrom,
  parseQueueId,
  parseRcptTo,
  parseReplyLine,
  splitCommand,
} from './smtp-commands.js';
import type { PathArgument } from './smtp-commands.js';
import { smtpTransition } from './smtp-states.js';
import type { SmtpEvent, SmtpState } from './smtp-states.js';

/** Pseudo-verb queued for the extra LMTP replies after DATA (RFC 2033 §4.2). */
const LMTP_MORE = 'DATA(LMTP)';
/** Longest unknown-command line kept in facts.unknown_commands (characters). */
const UNKNOWN_COMMAND_KEEP_CHARS = 256;
/** Longest sample line kept in an 'unparsed' transcript entry (characters). */
const UNPARSED_SAMPLE_CHARS = 200;

function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

/** A complete server reply (multi-line joined). */
interface Reply {
  code: number;
  /** Lines as seen (no EOL). */
  lines: string[];
  /** Text after the code of every line, joined with "\n". */
  text: string;
  first: At;
  last: At;
}

/** Reply being assembled from `NNN-` lines. */
interface ReplyBuilder {
  code: number;
  lines: string[];
  texts: string[];
  dropped: number;
  mismatch: boolean;
  first: At;
}

/** One open mail transaction and its message. */
interface Tx {
  rec: SmtpTransactionRecord;
  sink: MessageSink | null;
  transport: 'smtp-data' | 'smtp-bdat';
  /** endBytes was called. */
  bytesEnded: boolean;
  /** The transaction is finished (record final, sink closed). */
  done: boolean;
  /** RCPTs past maxRecipients (counted, not kept). */
  extraRcpts: number;
  /** A final reply that arrived before the body ended (DATA refused after the client sent the body). */
  earlyFinal: Reply | null;
  /** The reply to the end of data can no longer be matched (server gap cleared the queue). */
  finalLost: boolean;
  bdatFailed: boolean;
  /** BODY= parameter of MAIL (7BIT, 8BITMIME, BINARYMIME). */
  bodyType: string | null;
}

/** A command waiting for its reply (RFC 2920 pipelining queue). */
interface Pending {
  verb: string;
  first: At;
  tx: Tx | null;
  rcpt: SmtpRcptRecord | null;
  probe: { argument: string; reply_code: number | null } | null;
  bdatLast: boolean;
  /** DATA: 354 seen. */
  got354: boolean;
  /** LMTP (RFC 2033 §4.2): one final reply per accepted recipient after DATA. */
  lmtpLeft: number;
}

/** An AUTH exchange in progress. */
interface AuthAttempt {
  exchange: SaslExchange | null;
  mechanism: string;
  first: At;
  /** 334 challenges not yet answered by a client line. */
  awaiting: number;
  cancelled: boolean;
}

/** Bytes that did not parse, summarised into one 'unparsed' entry. */
interface Unparsed {
  bytes: number;
  sample: string;
  first: At;
  last: At;
}

/** How each side's bytes are consumed. */
type ClientMode = 'command' | 'body' | 'sync' | 'encrypted';
type ServerMode = 'reply' | 'sync' | 'encrypted';

function replyOk(code: number): boolean {
  return code >= 200 && code < 300;
}

/**
 * SMTP / ESMTP / LMTP analyzer for one connection (RFC 5321, 1869, 2920, 3030, 3207, 4954, 2033).
 *
 * Called by the pipeline with each side's reassembled bytes in order. Emits transcript entries,
 * credentials, anomalies and messages (DATA body dot-unstuffed, BDAT chunks joined) through the
 * context. Framing (lines, counted BDAT bytes, dot-unstuffing) is delegated to LineFramer and
 * DotUnstuffer; this class matches replies to commands and keeps the session facts.
 * Never throws on hostile input.
 */
export class SmtpAnalyzer implements ProtocolAnalyzer {
  readonly protocol = 'smtp' as const;
  readonly #ctx: AnalyzerContext;
  readonly #clientFramer: LineFramer;
  readonly #serverFramer: LineFramer;
  readonly #unstuffer: DotUnstuffer;

  #state: SmtpState = 'connected';
  #clientMode: ClientMode;
  #serverMode: ServerMode;
  #greeted = false;
  #midstreamReported = false;
  #bareLfReported = false;
  #unknownReported = false;
  #overflowReported = false;

  #pending: Pending[] = [];
  #reply: ReplyBuilder | null = null;
  #tx: Tx | null = null;
  /** Transaction whose DATA body or BDAT chunk is being received. */
  #bodyTx: Tx | null = null;
  #bodyFirst: At | null = null;
  #bdatFirst: At | null = null;
  #bdatSize = 0;
  #bdatLast = false;
  /** The transaction receiving the current BDAT chunk, kept for a gap that lands inside it. */
  #bdatTxForGap: Tx | null = null;
  #auth: AuthAttempt | null = null;
  #starttlsPending = false;
  #clientUnparsed: Unparsed | null = null;
  #serverUnparsed: Unparsed | null = null;
  #txCount = 0;
  #commands = 0;
  #replies = 0;
  #closed = false;
  #encrypted = { client: 0, server: 0 };
  /** Bound for the per-session fact lists (each entry is also a transcript entry). */
  readonly #listCap: number;

  readonly #facts: SmtpSessionFacts = {
    banner: null,
    banner_code: null,
    helo_command: null,
    helo: null,
    helo_names: [],
    capabilities: [],
    starttls: { offered: false, requested: false, accepted: false, frame: null },
    encrypted_from_frame: null,
    auth: [],
    transactions: [],
    vrfy: [],
    expn: [],
    xclient: [],
    unknown_commands: [],
    quit: false,
  };

  constructor(ctx: AnalyzerContext) {
    this.#ctx = ctx;
    const max = ctx.limits.maxLineBytes;
    this.#listCap = ctx.limits.maxTranscriptEntriesPerSession;
    this.#clientFramer = new LineFramer(
      {
        onLine: (line, first, last) => this.#clientLine(line, first, last),
        onBytes: (bytes, at) => this.#bdatBytes(bytes, at),
        onBytesEnd: (at) => this.#bdatEnd(at),
        onAnomaly: (code, detail, at) => this.#framerAnomaly(code, detail, at),
      },
      max,
    );
    this.#serverFramer = new LineFramer(
      {
        onLine: (line, first, last) => this.#serverLine(line, first, last),
        onBytes: () => undefined,
        onBytesEnd: () => undefined,
        onAnomaly: (code, detail, at) => this.#framerAnomaly(code, detail, at),
      },
      max,
    );
    this.#unstuffer = new DotUnstuffer({
      onBody: (bytes, at) => {
        const tx = this.#bodyTx;
        if (tx !== null && tx.sink !== null && !tx.bytesEnded) tx.sink.write(bytes, at);
      },
      onAnomaly: (code, detail, at) => this.#ctx.anomaly(code, detail, at),
    });
    // Without the handshake the first bytes may be anywhere (even inside a DATA body).
    const midstream = !ctx.conn.sawHandshake;
    this.#clientMode = midstream ? 'sync' : 'command';
    this.#serverMode = midstream ? 'sync' : 'reply';
    if (midstream) this.#state = 'after_gap';
  }

  // #region input

  onData(side: Side, bytes: Uint8Array, at: At): void {
    if (this.#closed || bytes.length === 0) return;
    if (side === 'client') this.#clientData(bytes, at);
    else this.#serverData(bytes, at);
  }

  #clientData(bytes: Uint8Array, at: At): void {
    let off = 0;
    const len = bytes.length;
    while (off < len) {
      switch (this.#clientMode) {
        case 'encrypted':
          this.#encrypted.client += len - off;
          return;
        case 'body': {
          if (this.#bodyFirst === null) this.#bodyFirst = at;
          const tx = this.#bodyTx;
          if (tx !== null && tx.sink === null && !tx.done) this.#openMessage(tx, at);
          const chunk = off === 0 ? bytes : bytes.subarray(off);
          off += this.#unstuffer.push(chunk, at);
          if (this.#unstuffer.done) this.#dataEnd(at);
          break;
        }
        default:
          off += this.#clientFramer.push(off === 0 ? bytes : bytes.subarray(off), at);
      }
    }
  }

  #serverData(bytes: Uint8Array, at: At): void {
    let off = 0;
    const len = bytes.length;
    while (off < len) {
      if (this.#serverMode === 'encrypted') {
        const rest = len - off;
        if (this.#encrypted.server === 0 && this.#encrypted.client === 0) {
          // The server's TLS handshake only answers the client's: server bytes first are
          // cleartext injected after the 220 (RFC 3207 §5 response injection).
          this.#ctx.anomaly('smtp_starttls_injection', 'server bytes after the STARTTLS 220 before any client TLS bytes', at);
        }
        this.#encrypted.server += rest;
        return;
      }
      off += this.#serverFramer.push(off === 0 ? bytes : bytes.subarray(off), at);
    }
  }

  onGap(side: Side, length: number, at: At): void {
    if (this.#closed || length <= 0) return;
    this.#ctx.transcript({ side, kind: 'gap', lines: [], bytes: length }, at, at);
    if (side === 'client') {
      if (this.#clientMode === 'encrypted') {
        this.#encrypted.client += length;
        return;
      }
      this.#flushUnparsed('client');
      if (this.#clientMode === 'body') {
        // Inside DATA: the hole goes into the message; keep looking for CRLF.CRLF (Zeek SMTP gap recovery).
        const tx = this.#bodyTx;
        if (tx !== null && tx.sink === null && !tx.done) this.#openMessage(tx, at);
        if (tx !== null && tx.sink !== null && !tx.bytesEnded) tx.sink.gap(length, at);
        if (this.#bodyFirst === null) this.#bodyFirst = at;
        this.#unstuffer.gap(length);
        return;
      }
      const inPlain = this.#clientFramer.inPlainMode ? this.#clientFramer.gap(length, at) : 0;
      if (inPlain > 0) {
        // onBytesEnd may already have run (chunk used up) and finished the message.
        const tx = this.#bdatTxForGap;
        if (tx !== null && tx.sink !== null && !tx.bytesEnded) tx.sink.gap(inPlain, at);
        this.#bdatTxForGap = null;
      }
      if (length > inPlain) {
        this.#clientFramer.reset();
        this.#clientMode = 'sync';
        this.#afterGap(at);
      }
    } else {
      if (this.#serverMode === 'encrypted') {
        this.#encrypted.server += length;
        return;
      }
      this.#flushUnparsed('server');
      if (this.#reply !== null) {
        this.#ctx.anomaly('smtp_reply_incomplete', 'gap inside a multi-line reply', at);
        this.#reply = null;
      }
      this.#serverFramer.reset();
      this.#serverMode = 'sync';
      this.#afterGap(at);
    }
  }

  /** Zeek-style recovery: the reply/command pairing is lost, so the queue is cleared. */
  #afterGap(at: At): void {
    const pending = this.#pending;
    this.#pending = [];
    for (const p of pending) {
      if (p.tx === null || p.tx.done || (p.verb !== 'DATA' && p.verb !== 'BDAT')) continue;
      p.tx.finalLost = true;
      // Bytes complete, final reply no longer matchable: the message record is written now.
      if (p.tx.bytesEnded) this.#finishTx(p.tx, 'incomplete', null, at);
    }
    if (this.#auth !== null) this.#finishAuth(null, at);
    this.#step({ kind: 'gap' }, at);
  }

  onSideEnd(_side: Side, _reason: 'fin' | 'rst', _at: At): void {
    // Nothing to do per side: onClose finishes what is open.
  }

  onClose(_reason: CloseReason, at: At): void {
    if (this.#closed) return;
    if (this.#reply !== null) {
      this.#ctx.anomaly('smtp_reply_incomplete', 'session ended inside a multi-line reply', at);
      const b = this.#reply;
      this.#reply = null;
      this.#finishReply(b, at);
    }
    this.#flushUnparsed('client');
    this.#flushUnparsed('server');
    if (this.#clientMode === 'body' && this.#bodyTx !== null) {
      // Connection ended inside DATA: the message is partial.
      const tx = this.#bodyTx;
      this.#dataTranscript(at);
      this.#bodyTx = null;
      this.#clientMode = 'command';
      if (tx.sink === null && !tx.done) this.#openMessage(tx, at);
      if (tx.earlyFinal !== null) this.#finishTx(tx, 'rejected', tx.earlyFinal, at);
      else this.#finishTx(tx, 'aborted', null, at);
    }
    if (this.#clientFramer.inPlainMode && this.#bodyTx !== null) {
      const tx = this.#bodyTx;
      this.#bdatTranscript(at);
      this.#bodyTx = null;
      this.#finishTx(tx, 'aborted', null, at);
    }
    if (this.#auth !== null) this.#finishAuth(null, at);
    // Bodies that ended without a final reply, then the open transaction.
    for (const p of this.#pending) if (p.tx !== null && !p.tx.done) this.#finishTx(p.tx, 'incomplete', null, at);
    if (this.#tx !== null && !this.#tx.done) this.#finishTx(this.#tx, 'incomplete', null, at);
    if (this.#encrypted.client > 0 || this.#encrypted.server > 0 || this.#facts.starttls.accepted) {
      this.#facts.encrypted_bytes = { client: this.#encrypted.client, server: this.#encrypted.server };
    }
    this.#pending = [];
    this.#closed = true;
  }

  summary(): { commands: number; replies: number; facts: SessionFacts; transport: 'cleartext' | 'starttls' | 'tls' } {
    return {
      commands: this.#commands,
      replies: this.#replies,
      facts: { smtp: this.#facts },
      transport: this.#facts.starttls.accepted ? 'starttls' : 'cleartext',
    };
  }

  // #endregion

  // #region client lines

  #clientLine(bytes: Uint8Array, first: At, last: At): void {
    const line = latin1(bytes);
    if (this.#clientMode === 'sync') {
      const { verb, argument } = splitCommand(line);
      if (!looksLikeCommand(verb, argument)) {
        this.#addUnparsed('client', bytes.length + 2, line, first, last);
        if (!this.#midstreamReported && !this.#ctx.conn.sawHandshake) {
          this.#midstreamReported = true;
          this.#ctx.anomaly('smtp_midstream', 'client bytes before the first command line', first);
        }
        return;
      }
      this.#flushUnparsed('client');
      this.#clientMode = 'command';
    }
    // RFC 4954 §4: after a 334 challenge the next client line is the SASL response.
    const auth = this.#auth;
    if (auth !== null && auth.awaiting > 0) {
      auth.awaiting--;
      this.#ctx.transcript({ side: 'client', kind: 'auth', lines: [line] }, first, last);
      if (line === '*') auth.cancelled = true;
      this.#sasl(auth, (x) => x.clientResponse(line), last);
      return;
    }
    this.#command(line, first, last);
  }

  #command(line: string, first: At, last: At): void {
    const { verb, argument } = splitCommand(line);
    this.#commands++;
    this.#ctx.transcript({ side: 'client', kind: 'command', command: verb, argument, lines: [line] }, first, last);
    if (this.#starttlsPending) {
      this.#ctx.anomaly('smtp_starttls_injection', `client sent ${verb} after STARTTLS before the server's reply`, first);
    } else if (this.#state === 'quit') {
      this.#ctx.anomaly('smtp_data_after_quit', `client sent ${verb} after QUIT`, first);
    }
    const pending: Pending = { verb, first, tx: null, rcpt: null, probe: null, bdatLast: false, got354: false, lmtpLeft: 0 };
    let bdatLast = false;
    if (verb === 'BDAT') bdatLast = parseBdat(argument).last;
    this.#step({ kind: 'command', verb, last: bdatLast }, first);

    switch (verb) {
      case 'HELO':
      case 'EHLO':
      case 'LHLO': {
        const name = argument.trim();
        if (this.#facts.helo_command === null) {
          this.#facts.helo_command = verb;
          this.#facts.helo = name;
        }
        if (this.#facts.helo_names.length < this.#listCap) this.#facts.helo_names.push(name);
        // RFC 5321 §4.1.4: EHLO/HELO resets any open transaction.
        if (this.#tx !== null && !this.#tx.done && !this.#tx.bytesEnded && this.#bodyTx === null) {
          this.#finishTx(this.#tx, 'reset', null, last);
        }
        break;
      }
      case 'MAIL':
      case 'SEND':
      case 'SOML':
      case 'SAML': {
        // A transaction whose body ended waits for its final reply (pipelined MAIL after the dot).
        if (this.#tx !== null && !this.#tx.done && !this.#tx.bytesEnded && this.#bodyTx !== this.#tx) {
          this.#finishTx(this.#tx, 'incomplete', null, first);
        }
        const p = parseMailFrom(argument);
        this.#pathIssues(p, 'MAIL', first);
        const tx = this.#newTx(first);
        tx.rec.mail_from = p.address;
        tx.rec.mail_params = p.params;
        for (const kv of p.parsed) if (kv.keyword === 'BODY') tx.bodyType = kv.value;
        pending.tx = tx;
        break;
      }
      case 'RCPT': {
        const p = parseRcptTo(argument);
        this.#pathIssues(p, 'RCPT', first);
        const tx = this.#currentTx(first);
        pending.tx = tx;
        tx.rec.frame_last = last.frame;
        if (tx.rec.rcpt_to.length < this.#ctx.limits.maxRecipients) {
          const r: SmtpRcptRecord = {
            address: p.address ?? argument,
            params: p.params,
            reply_code: null,
            reply_text: null,
            accepted: null,
            frame: last.frame,
          };
          tx.rec.rcpt_to.push(r);
          pending.rcpt = r;
        } else {
          if (tx.extraRcpts === 0) {
            this.#ctx.anomaly('smtp_too_many_recipients', `more than ${this.#ctx.limits.maxRecipients} recipients`, first);
          }
          tx.extraRcpts++;
        }
        break;
      }
      case 'DATA': {
        const tx = this.#currentTx(first);
        tx.rec.body_command = 'DATA';
        tx.transport = 'smtp-data';
        tx.rec.frame_last = last.frame;
        pending.tx = tx;
        // The body follows (after 354, or at once from a client that does not wait).
        this.#bodyTx = tx;
        this.#bodyFirst = null;
        this.#unstuffer.begin();
        this.#clientMode = 'body';
        this.#clientFramer.pause();
        break;
      }
      case 'BDAT': {
        const b = parseBdat(argument);
        if (b.size === null) {
          this.#ctx.anomaly('smtp_bdat_bad_size', argument.slice(0, 64), first);
          this.#clientMode = 'sync';
          break;
        }
        const tx = this.#currentTx(first);
        tx.rec.body_command = 'BDAT';
        tx.transport = 'smtp-bdat';
        tx.rec.bdat_chunks.push(b.size);
        tx.rec.frame_last = last.frame;
        if (b.size > this.#ctx.limits.maxMessageBytes) {
          this.#ctx.anomaly('smtp_huge_bdat_chunk', `BDAT ${b.size}`, first);
        }
        // RFC 3030 §2: the chunk follows the command line at once, without waiting for a reply.
        if (tx.sink === null) this.#openMessage(tx, last);
        pending.tx = tx;
        pending.bdatLast = b.last;
        this.#bodyTx = tx;
        this.#bdatTxForGap = tx;
        this.#bdatFirst = null;
        this.#bdatSize = b.size;
        this.#bdatLast = b.last;
        this.#clientFramer.expectBytes(b.size);
        break;
      }
      case 'RSET':
        // RFC 5321 §4.1.1.5: abort the transaction (a body already ended keeps waiting for its reply).
        if (this.#tx !== null && !this.#tx.done && !this.#tx.bytesEnded) this.#finishTx(this.#tx, 'reset', null, last);
        break;
      case 'VRFY':
      case 'EXPN': {
        const probe = { argument: argument.trim(), reply_code: null as number | null };
        const list = verb === 'VRFY' ? this.#facts.vrfy : this.#facts.expn;
        if (list.length < this.#listCap) list.push(probe);
        pending.probe = probe;
        break;
      }
      case 'AUTH': {
        if (this.#auth !== null) this.#finishAuth(null, first);
        const a = parseAuth(argument);
        const attempt: AuthAttempt = { exchange: null, mechanism: a.mechanism, first, awaiting: 0, cancelled: false };
        try {
          attempt.exchange = new SaslExchange(a.mechanism, a.initialResponse);
        } catch (e) {
          this.#ctx.anomaly('smtp_sasl_error', String(e).slice(0, 200), first);
        }
        this.#auth = attempt;
        break;
      }
      case 'STARTTLS':
        this.#facts.starttls.requested = true;
        this.#starttlsPending = true;
        break;
      case 'XCLIENT':
      case 'XFORWARD':
        for (const kv of parseEsmtpParams(argument)) {
          if (this.#facts.xclient.length >= this.#listCap) break;
          this.#facts.xclient.push(kv.value === null ? kv.keyword : `${kv.keyword}=${kv.value}`);
        }
        break;
      case 'QUIT':
        this.#facts.quit = true;
        break;
      case 'NOOP':
      case 'HELP':
      case 'ETRN':
      case 'TURN':
      case 'ATRN':
        break;
      default:
        if (this.#facts.unknown_commands.length < this.#listCap) {
          this.#facts.unknown_commands.push(line.slice(0, UNKNOWN_COMMAND_KEEP_CHARS));
        }
        if (!this.#unknownReported) {
          this.#unknownReported = true;
          this.#ctx.anomaly('smtp_unknown_command', verb.slice(0, 64), first);
        }
    }
    this.#enqueue(pending, first);
  }

  /**
   * Queues a command for its reply. Past maxPendingCommands the new command is not queued:
   * replies come oldest first, so the oldest pairings stay right and the surplus replies are
   * reported as unmatched.
   */
  #enqueue(p: Pending, at: At): void {
    if (this.#pending.length >= this.#ctx.limits.maxPendingCommands) {
      if (!this.#overflowReported) {
        this.#overflowReported = true;
        this.#ctx.anomaly('smtp_pipeline_overflow', `more than ${this.#ctx.limits.maxPendingCommands} commands without replies`, at);
      }
      return;
    }
    this.#pending.push(p);
  }

  #pathIssues(p: PathArgument, verb: string, at: At): void {
    const bad = p.issues.filter((i) => i !== 'space_after_colon');
    if (bad.length > 0) this.#ctx.anomaly('smtp_path_syntax', `${verb}: ${bad.join(',')}`, at);
  }

  // #endregion

  // #region bodies

  #openMessage(tx: Tx, at: At): void {
    const rcpt = tx.rec.rcpt_to.filter((r) => r.accepted !== false).map((r) => r.address);
    tx.sink = this.#ctx.openMessage({ transport: tx.transport, envelope: { mail_from: tx.rec.mail_from, rcpt_to: rcpt }, at });
    tx.rec.message_id = tx.sink.id;
  }

  /** CRLF.CRLF consumed: the DATA body is complete. */
  #dataEnd(at: At): void {
    const tx = this.#bodyTx;
    this.#dataTranscript(at);
    this.#bodyTx = null;
    this.#clientMode = 'command';
    this.#step({ kind: 'body_end' }, at);
    if (tx === null || tx.done) return;
    if (tx.sink === null) this.#openMessage(tx, at);
    tx.sink?.endBytes(true, at);
    tx.bytesEnded = true;
    tx.rec.frame_last = at.frame;
    if (tx.earlyFinal !== null) this.#finishTx(tx, 'rejected', tx.earlyFinal, at);
    else if (tx.finalLost) this.#finishTx(tx, 'incomplete', null, at);
  }

  #dataTranscript(at: At): void {
    this.#ctx.transcript(
      { side: 'client', kind: 'data', command: 'DATA', lines: [], bytes: this.#unstuffer.wireBytes },
      this.#bodyFirst ?? at,
      at,
    );
    this.#bodyFirst = null;
  }

  #bdatBytes(bytes: Uint8Array, at: At): void {
    if (this.#bdatFirst === null) this.#bdatFirst = at;
    const tx = this.#bodyTx;
    if (tx !== null && tx.sink !== null && !tx.bytesEnded) tx.sink.write(bytes, at);
  }

  #bdatEnd(at: At): void {
    const tx = this.#bodyTx;
    this.#bdatTranscript(at);
    this.#bodyTx = null;
    if (tx === null) return;
    tx.rec.frame_last = at.frame;
    if (this.#bdatLast && !tx.done) {
      tx.sink?.endBytes(true, at);
      tx.bytesEnded = true;
      this.#step({ kind: 'body_end' }, at);
      if (tx.finalLost) this.#finishTx(tx, 'incomplete', null, at);
    }
  }

  #bdatTranscript(at: At): void {
    this.#ctx.transcript(
      { side: 'client', kind: 'data', command: 'BDAT', lines: [], bytes: this.#bdatSize },
      this.#bdatFirst ?? at,
      at,
    );
    this.#bdatFirst = null;
  }

  // #endregion

  // #region server lines

  #serverLine(bytes: Uint8Array, first: At, last: At): void {
    const line = latin1(bytes);
    const r = parseReplyLine(line);
    if (this.#serverMode === 'sync') {
      if (r === null) {
        this.#addUnparsed('server', bytes.length + 2, line, first, last);
        return;
      }
      this.#flushUnparsed('server');
      this.#serverMode = 'reply';
    }
    const b = this.#reply;
    if (r === null) {
      this.#ctx.anomaly('smtp_bad_reply_line', line.slice(0, 80), last);
      if (b !== null) {
        this.#appendReplyLine(b, line, line);
      } else {
        this.#addUnparsed('server', bytes.length + 2, line, first, last);
        this.#flushUnparsed('server');
      }
      return;
    }
    if (b === null) {
      const nb: ReplyBuilder = { code: r.code, lines: [line], texts: [r.text], dropped: 0, mismatch: false, first };
      if (r.continued) this.#reply = nb;
      else this.#finishReply(nb, last);
      return;
    }
    if (r.code !== b.code && !b.mismatch) {
      b.mismatch = true;
      this.#ctx.anomaly('smtp_reply_code_mismatch', `${b.code} then ${r.code}`, last);
    }
    this.#appendReplyLine(b, line, r.text);
    if (!r.continued) {
      this.#reply = null;
      this.#finishReply(b, last);
    }
  }

  #appendReplyLine(b: ReplyBuilder, line: string, text: string): void {
    if (b.lines.length < this.#ctx.limits.maxReplyLines) {
      b.lines.push(line);
      b.texts.push(text);
    } else {
      if (b.dropped === 0) this.#ctx.anomaly('reply_too_many_lines', `reply ${b.code} over ${this.#ctx.limits.maxReplyLines} lines`, b.first);
      b.dropped++;
    }
  }

  #finishReply(b: ReplyBuilder, last: At): void {
    const reply: Reply = { code: b.code, lines: b.lines, text: b.texts.join('\n'), first: b.first, last };
    this.#replies++;
    this.#ctx.transcript({ side: 'server', kind: 'reply', code: reply.code, lines: reply.lines }, reply.first, last);
    // A reply means the client's unparsed run (mid-stream body) is over; a 354 means a body
    // starts now even though its DATA command was not seen.
    if (this.#clientMode === 'sync' && !this.#clientFramer.hasPartialLine && !this.#clientFramer.inPlainMode) {
      this.#flushUnparsed('client');
      if (reply.code === 354 && this.#pending.length === 0) {
        const tx = this.#currentTx(reply.first);
        tx.rec.body_command = 'DATA';
        tx.rec.data_reply_code = 354;
        tx.transport = 'smtp-data';
        this.#openMessage(tx, last);
        this.#bodyTx = tx;
        this.#bodyFirst = null;
        this.#unstuffer.begin();
        this.#clientMode = 'body';
        this.#pending.push({ verb: 'DATA', first: reply.first, tx, rcpt: null, probe: null, bdatLast: false, got354: true, lmtpLeft: 0 });
        this.#greeted = true;
        this.#step({ kind: 'command', verb: 'DATA' }, reply.first);
        this.#step({ kind: 'reply', verb: 'DATA', code: 354 }, last);
        return;
      }
      this.#clientMode = 'command';
    }
    const head = this.#pending.length > 0 ? this.#pending[0] : null;
    if (!this.#greeted) {
      this.#greeted = true;
      // RFC 5321 §4.3.1: the greeting is 220 (or 554 refusal); 220 also answers STARTTLS.
      const isGreeting =
        (reply.code === 220 && (head === null || head.verb !== 'STARTTLS')) ||
        (this.#ctx.conn.sawHandshake && (reply.code === 554 || reply.code === 421) && head === null);
      if (isGreeting) {
        this.#facts.banner = reply.text;
        this.#facts.banner_code = reply.code;
        if (head !== null) {
          this.#ctx.anomaly('smtp_command_before_greeting', `${this.#pending.length} command(s) before the greeting`, reply.first);
        }
        this.#step({ kind: 'reply', verb: null, code: reply.code }, last);
        return;
      }
      if (!this.#midstreamReported) {
        this.#midstreamReported = true;
        this.#ctx.anomaly('smtp_midstream', 'first server reply is not a greeting', reply.first);
      }
    }
    if (head === null) {
      if (this.#state !== 'after_gap') this.#ctx.anomaly('smtp_unmatched_reply', reply.lines[0].slice(0, 80), reply.first);
      this.#step({ kind: 'reply', verb: null, code: reply.code }, last);
      return;
    }
    this.#matchReply(head, reply);
  }

  #matchReply(p: Pending, reply: Reply): void {
    const code = reply.code;
    const at = reply.last;
    // Intermediate replies keep the command at the head of the queue.
    if (p.verb === 'AUTH' && code === 334 && this.#auth !== null) {
      const auth = this.#auth;
      auth.awaiting++;
      const text = reply.text;
      this.#sasl(auth, (x) => x.serverChallenge(text), at);
      this.#step({ kind: 'reply', verb: 'AUTH', code }, at);
      return;
    }
    if (p.verb === 'DATA' && code === 354 && !p.got354) {
      p.got354 = true;
      const tx = p.tx;
      if (tx !== null) {
        tx.rec.data_reply_code = code;
        if (tx.sink === null && !tx.done) this.#openMessage(tx, at);
      }
      this.#step({ kind: 'reply', verb: 'DATA', code }, at);
      return;
    }
    if (p.verb === LMTP_MORE) {
      // LMTP: the further per-recipient replies after DATA; the first one was the final reply.
      if (--p.lmtpLeft <= 0) this.#pending.shift();
      this.#step({ kind: 'reply', verb: null, code }, at);
      return;
    }
    this.#pending.shift();
    if (p.verb === 'DATA' && p.lmtpLeft > 1) {
      this.#pending.unshift({ ...p, verb: LMTP_MORE, tx: null, lmtpLeft: p.lmtpLeft - 1 });
    }
    this.#step({ kind: 'reply', verb: p.verb, code, last: p.bdatLast }, at);
    const tx = p.tx;
    if (tx !== null && !tx.done) tx.rec.frame_last = at.frame;

    switch (p.verb) {
      case 'EHLO':
      case 'LHLO':
        if (replyOk(code)) {
          // RFC 5321 §4.1.1.1: the lines after the first name the extensions.
          this.#facts.capabilities = reply.lines.slice(1).map((l) => l.slice(4));
          this.#facts.starttls.offered = this.#facts.capabilities.some((c) => c.toUpperCase() === 'STARTTLS');
        }
        break;
      case 'MAIL':
      case 'SEND':
      case 'SOML':
      case 'SAML':
        if (tx !== null) {
          tx.rec.mail_reply_code = code;
          if (!replyOk(code) && !tx.done && tx.sink === null && tx.rec.rcpt_to.length === 0) {
            this.#finishTx(tx, 'rejected', reply, at);
          }
        }
        break;
      case 'RCPT':
        if (p.rcpt !== null) {
          p.rcpt.reply_code = code;
          p.rcpt.reply_text = reply.text;
          p.rcpt.accepted = replyOk(code);
        }
        break;
      case 'DATA':
        if (tx !== null) this.#dataFinal(p, tx, reply);
        break;
      case 'BDAT':
        if (tx !== null) {
          if (tx.rec.data_reply_code === null) tx.rec.data_reply_code = code;
          if (!replyOk(code)) tx.bdatFailed = true;
          if (p.bdatLast && !tx.done) this.#finishTx(tx, tx.bdatFailed ? 'rejected' : 'accepted', reply, at);
        }
        break;
      case 'VRFY':
      case 'EXPN':
        if (p.probe !== null) p.probe.reply_code = code;
        break;
      case 'AUTH':
        if (this.#auth !== null) this.#finishAuth(reply, at);
        break;
      case 'STARTTLS':
        this.#starttlsPending = false;
        // RFC 3207 §4: 220 = ready to start TLS; everything after is encrypted.
        if (code === 220) this.#startTls(reply, at);
        break;
      default:
        break;
    }
  }

  /** The reply to DATA that is not 354: the end-of-data reply, or a refusal of DATA. */
  #dataFinal(p: Pending, tx: Tx, reply: Reply): void {
    const at = reply.last;
    if (tx.done) return;
    if (!p.got354) tx.rec.data_reply_code = reply.code;
    if (tx.bytesEnded) {
      this.#finishTx(tx, replyOk(reply.code) ? 'accepted' : 'rejected', reply, at);
      return;
    }
    if (this.#bodyTx === tx && this.#clientMode === 'body') {
      if (!p.got354) {
        if (tx.sink === null && this.#bodyFirst === null) {
          // RFC 5321 §3.3: DATA refused (e.g. 554 no valid recipients): no body follows.
          this.#bodyTx = null;
          this.#clientMode = 'command';
          this.#finishTx(tx, 'rejected', reply, at);
          return;
        }
        // The client sent the body without waiting; the server read it as commands.
        this.#ctx.anomaly('smtp_data_rejected_body_sent', `DATA answered ${reply.code} after body bytes`, at);
        tx.earlyFinal = reply;
        return;
      }
      // A final reply while the body is still flowing: the terminator was lost (gap) or the
      // server gave up. The message ends here, partial.
      this.#ctx.anomaly('smtp_data_unterminated', `reply ${reply.code} before end of data`, at);
      this.#dataTranscript(at);
      this.#bodyTx = null;
      this.#clientMode = 'command';
      this.#clientFramer.reset();
      if (tx.sink === null) this.#openMessage(tx, at);
      tx.sink?.endBytes(false, at);
      tx.bytesEnded = true;
      this.#finishTx(tx, replyOk(reply.code) ? 'accepted' : 'rejected', reply, at);
      return;
    }
    this.#finishTx(tx, replyOk(reply.code) ? 'accepted' : 'rejected', reply, at);
  }

  #startTls(reply: Reply, at: At): void {
    this.#facts.starttls.accepted = true;
    this.#facts.starttls.frame = at.frame;
    this.#facts.encrypted_from_frame = at.frame;
    this.#ctx.transcript({ side: 'server', kind: 'tls', lines: [] }, reply.first, at);
    this.#ctx.markEncrypted(at);
    this.#serverMode = 'encrypted';
    this.#serverFramer.pause();
    // Client bytes already framed but not yet a line (injected, cleartext) are counted.
    this.#clientMode = 'encrypted';
    this.#clientFramer.reset();
    if (this.#auth !== null) this.#finishAuth(null, at);
    this.#pending = [];
    if (this.#tx !== null && !this.#tx.done) this.#finishTx(this.#tx, 'incomplete', null, at);
  }

  // #endregion

  // #region auth

  #sasl(auth: AuthAttempt, f: (x: SaslExchange) => void, at: At): void {
    if (auth.exchange === null) return;
    try {
      f(auth.exchange);
    } catch (e) {
      this.#ctx.anomaly('smtp_sasl_error', String(e).slice(0, 200), at);
      auth.exchange = null;
    }
  }

  /** Ends the AUTH attempt: 235 = success (RFC 4954 §6), 4xx/5xx = failure, null = unknown. */
  #finishAuth(reply: Reply | null, at: At): void {
    const auth = this.#auth;
    if (auth === null) return;
    this.#auth = null;
    const outcome: 'success' | 'failure' | 'unknown' =
      reply === null ? 'unknown' : reply.code === 235 ? 'success' : reply.code >= 400 ? 'failure' : 'unknown';
    let username: string | null = null;
    let authzid: string | null = null;
    let secret: string | null = null;
    let hashcat: { mode: number; line: string } | null = null;
    let detail: Record<string, string> = {};
    let mechanism = auth.mechanism;
    if (auth.exchange !== null) {
      try {
        const r = auth.exchange.result();
        mechanism = r.mechanism || mechanism;
        username = r.username;
        authzid = r.authzid;
        secret = r.secret;
        hashcat = r.hashcat;
        detail = { ...r.detail };
        if (r.cancelled) auth.cancelled = true;
        for (const code of r.anomalies) this.#ctx.anomaly(code, `AUTH ${mechanism}`, at);
      } catch (e) {
        this.#ctx.anomaly('smtp_sasl_error', String(e).slice(0, 200), at);
      }
    }
    if (auth.cancelled) detail.cancelled = 'true';
    this.#ctx.credential(
      {
        mechanism,
        username,
        authzid,
        secret,
        hashcat,
        detail,
        outcome,
        reply: reply === null ? null : reply.lines[0],
      },
      auth.first,
      reply?.last ?? at,
    );
    if (this.#facts.auth.length < this.#listCap) {
      this.#facts.auth.push({ mechanism, username, outcome, frame: auth.first.frame });
    }
  }

  // #endregion

  // #region transactions

  /** The open transaction that can still take RCPT/DATA/BDAT, or a new implicit one. */
  #currentTx(at: At): Tx {
    const tx = this.#tx;
    if (tx !== null && !tx.done && !tx.bytesEnded && this.#bodyTx !== tx) return tx;
    if (tx !== null && !tx.done && this.#bodyTx === tx && tx.transport === 'smtp-bdat') return tx;
    return this.#newTx(at);
  }

  #newTx(at: At): Tx {
    this.#txCount++;
    const rec: SmtpTransactionRecord = {
      index: this.#txCount,
      mail_from: null,
      mail_params: null,
      mail_reply_code: null,
      rcpt_to: [],
      body_command: null,
      data_reply_code: null,
      final_reply_code: null,
      final_reply_text: null,
      queue_id: null,
      message_id: null,
      bdat_chunks: [],
      outcome: 'incomplete',
      frame_first: at.frame,
      frame_last: at.frame,
    };
    if (this.#facts.transactions.length < this.#listCap) this.#facts.transactions.push(rec);
    const tx: Tx = {
      rec,
      sink: null,
      transport: 'smtp-data',
      bytesEnded: false,
      done: false,
      extraRcpts: 0,
      earlyFinal: null,
      finalLost: false,
      bdatFailed: false,
      bodyType: null,
    };
    this.#tx = tx;
    return tx;
  }

  /** Finishes a transaction once: outcome, final reply, and the message record (sink.close). */
  #finishTx(tx: Tx, outcome: SmtpTransactionRecord['outcome'], reply: Reply | null, at: At): void {
    if (tx.done) return;
    tx.done = true;
    const rec = tx.rec;
    rec.outcome = outcome;
    rec.frame_last = Math.max(rec.frame_last, at.frame);
    let serverMessageId: string | null = null;
    if (reply !== null && (rec.body_command !== null || outcome === 'accepted')) {
      rec.final_reply_code = reply.code;
      rec.final_reply_text = reply.text;
      if (replyOk(reply.code)) {
        const q = parseQueueId(reply.text);
        rec.queue_id = q.queue_id;
        serverMessageId = q.server_message_id;
      }
    }
    if (tx.sink !== null) {
      if (!tx.bytesEnded) {
        tx.sink.endBytes(false, at);
        tx.bytesEnded = true;
      }
      const delivery: Record<string, string | number | boolean | null | string[]> = {
        transaction_index: rec.index,
        body_command: rec.body_command,
        data_reply_code: rec.data_reply_code,
        final_reply_code: reply === null ? null : reply.code,
        final_reply_text: reply === null ? null : reply.text,
        queue_id: rec.queue_id,
        outcome,
      };
      if (serverMessageId !== null) delivery.server_message_id = serverMessageId;
      if (tx.bodyType !== null) delivery.body_type = tx.bodyType;
      if (rec.body_command === 'BDAT') delivery.bdat_chunks = rec.bdat_chunks.map(String);
      tx.sink.close(delivery, at);
    }
    if (this.#tx === tx) this.#tx = null;
  }

  // #endregion

  // #region helpers

  #step(ev: SmtpEvent, at: At): void {
    const s = smtpTransition(this.#state, ev);
    if (s.anomaly !== null) this.#ctx.anomaly(s.anomaly, ev.kind === 'command' ? ev.verb : undefined, at);
    this.#state = s.state;
    // LMTP: remember how many final replies the DATA will get (RFC 2033 §4.2).
    if (ev.kind === 'body_end' && this.#facts.helo_command === 'LHLO') {
      for (const p of this.#pending) {
        if (p.verb === 'DATA' && p.tx !== null) {
          p.lmtpLeft = Math.max(1, p.tx.rec.rcpt_to.filter((r) => r.accepted === true).length);
          break;
        }
      }
    }
  }

  #framerAnomaly(code: LineFramerAnomaly, detail: string, at: At): void {
    if (code === 'bare_lf') {
      if (this.#bareLfReported) return;
      this.#bareLfReported = true;
      this.#ctx.anomaly('smtp_bare_lf', detail, at);
      return;
    }
    this.#ctx.anomaly(code, detail, at);
  }

  #addUnparsed(side: Side, bytes: number, line: string, first: At, last: At): void {
    const cur = side === 'client' ? this.#clientUnparsed : this.#serverUnparsed;
    if (cur !== null) {
      cur.bytes += bytes;
      cur.last = last;
      return;
    }
    const u: Unparsed = { bytes, sample: line.slice(0, UNPARSED_SAMPLE_CHARS), first, last };
    if (side === 'client') this.#clientUnparsed = u;
    else this.#serverUnparsed = u;
  }

  #flushUnparsed(side: Side): void {
    const u = side === 'client' ? this.#clientUnparsed : this.#serverUnparsed;
    if (u === null) return;
    if (side === 'client') this.#clientUnparsed = null;
    else this.#serverUnparsed = null;
    this.#ctx.transcript({ side, kind: 'unparsed', lines: [u.sample], bytes: u.bytes }, u.first, u.last);
  }

  // #endregion
}

/**
 * While resynchronising (mid-stream start, after a gap), only lines that look like real commands
 * end the unparsed run: a known verb with the argument shape RFC 5321 gives it.
 */
function looksLikeCommand(verb: string, argument: string): boolean {
  if (!isSmtpVerb(verb)) return false;
  const arg = argument.trim();
  switch (verb) {
    case 'MAIL':
    case 'SEND':
    case 'SOML':
    case 'SAML':
      return /^FROM:/i.test(arg);
    case 'RCPT':
      return /^TO:/i.test(arg);
    case 'DATA':
    case 'RSET':
    case 'QUIT':
    case 'STARTTLS':
    case 'TURN':
      return arg === '';
    case 'BDAT':
      return /^[0-9]+( +LAST)?$/i.test(arg);
    case 'HELO':
    case 'EHLO':
    case 'LHLO':
    case 'AUTH':
      return /^[^ ]+( [^ ]+)?$/.test(arg) && arg !== '';
    default:
      return arg.length < 512 && !arg.includes(':') ;
  }
}
