import type { At, Side } from '../../core/types.js';
import type { SmtpRcptRecord, SmtpSessionFacts, SmtpTransactionRecord } from '../../core/records.js';
import type { CloseReason } from '../../reassembly/stream-handler.js';
import type { AnalyzerContext, MessageSink, ProtocolAnalyzer, SessionFacts } from '../analyzer.js';
import { FramerAnomalies } from '../framer-anomalies.js';
import { MidstreamNotes } from '../midstream-notes.js';
import { UnparsedRuns } from '../unparsed-runs.js';
import { LineFramer } from '../line-framer.js';
import { SaslExchange } from '../sasl/sasl-exchange.js';
import { saslCredential, saslStep } from '../sasl/sasl-credential.js';
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
  /**
   * A DATA refused before any body (e.g. 503/554): the server keeps the transaction (RFC 5321
   * §3.3), so it stays open; if it ends without an accepted body, this is its final reply.
   */
  refusal: Reply | null;
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
  /**
   * MAIL: the transaction that was open when it was sent. It ends only if this MAIL is accepted;
   * a refused nested MAIL ("503 sender already given") leaves it open (RFC 5321 §4.1.4).
   */
  prevTx: Tx | null;
  /**
   * HELO/EHLO/LHLO: the transaction open when it was sent. RFC 5321 §4.1.4: only an accepted
   * HELO/EHLO resets the state, so it ends (reset) at a 2xx reply and stays open after a refusal.
   */
  resetTx: Tx | null;
}

/** An AUTH exchange in progress. */
interface AuthAttempt {
  exchange: SaslExchange | null;
  mechanism: string;
  first: At;
  /** 334 challenges not yet answered by a client line. */
  awaiting: number;
  cancelled: boolean;
  /** Client lines still plausible as SASL responses without a visible 334 (by mechanism). */
  inferLeft: number;
  /** Client lines taken as SASL responses without a 334; a late 334 answers one of them. */
  inferred: number;
  /** Kept open across a server gap (its 334 or final reply may have been in the lost bytes). */
  gapKept: boolean;
}

/**
 * How each side's bytes are parsed. 'tls_hold': after STARTTLS, client bytes that start with a TLS
 * record (the client did not wait for the 220) are held until the reply decides what they are.
 */
type ClientMode = 'command' | 'body' | 'sync' | 'tls_hold';
type ServerMode = 'reply' | 'sync';

/** TLS record content type "handshake" (RFC 8446 §5.1): never the first byte of an SMTP command. */
const TLS_HANDSHAKE = 0x16;

/** Reply codes only one command can get: 334/235 answer AUTH (RFC 4954 §4, §6), 354 answers DATA (RFC 5321 §4.3.2). */
function onlyAnswers(code: number): string | null {
  if (code === 334 || code === 235) return 'AUTH';
  if (code === 354) return 'DATA';
  return null;
}

/** Canonical base64 (RFC 4648 §4), as SASL responses are sent (RFC 4954 §4); "=" is an empty response. */
const SASL_LINE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** How many client responses a mechanism sends without a challenge telling it to (for inference). */
function inferableResponses(mechanism: string, initialResponse: boolean): number {
  switch (mechanism.toUpperCase()) {
    case 'LOGIN':
      return initialResponse ? 1 : 2;
    case 'PLAIN':
      return initialResponse ? 0 : 1;
    default:
      return 0;
  }
}

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
  /** Line framers of the parse in progress: the wire's, then new ones for the decrypted stream. */
  #clientFramer: LineFramer;
  #serverFramer: LineFramer;
  readonly #unstuffer: DotUnstuffer;

  #state: SmtpState = 'connected';
  #clientMode: ClientMode;
  #serverMode: ServerMode;
  #greeted = false;
  readonly #midstream: MidstreamNotes;
  readonly #framerAnomalies: FramerAnomalies;
  readonly #unparsed: UnparsedRuns;
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
  /** STARTTLS accepted: wire bytes of both sides are TLS records, handed to ctx.encryptedData. */
  #wireTls = false;
  /** Decrypted bytes arrived (onDecrypted): the dialogue restarted inside TLS. */
  #decrypted = false;
  /** A second STARTTLS was accepted inside the decrypted stream: parsing stops there. */
  #decryptedStopped = false;
  /** 'tls_hold' bytes (copies, bounded by maxLineBytes), and bytes past the bound or lost in gaps. */
  #hold: { bytes: Uint8Array | null; gap: number; at: At }[] = [];
  #holdBytes = 0;
  #txCount = 0;
  /** Transactions with an open message sink: all are closed by onClose whatever else happened. */
  readonly #openSinks = new Set<Tx>();
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
    this.#framerAnomalies = new FramerAnomalies(ctx, 'smtp_bare_lf');
    this.#unparsed = new UnparsedRuns(ctx);
    this.#midstream = new MidstreamNotes(ctx, this.#unparsed, 'smtp_midstream');
    const max = ctx.limits.maxLineBytes;
    this.#listCap = ctx.limits.maxTranscriptEntriesPerSession;
    this.#clientFramer = this.#newClientFramer(max);
    this.#serverFramer = this.#newServerFramer(max);
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

  #newClientFramer(max: number): LineFramer {
    return new LineFramer(
      {
        onLine: (line, first, last) => this.#clientLine(line, first, last),
        onBytes: (bytes, at) => this.#bdatBytes(bytes, at),
        onBytesEnd: (at) => this.#bdatEnd(at),
        onAnomaly: (code, detail, at) => this.#framerAnomalies.report(code, detail, at),
      },
      max,
    );
  }

  #newServerFramer(max: number): LineFramer {
    return new LineFramer(
      {
        onLine: (line, first, last) => this.#serverLine(line, first, last),
        onBytes: () => undefined,
        onBytesEnd: () => undefined,
        onAnomaly: (code, detail, at) => this.#framerAnomalies.report(code, detail, at),
      },
      max,
    );
  }

  // #region input

  onData(side: Side, bytes: Uint8Array, at: At): void {
    if (this.#closed || bytes.length === 0) return;
    if (this.#wireTls) this.#encryptedIn(side, bytes, at);
    else if (side === 'client') this.#clientData(bytes, at, true);
    else this.#serverData(bytes, at, true);
  }

  /**
   * Plaintext of the TLS layer after an accepted STARTTLS (both sides, in order). RFC 3207 §4.2:
   * the dialogue starts over (no greeting, EHLO again, earlier EHLO/capabilities discarded); it is
   * parsed like cleartext with new line framers. Facts history (HELO names, transactions, AUTH
   * attempts) continues.
   */
  onDecrypted(side: Side, bytes: Uint8Array, at: At): void {
    if (this.#closed || !this.#wireTls || this.#decryptedStopped || bytes.length === 0) return;
    if (!this.#decrypted) this.#restartInTls(at);
    if (side === 'client') this.#clientData(bytes, at, false);
    else this.#serverData(bytes, at, false);
  }

  /** First decrypted bytes: fresh framers and protocol state for the dialogue inside TLS. */
  #restartInTls(at: At): void {
    this.#decrypted = true;
    const max = this.#ctx.limits.maxLineBytes;
    this.#clientFramer = this.#newClientFramer(max);
    this.#serverFramer = this.#newServerFramer(max);
    this.#clientMode = 'command';
    this.#serverMode = 'reply';
    this.#reply = null;
    this.#pending = [];
    this.#bodyTx = null;
    this.#bodyFirst = null;
    this.#bdatTxForGap = null;
    this.#starttlsPending = false;
    // No greeting inside TLS: the first reply answers the client's EHLO.
    this.#greeted = true;
    // RFC 3207 §4.2: the client MUST discard knowledge obtained from the server before TLS.
    this.#facts.capabilities = [];
    this.#step({ kind: 'tls_restart' }, at);
  }

  /** Wire bytes after the accepted STARTTLS: TLS records for the TLS layer, counted. */
  #encryptedIn(side: Side, bytes: Uint8Array, at: At): void {
    if (side === 'server' && this.#encrypted.server === 0 && this.#encrypted.client === 0) {
      // The server's TLS handshake only answers the client's: server bytes first are
      // cleartext injected after the 220 (RFC 3207 §5 response injection).
      this.#ctx.anomaly('smtp_starttls_injection', 'server bytes after the STARTTLS 220 before any client TLS bytes', at);
    }
    this.#encrypted[side] += bytes.length;
    this.#ctx.encryptedData(side, bytes, at);
  }

  /**
   * Client bytes. `wire` false: decrypted bytes (never TLS-held or forwarded). The loop re-checks
   * the mode after every framer return: a callback may switch to body, BDAT or TLS mid-chunk.
   */
  #clientData(bytes: Uint8Array, at: At, wire: boolean): void {
    let off = 0;
    const len = bytes.length;
    while (off < len) {
      if (wire ? this.#wireTls : this.#decryptedStopped) {
        if (wire) this.#encryptedIn('client', off === 0 ? bytes : bytes.subarray(off), at);
        return;
      }
      switch (this.#clientMode) {
        case 'tls_hold':
          this.#holdPush(off === 0 ? bytes : bytes.subarray(off), at);
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
          if (
            wire &&
            this.#starttlsPending &&
            bytes[off] === TLS_HANDSHAKE &&
            !this.#clientFramer.hasPartialLine &&
            !this.#clientFramer.inPlainMode
          ) {
            // A TLS ClientHello sent before the server's 220 arrived (the client did not wait).
            this.#clientMode = 'tls_hold';
            continue;
          }
          off += this.#clientFramer.push(off === 0 ? bytes : bytes.subarray(off), at);
      }
    }
  }

  #serverData(bytes: Uint8Array, at: At, wire: boolean): void {
    let off = 0;
    const len = bytes.length;
    while (off < len) {
      if (wire ? this.#wireTls : this.#decryptedStopped) {
        // Bytes after the STARTTLS 220 in the same chunk are already TLS.
        if (wire) this.#encryptedIn('server', off === 0 ? bytes : bytes.subarray(off), at);
        return;
      }
      off += this.#serverFramer.push(off === 0 ? bytes : bytes.subarray(off), at);
    }
  }

  /** Holds client bytes sent after STARTTLS that start with a TLS record, up to maxLineBytes. */
  #holdPush(bytes: Uint8Array, at: At): void {
    const room = Math.max(0, this.#ctx.limits.maxLineBytes - this.#holdBytes);
    const keep = Math.min(room, bytes.length);
    if (keep > 0) {
      this.#hold.push({ bytes: bytes.slice(0, keep), gap: 0, at });
      this.#holdBytes += keep;
    }
    if (bytes.length > keep) this.#holdGap(bytes.length - keep, at);
  }

  #holdGap(length: number, at: At): void {
    const lastHeld = this.#hold.length > 0 ? this.#hold[this.#hold.length - 1] : null;
    if (lastHeld !== null && lastHeld.bytes === null) lastHeld.gap += length;
    else this.#hold.push({ bytes: null, gap: length, at });
  }

  /** The STARTTLS reply decided: held bytes go to the TLS layer (220) or are recorded as unparsed. */
  #releaseHold(tls: boolean, at: At): void {
    if (this.#clientMode !== 'tls_hold') return;
    const held = this.#hold;
    this.#hold = [];
    this.#holdBytes = 0;
    this.#clientMode = tls ? 'command' : 'sync';
    if (tls) {
      for (const h of held) {
        if (h.bytes !== null) this.#encryptedIn('client', h.bytes, h.at);
        else {
          this.#encrypted.client += h.gap;
          this.#ctx.encryptedGap('client', h.gap, h.at);
        }
      }
      return;
    }
    let n = 0;
    for (const h of held) n += h.bytes === null ? h.gap : h.bytes.length;
    if (n > 0 && held.length > 0) this.#unparsed.add('client', n, '(TLS record before the STARTTLS reply)', held[0].at, at);
    this.#unparsed.flush('client');
  }

  onGap(side: Side, length: number, at: At): void {
    if (this.#closed || length <= 0) return;
    this.#ctx.transcript({ side, kind: 'gap', lines: [], bytes: length }, at, at);
    if (this.#wireTls) {
      this.#encrypted[side] += length;
      this.#ctx.encryptedGap(side, length, at);
      return;
    }
    if (side === 'client') {
      if (this.#clientMode === 'tls_hold') {
        this.#holdGap(length, at);
        return;
      }
      this.#unparsed.flush('client');
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
        this.#afterGap('client', at);
      }
    } else {
      this.#unparsed.flush('server');
      if (this.#reply !== null) {
        this.#ctx.anomaly('smtp_reply_incomplete', 'gap inside a multi-line reply', at);
        this.#reply = null;
      }
      this.#serverFramer.reset();
      this.#serverMode = 'sync';
      this.#afterGap('server', at);
    }
  }

  /**
   * Zeek-style recovery: the reply/command pairing is lost, so the queue is cleared. Exception:
   * an AUTH exchange in progress when server bytes are lost. AUTH ends a pipelined group (RFC
   * 4954 §4) so it is the last command waiting, and the lost bytes were most likely a 334: the
   * exchange stays open, the client's next base64 lines are inferred SASL responses, and the next
   * reply still answers AUTH.
   */
  #afterGap(side: Side, at: At): void {
    const pending = this.#pending;
    this.#pending = [];
    const auth = this.#auth;
    const keepAuth = side === 'server' && auth !== null && pending.length > 0 && pending[pending.length - 1].verb === 'AUTH';
    for (let i = 0; i < pending.length; i++) {
      if (keepAuth && i === pending.length - 1) this.#pending.push(pending[i]);
      else this.#dropPending(pending[i], at);
    }
    if (keepAuth) {
      auth.gapKept = true;
      if (auth.inferLeft === 0 && auth.awaiting === 0) auth.inferLeft = 1;
    } else if (auth !== null) {
      this.#finishAuth(null, at);
    }
    this.#step({ kind: 'gap' }, at);
  }

  /** A command whose reply will never be matched (gap, or a reply that fits a later command). */
  #dropPending(p: Pending, at: At): void {
    if (p.prevTx !== null && !p.prevTx.done) this.#finishTx(p.prevTx, 'incomplete', null, at);
    if (p.tx === null || p.tx.done || (p.verb !== 'DATA' && p.verb !== 'BDAT')) return;
    p.tx.finalLost = true;
    // Bytes complete, final reply no longer matchable: the message record is written now.
    if (p.tx.bytesEnded) this.#finishTx(p.tx, 'incomplete', null, at);
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
    this.#releaseHold(false, at);
    this.#unparsed.flush('client');
    this.#unparsed.flush('server');
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
    // Bodies that ended without a final reply, then the open transaction(s).
    for (const p of this.#pending) {
      if (p.tx !== null && !p.tx.done) this.#finishTx(p.tx, 'incomplete', null, at);
      if (p.prevTx !== null && !p.prevTx.done) this.#finishTx(p.prevTx, 'incomplete', null, at);
    }
    if (this.#tx !== null && !this.#tx.done) this.#finishTx(this.#tx, 'incomplete', null, at);
    // Safety net for the sink contract: no message stays unwritten.
    for (const tx of [...this.#openSinks]) this.#finishTx(tx, 'incomplete', null, at);
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
        this.#midstream.unparsedLine('client', line, bytes.length, first, last, 'client bytes before the first command line');
        return;
      }
      this.#unparsed.flush('client');
      this.#clientMode = 'command';
    }
    // RFC 4954 §4: after a 334 challenge the next client line is the SASL response.
    const auth = this.#auth;
    if (auth !== null && auth.awaiting > 0) {
      auth.awaiting--;
      this.#saslLine(auth, line, first, last);
      return;
    }
    if (auth !== null && auth.inferLeft > 0 && this.#plausibleSaslLine(line)) {
      // The 334 was not captured (one-sided capture, server gap, or a reply swallowed by a
      // malformed line): the mechanism still expects a response and this line is one.
      if (auth.inferred === 0) {
        this.#ctx.anomaly('smtp_sasl_inferred', `AUTH ${auth.mechanism}: SASL response without a visible 334`, first);
      }
      auth.inferred++;
      this.#saslLine(auth, line, first, last);
      return;
    }
    this.#command(line, first, last);
  }

  #saslLine(auth: AuthAttempt, line: string, first: At, last: At): void {
    if (auth.inferLeft > 0) auth.inferLeft--;
    this.#ctx.transcript({ side: 'client', kind: 'auth', lines: [line] }, first, last);
    if (line === '*') auth.cancelled = true;
    this.#sasl(auth, (x) => x.clientResponse(line), last);
  }

  /** A client line that can only be a SASL response: canonical base64 (or "*") and no SMTP verb. */
  #plausibleSaslLine(line: string): boolean {
    if (line === '*') return true;
    if (line.length === 0 || line.length > this.#ctx.limits.maxLineBytes || !SASL_LINE.test(line)) return false;
    return !isSmtpVerb(line.toUpperCase());
  }

  #command(line: string, first: At, last: At): void {
    const { verb, argument } = splitCommand(line);
    const auth = this.#auth;
    if (auth !== null && auth.awaiting === 0 && (auth.inferred > 0 || auth.gapKept) && isSmtpVerb(verb)) {
      // The client moved on from an AUTH whose replies were not seen: its final reply is lost
      // too, so AUTH leaves the queue rather than take the reply meant for this command.
      const i = this.#pending.findIndex((p) => p.verb === 'AUTH');
      if (i >= 0) this.#pending.splice(i, 1);
      this.#finishAuth(null, first);
    }
    this.#commands++;
    this.#ctx.transcript({ side: 'client', kind: 'command', command: verb, argument, lines: [line] }, first, last);
    if (this.#starttlsPending) {
      this.#ctx.anomaly('smtp_starttls_injection', `client sent ${verb} after STARTTLS before the server's reply`, first);
    } else if (this.#state === 'quit') {
      this.#ctx.anomaly('smtp_data_after_quit', `client sent ${verb} after QUIT`, first);
    }
    const pending: Pending = { verb, first, tx: null, rcpt: null, probe: null, bdatLast: false, got354: false, lmtpLeft: 0, prevTx: null, resetTx: null };
    const bdat = verb === 'BDAT' ? parseBdat(argument) : null;
    // A malformed BDAT ("BDAT 5 X") is a syntax error the server refuses (501) without reading a
    // chunk or changing the state: it only takes its slot in the reply queue.
    if (bdat === null || bdat.size !== null) this.#step({ kind: 'command', verb, last: bdat?.last === true }, first);

    switch (verb) {
      case 'HELO':
      case 'EHLO':
      case 'LHLO': {
        const name = argument.trim();
        if (this.#facts.helo_command === null) this.#facts.helo_command = verb;
        // A command without a name (refused: RFC 5321 §4.1.1.1 requires one) names nothing;
        // it stays in the transcript only.
        if (name !== '') {
          if (this.#facts.helo === null) {
            this.#facts.helo_command = verb;
            this.#facts.helo = name;
          }
          if (this.#facts.helo_names.length < this.#listCap) this.#facts.helo_names.push(name);
        }
        // RFC 5321 §4.1.4: an accepted EHLO/HELO resets any open transaction; a refused one
        // (e.g. "501 Syntax: EHLO hostname") leaves it in place. The reply decides (#matchReply).
        if (this.#tx !== null && !this.#tx.done && !this.#tx.bytesEnded && this.#bodyTx === null) pending.resetTx = this.#tx;
        break;
      }
      case 'MAIL':
      case 'SEND':
      case 'SOML':
      case 'SAML': {
        // The transaction still open (a body that ended waits for its final reply instead: a
        // pipelined MAIL after the dot). It ends when this MAIL is accepted, not before: a refused
        // nested MAIL leaves it open (RFC 5321 §4.1.4).
        const open = this.#tx;
        if (open !== null && !open.done && !open.bytesEnded && this.#bodyTx !== open) pending.prevTx = open;
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
        const b = bdat!;
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
        const attempt: AuthAttempt = {
          exchange: null,
          mechanism: a.mechanism,
          first,
          awaiting: 0,
          cancelled: false,
          inferLeft: inferableResponses(a.mechanism, a.initialResponse !== null),
          inferred: 0,
          gapKept: false,
        };
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
        // Stop after this line: what follows may be a TLS ClientHello (see #clientData).
        this.#clientFramer.pause();
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
      // Its reply will never be matched: a body it carries ends without waiting for one, and a
      // transaction it would have replaced ends now.
      this.#dropPending(p, at);
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
    if (tx.sink !== null) return; // one message per transaction: never orphan an open sink
    const rcpt = tx.rec.rcpt_to.filter((r) => r.accepted !== false).map((r) => r.address);
    tx.sink = this.#ctx.openMessage({ transport: tx.transport, envelope: { mail_from: tx.rec.mail_from, rcpt_to: rcpt }, at });
    tx.rec.message_id = tx.sink.id;
    this.#openSinks.add(tx);
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
        this.#unparsed.add('server', bytes.length + 2, line, first, last);
        return;
      }
      this.#unparsed.flush('server');
      this.#serverMode = 'reply';
    }
    const b = this.#reply;
    if (r === null) {
      this.#ctx.anomaly('smtp_bad_reply_line', line.slice(0, 80), last);
      if (b !== null) {
        this.#appendReplyLine(b, line, line);
      } else {
        this.#unparsed.add('server', bytes.length + 2, line, first, last);
        this.#unparsed.flush('server');
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
      this.#unparsed.flush('client');
      if (reply.code === 354 && this.#pending.length === 0) {
        let tx = this.#currentTx(reply.first);
        if (tx.sink !== null) {
          // The transaction in progress already has a message (e.g. a BDAT cut by a gap): end it
          // before the body this 354 announces.
          this.#finishTx(tx, 'incomplete', null, reply.first);
          tx = this.#currentTx(reply.first);
        }
        tx.rec.body_command = 'DATA';
        tx.rec.data_reply_code = 354;
        tx.transport = 'smtp-data';
        this.#openMessage(tx, last);
        this.#bodyTx = tx;
        this.#bodyFirst = null;
        this.#unstuffer.begin();
        this.#clientMode = 'body';
        this.#pending.push({ verb: 'DATA', first: reply.first, tx, rcpt: null, probe: null, bdatLast: false, got354: true, lmtpLeft: 0, prevTx: null, resetTx: null });
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
      this.#midstream.note('first server reply is not a greeting', reply.first);
    }
    if (head === null) {
      if (this.#state !== 'after_gap') this.#ctx.anomaly('smtp_unmatched_reply', reply.lines[0].slice(0, 80), reply.first);
      this.#step({ kind: 'reply', verb: null, code: reply.code }, last);
      return;
    }
    const only = onlyAnswers(reply.code);
    if (only !== null && head.verb !== only) {
      // Replies come in command order (RFC 2920 §3.1), but some codes answer one command only.
      // A 334 while EHLO waits means EHLO's reply was lost (e.g. swallowed by a greeting without
      // CRLF): the commands before the one it fits lost their replies and leave the queue.
      const i = this.#pending.findIndex((p) => p.verb === only);
      if (i < 0) {
        this.#ctx.anomaly('smtp_unexpected_reply', `${reply.code} with no ${only} waiting (next: ${head.verb})`, reply.first);
        return;
      }
      const dropped = this.#pending.splice(0, i);
      this.#ctx.anomaly('smtp_reply_skipped', `${reply.code} answers ${only}: no reply seen for ${dropped.map((p) => p.verb).join(' ')}`, reply.first);
      for (const p of dropped) this.#dropPending(p, reply.first);
      this.#matchReply(this.#pending[0], reply);
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
      // A late 334 answers a response already taken as SASL by inference.
      if (auth.inferred > 0) auth.inferred--;
      else auth.awaiting++;
      const text = reply.text;
      this.#sasl(auth, (x) => x.serverChallenge(text), at);
      this.#step({ kind: 'reply', verb: 'AUTH', code }, at);
      return;
    }
    if (p.verb === 'DATA' && code === 354 && !p.got354) {
      p.got354 = true;
      const tx = p.tx;
      if (tx !== null) {
        tx.refusal = null;
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
    // Refusals that leave the server's open transaction in place (RFC 5321 §3.3, §4.1.4).
    let held: 'mail' | 'rcpt' | undefined;
    if (!replyOk(code)) {
      if (p.verb === 'DATA' && p.tx !== null && this.#dataRefusalKeepsTx(p, p.tx)) held = phaseOf(p.tx);
      else if (isMailVerb(p.verb) && p.prevTx !== null && this.#nestedMailRefusalKeepsTx(p)) held = phaseOf(p.prevTx);
    }
    this.#step({ kind: 'reply', verb: p.verb, code, last: p.bdatLast, held }, at);
    const tx = p.tx;
    if (tx !== null && !tx.done) tx.rec.frame_last = at.frame;

    switch (p.verb) {
      case 'HELO':
      case 'EHLO':
      case 'LHLO':
        if (replyOk(code) && p.resetTx !== null) {
          const open = p.resetTx;
          if (!open.done && !open.bytesEnded && this.#bodyTx !== open) this.#finishTx(open, 'reset', null, at);
        }
        if (replyOk(code) && p.verb !== 'HELO') {
          // RFC 5321 §4.1.1.1: the lines after the first name the extensions.
          this.#facts.capabilities = reply.lines.slice(1).map((l) => l.slice(4));
          this.#facts.starttls.offered = this.#facts.capabilities.some((c) => c.toUpperCase() === 'STARTTLS');
        }
        break;
      case 'MAIL':
      case 'SEND':
      case 'SOML':
      case 'SAML':
        if (tx !== null) this.#mailReply(p, tx, reply);
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
        else this.#releaseHold(false, at);
        break;
      default:
        break;
    }
  }

  /** The server accepted MAIL for this transaction, and it is still open. */
  #serverHoldsTx(tx: Tx): boolean {
    return !tx.done && !tx.bytesEnded && tx.rec.mail_reply_code !== null && replyOk(tx.rec.mail_reply_code);
  }

  /** A refusal of DATA before any body, in a transaction the server holds: it stays open. */
  #dataRefusalKeepsTx(p: Pending, tx: Tx): boolean {
    return (
      !p.got354 &&
      this.#bodyTx === tx &&
      this.#clientMode === 'body' &&
      tx.sink === null &&
      this.#bodyFirst === null &&
      this.#serverHoldsTx(tx)
    );
  }

  /** A refused nested MAIL while the server holds the earlier transaction: that one stays open. */
  #nestedMailRefusalKeepsTx(p: Pending): boolean {
    const prev = p.prevTx;
    const tx = p.tx;
    return prev !== null && tx !== null && !tx.done && tx.sink === null && this.#serverHoldsTx(prev);
  }

  #mailReply(p: Pending, tx: Tx, reply: Reply): void {
    const at = reply.last;
    tx.rec.mail_reply_code = reply.code;
    const prev = p.prevTx;
    if (!replyOk(reply.code) && prev !== null && this.#nestedMailRefusalKeepsTx(p)) {
      this.#mergeRefusedMail(tx, prev, reply, at);
      return;
    }
    // Accepted: the server started a new transaction and abandoned the one before.
    if (prev !== null && !prev.done) this.#finishTx(prev, 'incomplete', null, at);
    if (!replyOk(reply.code) && !tx.done && tx.sink === null && tx.rec.rcpt_to.length === 0) {
      this.#finishTx(tx, 'rejected', reply, at);
    }
  }

  /**
   * "503 sender already given": the refused MAIL is recorded as its own rejected transaction,
   * and whatever was pipelined after it (RCPT, DATA) went to the transaction the server holds.
   */
  #mergeRefusedMail(tx: Tx, prev: Tx, reply: Reply, at: At): void {
    const max = this.#ctx.limits.maxRecipients;
    for (const r of tx.rec.rcpt_to) {
      if (prev.rec.rcpt_to.length < max) prev.rec.rcpt_to.push(r);
      else prev.extraRcpts++;
    }
    prev.extraRcpts += tx.extraRcpts;
    tx.rec.rcpt_to = [];
    tx.extraRcpts = 0;
    if (tx.rec.body_command !== null) {
      prev.rec.body_command = tx.rec.body_command;
      prev.transport = tx.transport;
      prev.rec.bdat_chunks.push(...tx.rec.bdat_chunks);
      tx.rec.body_command = null;
      tx.rec.bdat_chunks = [];
    }
    for (const q of this.#pending) if (q.tx === tx) q.tx = prev;
    if (this.#bodyTx === tx) this.#bodyTx = prev;
    if (this.#bdatTxForGap === tx) this.#bdatTxForGap = null;
    if (this.#tx === tx) this.#tx = prev;
    prev.rec.frame_last = Math.max(prev.rec.frame_last, tx.rec.frame_last);
    this.#finishTx(tx, 'rejected', reply, at);
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
          // RFC 5321 §3.3: DATA refused (e.g. 503, 554 no valid recipients): no body follows.
          this.#bodyTx = null;
          this.#clientMode = 'command';
          // The server keeps a transaction it accepted MAIL for: RCPT and DATA may follow, and
          // a nested MAIL is refused ("503 sender already given"). The refusal is its final reply
          // if nothing better comes.
          if (this.#serverHoldsTx(tx)) tx.refusal = reply;
          else this.#finishTx(tx, 'rejected', reply, at);
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
    this.#unparsed.flush('client');
    this.#unparsed.flush('server');
    this.#ctx.transcript({ side: 'server', kind: 'tls', lines: [] }, reply.first, at);
    this.#serverFramer.pause();
    if (this.#decrypted) {
      // STARTTLS again inside TLS (RFC 3207 §4.2 forbids it): what follows is TLS inside TLS.
      this.#ctx.anomaly('smtp_starttls_inside_tls', 'a second STARTTLS was accepted inside the decrypted session', at);
      this.#decryptedStopped = true;
    } else {
      this.#facts.starttls.accepted = true;
      this.#facts.starttls.frame = at.frame;
      this.#facts.encrypted_from_frame = at.frame;
      this.#ctx.markEncrypted(at);
      this.#wireTls = true;
    }
    // Client bytes framed but not yet a line (injected cleartext) are dropped with the framer.
    this.#clientFramer.reset();
    if (this.#auth !== null) this.#finishAuth(null, at);
    const pending = this.#pending;
    this.#pending = [];
    for (const p of pending) this.#dropPending(p, at);
    const body = this.#bodyTx;
    this.#bodyTx = null;
    if (body !== null && !body.done) this.#finishTx(body, 'aborted', null, at);
    if (this.#tx !== null && !this.#tx.done) this.#finishTx(this.#tx, 'incomplete', null, at);
    if (this.#clientMode === 'body') this.#clientMode = 'command';
    // A ClientHello sent before this reply goes to the TLS layer first, in stream order.
    this.#releaseHold(true, at);
  }

  // #endregion

  // #region auth

  #sasl(auth: AuthAttempt, f: (x: SaslExchange) => void, at: At): void {
    saslStep(this.#ctx, auth, f, 'smtp_sasl_error', at);
  }

  /** Ends the AUTH attempt: 235 = success (RFC 4954 §6), 4xx/5xx = failure, null = unknown. */
  #finishAuth(reply: Reply | null, at: At): void {
    const auth = this.#auth;
    if (auth === null) return;
    this.#auth = null;
    const outcome: 'success' | 'failure' | 'unknown' =
      reply === null ? 'unknown' : reply.code === 235 ? 'success' : reply.code >= 400 ? 'failure' : 'unknown';
    const { mechanism, username } = saslCredential(
      this.#ctx,
      auth,
      { outcome, reply: reply === null ? null : reply.lines[0], last: reply?.last ?? at },
      { command: 'AUTH', errorCode: 'smtp_sasl_error' },
      at,
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
      refusal: null,
    };
    this.#tx = tx;
    return tx;
  }

  /** Finishes a transaction once: outcome, final reply, and the message record (sink.close). */
  #finishTx(tx: Tx, outcome: SmtpTransactionRecord['outcome'], reply: Reply | null, at: At): void {
    if (tx.done) return;
    tx.done = true;
    this.#openSinks.delete(tx);
    if (tx.refusal !== null && reply === null && (outcome === 'reset' || outcome === 'incomplete')) {
      // Its DATA was refused and no body followed: that refusal is how it ended.
      outcome = 'rejected';
      reply = tx.refusal;
    }
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


  // #endregion
}

function isMailVerb(verb: string): boolean {
  return verb === 'MAIL' || verb === 'SEND' || verb === 'SOML' || verb === 'SAML';
}

/** The phase of an open transaction, for the state machine: recipients accepted or not yet. */
function phaseOf(tx: Tx): 'mail' | 'rcpt' {
  return tx.rec.rcpt_to.some((r) => r.accepted === true) ? 'rcpt' : 'mail';
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
