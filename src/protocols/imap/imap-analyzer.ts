import type { At, MessageExcerpt, Side } from '../../core/types.js';
import type { CloseReason } from '../../reassembly/stream-handler.js';
import type { AnalyzerContext, MessageSink, ProtocolAnalyzer, SessionFacts } from '../analyzer.js';
import { FramerAnomalies } from '../framer-anomalies.js';
import { MidstreamNotes } from '../midstream-notes.js';
import { UnparsedRuns } from '../unparsed-runs.js';
import { SaslExchange } from '../sasl/sasl-exchange.js';
import { saslCredential, saslStep } from '../sasl/sasl-credential.js';
import { DeflateStream } from './deflate-stream.js';
import { ImapFramer } from './imap-framer.js';
import type { LiteralRoute } from './imap-framer.js';
import {
  IMAP_COMMANDS,
  fetchItems,
  flagList,
  idParams,
  mailboxName,
  parseCommandHead,
  parseResponseHead,
  sequenceSetCount,
  singleNumber,
} from './imap-commands.js';
import type { CommandHead, ResponseHead } from './imap-commands.js';
import { emptyImapFacts } from './imap-facts.js';
import type { ImapSessionFacts } from './imap-facts.js';
import { imapTransition } from './imap-states.js';
import type { ImapEvent, ImapState } from './imap-states.js';
import { nstring, tokenString, tokenize } from './imap-tokenizer.js';
import type { ImapToken, LiteralMarker, LiteralValue } from './imap-tokenizer.js';

/** Detail of `imap_midstream`. */
const MIDSTREAM_DETAIL = 'capture starts inside the session';

/** Longest unknown-command line kept in facts.unknown_commands (characters). */
const UNKNOWN_COMMAND_KEEP_CHARS = 256;
/** Kept literals at most this long are shown inline (quoted) in a command's argument. */
const INLINE_LITERAL_CHARS = 1024;
/** Key/value pairs kept from an ID list. */
const ID_MAX_PAIRS = 30;
/** Characters kept per logical line (segments + kept literals), as a multiple of maxLineBytes. */
const LOGICAL_LINE_FACTOR = 16;

type Delivery = Record<string, string | number | boolean | null | string[]>;
type Outcome = 'ok' | 'no' | 'bad' | 'unknown';

function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

/** A message being rebuilt from a literal. */
interface OpenMessage {
  readonly sink: MessageSink;
  readonly size: number;
  readonly first: At;
  /** FETCH: the attribute (`BODY[]`, `RFC822`, `BODY[HEADER]<0>` ...); APPEND: null. */
  readonly attribute: string | null;
  readonly section: string | null;
  readonly origin: string | null;
  readonly whole: boolean;
  /** FETCH of less than the whole message: what the bytes are. */
  readonly excerpt: MessageExcerpt | undefined;
  /** APPEND: mailbox, flags and date given with this message. */
  readonly mailbox: string | null;
  readonly flags: string[];
  readonly date: string | null;
  ended: boolean;
  missing: number;
}

/** One side's logical line being assembled (segments and the literals between them). */
interface Assembly {
  segments: string[];
  literals: LiteralValue[];
  first: At;
  chars: number;
  dropped: boolean;
  /** Client: the command head (null: not a command). */
  command: CommandHead | null;
  /** Server: the response head. */
  response: ResponseHead | null;
  /** Server: an untagged FETCH whose literals may be messages. */
  isFetch: boolean;
  /** Messages opened by literals of this line. */
  messages: OpenMessage[];
  /** The literal being received now streams into this message (null: not a message). */
  current: OpenMessage | null;
}

/** A command waiting for its tagged completion. */
interface Pending {
  readonly tag: string;
  readonly command: string;
  readonly verb: string;
  readonly uid: boolean;
  readonly tokens: ImapToken[];
  readonly first: At;
  readonly line: string;
  /** FETCH responses received while it was pending. */
  fetches: number;
  /** Messages rebuilt from FETCH responses while it was pending. */
  messages: number;
  expunges: number;
  searchResults: number | null;
  exists: number | null;
  uidvalidity: number | null;
  /** APPEND messages, closed at the completion. */
  appends: OpenMessage[];
  /** The mailbox selected when the command was sent. */
  readonly mailbox: string | null;
}

/** An AUTHENTICATE exchange (RFC 3501 §6.2.2, RFC 4959 SASL-IR). */
interface AuthAttempt {
  readonly tag: string;
  exchange: SaslExchange | null;
  readonly mechanism: string;
  readonly first: At;
  /** "+" challenges not yet answered by a client line. */
  awaiting: number;
  cancelled: boolean;
}

/** How one side's bytes are consumed. */
type Mode = 'plain' | 'inflate' | 'counted';

const FETCH_MESSAGE_ATTR = /(?:^|[ (])((?:BODY|BINARY)\[([^\]]*)\](?:<([0-9]+)>)?|RFC822(?:\.HEADER|\.TEXT)?) ?~?\{[0-9]+\+?\}$/i;

/**
 * What a FETCH item that is not the whole message carries (RFC 3501 §6.4.5, RFC 9051 §6.4.5):
 * `'head'` when its bytes start with a header block (HEADER, HEADER.FIELDS [.NOT], a part's MIME
 * header, RFC822.HEADER, or the message's first octets: `BODY[]<0>`), `'content'` otherwise (TEXT,
 * a part's body, RFC822.TEXT, octets from past the start). `attribute` is upper case.
 */
export function fetchExcerpt(attribute: string, section: string | null, origin: string | null): MessageExcerpt {
  if (origin !== null && !/^0+$/.test(origin)) return 'content';
  if (attribute === 'RFC822.HEADER') return 'head';
  if (section === null) return 'content';
  if (section === '') return 'head';
  const text = section.toUpperCase().replace(/^[0-9]+(?:\.[0-9]+)*\.?/, '');
  return text.startsWith('HEADER') || text === 'MIME' ? 'head' : 'content';
}

/**
 * IMAP4rev1 / IMAP4rev2 analyzer for one connection (RFC 3501, RFC 9051, with LITERAL+ 7888,
 * BINARY 3516, SASL-IR 4959, ID 2971, IDLE 2177, COMPRESS 4978, MOVE 6851, UIDPLUS 4315, ENABLE 5161).
 *
 * Framing (lines and literals) is done per side by {@link ImapFramer}; message literals stream
 * straight into message sinks. Logical lines are tokenized into a token tree; tagged completions
 * are matched to commands by tag. Emits transcript entries, credentials, messages (FETCH and
 * APPEND), mailbox events and anomalies through the context. Never throws on hostile input.
 */
export class ImapAnalyzer implements ProtocolAnalyzer {
  readonly protocol = 'imap' as const;
  readonly #ctx: AnalyzerContext;
  readonly #clientFramer: ImapFramer;
  readonly #serverFramer: ImapFramer;
  readonly #facts: ImapSessionFacts = emptyImapFacts();
  readonly #listCap: number;
  readonly #maxLogicalChars: number;

  #state: ImapState = 'connected';
  #mode: Record<Side, Mode> = { client: 'plain', server: 'plain' };
  #sync: Record<Side, boolean> = { client: false, server: false };
  #inflate: Record<Side, DeflateStream | null> = { client: null, server: null };
  #encrypted = { client: 0, server: 0 };
  /**
   * STARTTLS accepted: wire bytes (onData/onGap) are TLS records handed to the context; plaintext
   * comes back through onDecrypted and is parsed as a fresh phase (modes above apply to it).
   */
  #tls = false;
  #counted = { client: 0, server: 0 };
  #asm: Record<Side, Assembly | null> = { client: null, server: null };
  readonly #pending = new Map<string, Pending>();
  #auth: AuthAttempt | null = null;
  #idleTag: string | null = null;
  #mailbox: string | null = null;
  #greeted = false;
  #loginDisabled = false;
  readonly #framerAnomalies: FramerAnomalies;
  readonly #unparsed: UnparsedRuns;
  #unknownReported = false;
  readonly #midstreamNotes: MidstreamNotes;
  #commands = 0;
  #replies = 0;
  #closed = false;

  constructor(ctx: AnalyzerContext) {
    this.#ctx = ctx;
    this.#framerAnomalies = new FramerAnomalies(ctx, 'imap_bare_lf');
    this.#unparsed = new UnparsedRuns(ctx);
    this.#midstreamNotes = new MidstreamNotes(ctx, this.#unparsed, 'imap_midstream');
    const max = ctx.limits.maxLineBytes;
    this.#listCap = ctx.limits.maxTranscriptEntriesPerSession;
    this.#maxLogicalChars = Math.max(max, max * LOGICAL_LINE_FACTOR);
    const mk = (side: Side): ImapFramer =>
      new ImapFramer(
        {
          onSegment: (seg, lit, first, last) => this.#segment(side, seg, lit, first, last),
          onLiteralData: (bytes, at) => {
            const m = this.#asm[side]?.current;
            if (m != null && !m.ended) m.sink.write(bytes, at);
          },
          onLiteralGap: (length, at) => {
            const m = this.#asm[side]?.current;
            if (m != null && !m.ended) {
              m.sink.gap(length, at);
              m.missing += length;
            }
          },
          onLiteralEnd: (value, at) => this.#literalEnd(side, value, at),
          onAnomaly: (code, detail, at) => this.#framerAnomalies.report(code, detail, at),
        },
        max,
        max,
      );
    this.#clientFramer = mk('client');
    this.#serverFramer = mk('server');
    if (!ctx.conn.sawHandshake) {
      this.#sync = { client: true, server: true };
      this.#state = 'after_gap';
    }
  }

  // #region input

  onData(side: Side, bytes: Uint8Array, at: At): void {
    if (this.#closed || bytes.length === 0) return;
    this.#consume(side, bytes, at, true);
  }

  /**
   * Plaintext of the TLS session started by STARTTLS. RFC 9051 §6.2.1 / RFC 3501 §6.2.1: the server
   * sends no new greeting; the client usually re-issues CAPABILITY, then authenticates. Framing
   * restarts clean; facts gathered before TLS are kept.
   */
  onDecrypted(side: Side, bytes: Uint8Array, at: At): void {
    if (this.#closed || bytes.length === 0 || !this.#tls) return;
    if (this.#state === 'tls') this.#step({ kind: 'tls-restart' }, at);
    this.#consume(side, bytes, at, false);
  }

  /** `wire`: bytes from onData (TLS records once STARTTLS was accepted), not decrypted plaintext. */
  #consume(side: Side, bytes: Uint8Array, at: At, wire: boolean): void {
    let off = 0;
    const len = bytes.length;
    while (off < len) {
      const mode = this.#mode[side];
      const rest = off === 0 ? bytes : bytes.subarray(off);
      if (wire && this.#tls) {
        // Everything after the tagged OK line, in this chunk too, is TLS (RFC 3501 §6.2.1).
        if (side === 'server' && this.#encrypted.server === 0 && this.#encrypted.client === 0) {
          // The server's TLS bytes only answer the client's ClientHello (RFC 3501 §6.2.1, RFC 2595 §3.1).
          this.#ctx.anomaly('imap_starttls_injection', 'server bytes after the STARTTLS OK before any client TLS bytes', at);
        }
        this.#encrypted[side] += rest.length;
        this.#ctx.encryptedData(side, rest, at);
        return;
      }
      switch (mode) {
        case 'counted':
          this.#counted[side] += rest.length;
          return;
        case 'inflate':
          this.#inflateData(side, rest, at);
          return;
        case 'plain':
          off += this.#framer(side).push(rest, at);
          break;
      }
    }
  }

  #framer(side: Side): ImapFramer {
    return side === 'client' ? this.#clientFramer : this.#serverFramer;
  }

  #inflateData(side: Side, bytes: Uint8Array, at: At): void {
    const z = this.#inflate[side];
    if (z === null) {
      this.#counted[side] += bytes.length;
      return;
    }
    const framer = this.#framer(side);
    const r = z.push(bytes, (out) => {
      let off = 0;
      // A mode change inside inflated data (not allowed after COMPRESS) leaves the rest unparsed.
      while (off < out.length && this.#mode[side] === 'inflate') off += framer.push(off === 0 ? out : out.subarray(off), at);
    });
    if (r !== 'ok') {
      this.#ctx.anomaly(r === 'bomb' ? 'imap_compress_bomb' : 'imap_compress_unsupported', `${side}: ${z.failure ?? r}`, at);
      this.#mode[side] = 'counted';
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
    const mode = this.#mode[side];
    if (mode !== 'plain') {
      // A hole in a deflate stream cannot be bridged: the rest is counted.
      if (mode === 'inflate') this.#ctx.anomaly('imap_compress_unsupported', `${side}: gap inside the compressed stream`, at);
      this.#mode[side] = 'counted';
      this.#counted[side] += length;
      return;
    }
    this.#unparsed.flush(side);
    const framer = this.#framer(side);
    const inLit = framer.gap(length, at);
    if (length > inLit) {
      // The logical line is broken: what was assembled is written as far as known.
      const asm = this.#asm[side];
      if (asm !== null) {
        this.#asm[side] = null;
        this.#abandon(side, asm, at);
      }
      this.#sync[side] = true;
      if (side === 'client' && this.#auth !== null) this.#finishAuth(null, at);
      this.#step({ kind: 'gap' }, at);
    }
  }

  onSideEnd(_side: Side, _reason: 'fin' | 'rst', _at: At): void {
    // onClose finishes what is open.
  }

  onClose(_reason: CloseReason, at: At): void {
    if (this.#closed) return;
    for (const side of ['client', 'server'] as const) {
      this.#unparsed.flush(side);
      const asm = this.#asm[side];
      if (asm !== null) {
        this.#asm[side] = null;
        const framer = this.#framer(side);
        if (framer.inLiteral) {
          this.#ctx.anomaly('imap_literal_incomplete', `${side}: session ended inside a literal`, at);
          // The literal's size says how much of the message never came: known missing bytes.
          const m = asm.current;
          const left = framer.literalLeft;
          if (m !== null && !m.ended && left > 0) {
            m.sink.gap(left, at);
            m.missing += left;
          }
        }
        this.#abandon(side, asm, at);
      }
      this.#inflate[side]?.close();
    }
    if (this.#auth !== null) this.#finishAuth(null, at);
    for (const p of this.#pending.values()) this.#finishUnanswered(p, at);
    this.#pending.clear();
    if (this.#encrypted.client > 0 || this.#encrypted.server > 0 || this.#facts.starttls.accepted) {
      this.#facts.encrypted_bytes = { ...this.#encrypted };
    }
    if (this.#facts.compress.accepted) {
      this.#facts.compressed_bytes = {
        client: this.#inflate.client?.compressedBytes ?? this.#counted.client,
        server: this.#inflate.server?.compressedBytes ?? this.#counted.server,
      };
    }
    this.#closed = true;
  }

  summary(): { commands: number; replies: number; facts: SessionFacts; transport: 'cleartext' | 'starttls' | 'tls' } {
    return {
      commands: this.#commands,
      replies: this.#replies,
      facts: { imap: this.#facts },
      transport: this.#facts.starttls.accepted ? 'starttls' : 'cleartext',
    };
  }

  // #endregion

  // #region framing callbacks

  #segment(side: Side, seg: Uint8Array, lit: LiteralMarker | null, first: At, last: At): LiteralRoute {
    let asm = this.#asm[side];
    const text = latin1(seg);
    if (asm === null) {
      const started = side === 'client' ? this.#clientFirst(text, seg.length, lit, first, last) : this.#serverFirst(text, seg.length, lit, first, last);
      if (started === null) return 'stream'; // not assembled: any literal is skipped unparsed
      asm = started;
      this.#asm[side] = asm;
    } else {
      this.#addSegment(asm, text, last);
    }
    if (lit === null) {
      this.#asm[side] = null;
      if (side === 'client') this.#clientLine(asm, last);
      else this.#serverLine(asm, last);
      return 'keep';
    }
    // A literal follows: decide whether it is a message.
    asm.current = null;
    if (lit.size > 0) {
      if (side === 'server' && asm.isFetch) asm.current = this.#openFetchMessage(asm, text, lit, last);
      else if (side === 'client' && asm.command !== null && asm.command.verb === 'APPEND') asm.current = this.#openAppendMessage(asm, text, lit, last);
    }
    if (asm.current !== null) return 'stream';
    return asm.dropped ? 'stream' : 'keep';
  }

  #newAssembly(text: string, first: At): Assembly {
    return {
      segments: [text],
      literals: [],
      first,
      chars: text.length,
      dropped: false,
      command: null,
      response: null,
      isFetch: false,
      messages: [],
      current: null,
    };
  }

  #addSegment(asm: Assembly, text: string, at: At): void {
    if (asm.dropped) return;
    if (asm.segments.length > this.#ctx.limits.maxReplyLines || asm.chars + text.length > this.#maxLogicalChars) {
      asm.dropped = true;
      this.#ctx.anomaly('imap_too_many_literals', `logical line with more than ${asm.segments.length} segments or ${this.#maxLogicalChars} characters cut`, at);
      return;
    }
    asm.segments.push(text);
    asm.chars += text.length;
  }

  #literalEnd(side: Side, value: LiteralValue, at: At): void {
    const asm = this.#asm[side];
    if (asm === null) return;
    if (!asm.dropped && asm.literals.length < asm.segments.length) {
      asm.literals.push(value);
      if (value.bytes !== null) asm.chars += value.bytes.length;
    }
    if (value.missing > 0) this.#ctx.anomaly('imap_literal_incomplete', `${side}: ${value.missing} of ${value.size} literal bytes missing`, at);
    // A refused synchronizing literal (cancelled, nothing sent) leaves no data entry.
    if (value.size === 0 || value.missing < value.size) this.#ctx.transcript({ side, kind: 'data', lines: [], bytes: value.size - value.missing }, at, at);
    const m = asm.current;
    asm.current = null;
    if (m !== null && !m.ended) {
      m.ended = true;
      m.sink.endBytes(value.missing === 0, at, m.excerpt);
    }
  }

  /** The logical line was cut (gap, end of session): messages end partial, the line is written as far as seen. */
  #abandon(side: Side, asm: Assembly, at: At): void {
    for (const m of asm.messages) {
      if (!m.ended) {
        m.ended = true;
        m.sink.endBytes(false, at, m.excerpt);
      }
    }
    if (side === 'client') {
      if (asm.command !== null) this.#clientLine(asm, at);
      else for (const m of asm.messages) m.sink.close({ outcome: 'unknown' }, at);
    } else {
      this.#serverLine(asm, at);
    }
  }

  // #endregion

  // #region client

  /** First segment of a client logical line. Null when it is consumed otherwise (SASL, DONE, unparsed). */
  #clientFirst(text: string, bytes: number, lit: LiteralMarker | null, first: At, last: At): Assembly | null {
    // RFC 3501 §6.2.2: after a "+" challenge the next client line is the SASL response.
    const auth = this.#auth;
    if (auth !== null && auth.awaiting > 0 && lit === null) {
      auth.awaiting--;
      this.#ctx.transcript({ side: 'client', kind: 'auth', lines: [text] }, first, last);
      if (text === '*') auth.cancelled = true;
      this.#sasl(auth, (x) => x.clientResponse(text), last);
      return null;
    }
    // RFC 2177: IDLE ends with DONE.
    if (this.#idleTag !== null && lit === null && text.toUpperCase() === 'DONE') {
      this.#ctx.transcript({ side: 'client', kind: 'command', command: 'DONE', argument: '', tag: this.#idleTag, lines: [text] }, first, last);
      this.#commands++;
      this.#idleTag = null;
      return null;
    }
    const head = parseCommandHead(text);
    if (this.#sync.client) {
      if (head === null || !IMAP_COMMANDS.has(head.verb)) {
        this.#midstream('client', text, bytes, first, last);
        return null;
      }
      this.#unparsed.flush('client');
      this.#sync.client = false;
    }
    const asm = this.#newAssembly(text, first);
    asm.command = head;
    if (head === null) {
      this.#ctx.anomaly('imap_bad_command_line', text.slice(0, 80), first);
    }
    return asm;
  }

  #openAppendMessage(asm: Assembly, text: string, lit: LiteralMarker, at: At): OpenMessage | null {
    // RFC 3501 §6.3.11: APPEND mailbox [flag-list] [date-time] literal; RFC 3502 MULTIAPPEND repeats
    // the last three. RFC 4469 CATENATE TEXT literals are parts, not messages.
    if (/(?:^|[ (])TEXT ?~?\{[0-9]+\+?\}$/i.test(text) && /CATENATE/i.test(asm.segments.join(' '))) return null;
    const first = asm.segments.length === 1;
    const toks = tokenize([text], [], first ? asm.command!.argStart : 0).tokens;
    let i = 0;
    let mailbox: string | null = null;
    if (first) {
      mailbox = tokenString(toks[0]);
      i = 1;
    } else {
      mailbox = asm.messages.length > 0 ? asm.messages[0]!.mailbox : null;
    }
    let flags: string[] = [];
    let date: string | null = null;
    for (; i < toks.length; i++) {
      const t = toks[i]!;
      if (t.kind === 'list') flags = flagList(t);
      else if (t.kind === 'quoted') date = t.value;
    }
    const sink = this.#ctx.openMessage({ transport: 'imap-append', envelope: null, at });
    const m: OpenMessage = {
      sink,
      size: lit.size,
      first: at,
      attribute: null,
      section: null,
      origin: null,
      whole: true,
      excerpt: undefined,
      mailbox: mailbox === null ? null : mailboxName(mailbox),
      flags,
      date,
      ended: false,
      missing: 0,
    };
    asm.messages.push(m);
    return m;
  }

  /** A complete client logical line: a command. */
  #clientLine(asm: Assembly, last: At): void {
    const head = asm.command;
    const line0 = asm.segments[0]!;
    if (head === null) {
      this.#ctx.transcript({ side: 'client', kind: 'unparsed', lines: asm.segments, bytes: asm.chars }, asm.first, last);
      return;
    }
    this.#commands++;
    const { tokens, errors } = tokenize(asm.segments, asm.literals, head.argStart);
    this.#syntax(errors, asm.first);
    const argument = this.#argument(asm, head.argStart);
    this.#ctx.transcript(
      { side: 'client', kind: 'command', command: head.command, argument, tag: head.tag, lines: asm.segments },
      asm.first,
      last,
    );
    const byName = this.#facts.commands_by_name;
    const key = head.command in byName || Object.keys(byName).length < 200 ? head.command : 'OTHER';
    byName[key] = (byName[key] ?? 0) + 1;
    if (!IMAP_COMMANDS.has(head.verb)) {
      if (this.#facts.unknown_commands.length < this.#listCap) this.#facts.unknown_commands.push(line0.slice(0, UNKNOWN_COMMAND_KEEP_CHARS));
      if (!this.#unknownReported) {
        this.#unknownReported = true;
        this.#ctx.anomaly('imap_unknown_command', head.command, asm.first);
      }
    }
    this.#step({ kind: 'command', verb: head.verb }, asm.first);
    if (this.#pending.has(head.tag)) {
      this.#ctx.anomaly('imap_duplicate_tag', head.tag, asm.first);
      const old = this.#pending.get(head.tag)!;
      this.#pending.delete(head.tag);
      this.#finishUnanswered(old, asm.first);
    }
    // With the limit at 0 the queue is empty here: the new command is still tracked (alone).
    const oldest = this.#pending.size >= this.#ctx.limits.maxPendingCommands ? (this.#pending.values().next().value as Pending | undefined) : undefined;
    if (oldest !== undefined) {
      this.#pending.delete(oldest.tag);
      this.#ctx.anomaly('imap_pending_overflow', `dropped ${oldest.command} ${oldest.tag}`, asm.first);
      this.#finishUnanswered(oldest, asm.first);
    }
    const p: Pending = {
      tag: head.tag,
      command: head.command,
      verb: head.verb,
      uid: head.uid,
      tokens,
      first: asm.first,
      line: line0,
      fetches: 0,
      messages: 0,
      expunges: 0,
      searchResults: null,
      exists: null,
      uidvalidity: null,
      appends: asm.messages,
      mailbox: this.#mailbox,
    };
    this.#pending.set(head.tag, p);
    switch (head.verb) {
      case 'AUTHENTICATE': {
        const mech = (tokenString(tokens[0]) ?? '').toUpperCase();
        // RFC 4959 SASL-IR: the initial response follows the mechanism; "=" means empty.
        const irRaw = tokenString(tokens[1]);
        const ir = irRaw === null ? null : irRaw === '=' ? '' : irRaw;
        let exchange: SaslExchange | null = null;
        try {
          exchange = new SaslExchange(mech, ir);
        } catch (e) {
          this.#ctx.anomaly('imap_sasl_error', String(e).slice(0, 200), asm.first);
        }
        if (this.#auth !== null) this.#finishAuth(null, asm.first);
        this.#auth = { tag: head.tag, exchange, mechanism: mech, first: asm.first, awaiting: 0, cancelled: false };
        break;
      }
      case 'LOGIN':
        if (this.#loginDisabled) this.#ctx.anomaly('imap_login_disabled', 'LOGIN after LOGINDISABLED', asm.first);
        break;
      case 'ID': {
        const id = idParams(tokens[0], ID_MAX_PAIRS);
        if (id !== null) this.#facts.client_id = id;
        break;
      }
      case 'IDLE':
        this.#idleTag = head.tag;
        this.#facts.idle++;
        break;
      case 'STARTTLS':
        this.#facts.starttls.requested = true;
        break;
      case 'COMPRESS':
        this.#facts.compress.mechanism = (tokenString(tokens[0]) ?? '').toUpperCase();
        break;
      case 'LOGOUT':
        this.#facts.logout = true;
        break;
      default:
        break;
    }
  }

  /** The argument as sent, with small kept literals shown inline as quoted strings. */
  #argument(asm: Assembly, start: number): string {
    let s = '';
    for (let i = 0; i < asm.segments.length; i++) {
      let seg = i === 0 ? asm.segments[0]!.slice(start) : asm.segments[i]!;
      const lit = i < asm.literals.length ? asm.literals[i]! : null;
      if (lit !== null && lit.bytes !== null && lit.bytes.length <= INLINE_LITERAL_CHARS) {
        const m = /~?\{[0-9]+\+?\}$/.exec(seg);
        if (m !== null) seg = `${seg.slice(0, m.index)}"${latin1(lit.bytes).replace(/["\\]/g, '\\$&')}"`;
      }
      s += seg;
    }
    return s;
  }

  // #endregion

  // #region server

  #serverFirst(text: string, bytes: number, lit: LiteralMarker | null, first: At, last: At): Assembly | null {
    const head = parseResponseHead(text);
    if (this.#sync.server) {
      if (head.kind === 'unknown' || (head.kind === 'status' && head.tag !== null && !this.#pending.has(head.tag) && head.status !== 'OK')) {
        this.#midstream('server', text, bytes, first, last);
        return null;
      }
      this.#unparsed.flush('server');
      this.#sync.server = false;
    }
    if (head.kind === 'continuation' && lit === null) {
      this.#continuation(text, head.text, first, last);
      return null;
    }
    const asm = this.#newAssembly(text, first);
    asm.response = head;
    asm.isFetch = head.kind === 'data' && head.name === 'FETCH' && head.number !== null;
    return asm;
  }

  #openFetchMessage(asm: Assembly, text: string, lit: LiteralMarker, at: At): OpenMessage | null {
    const m = FETCH_MESSAGE_ATTR.exec(text);
    if (m === null) return null;
    const attribute = m[1]!.toUpperCase();
    const section = m[2] !== undefined ? m[2] : null;
    const origin = m[3] !== undefined ? m[3] : null;
    // RFC 3501 §7.4.2: BODY[] / RFC822 / BINARY[] (RFC 3516) without <origin> is the whole message.
    const whole = origin === null && (attribute === 'RFC822' || section === '');
    const sink = this.#ctx.openMessage({ transport: 'imap-fetch', envelope: null, at });
    const om: OpenMessage = {
      sink,
      size: lit.size,
      first: at,
      attribute: m[1]!,
      section,
      origin,
      whole,
      excerpt: whole ? undefined : fetchExcerpt(attribute, section, origin),
      mailbox: this.#mailbox,
      flags: [],
      date: null,
      ended: false,
      missing: 0,
    };
    asm.messages.push(om);
    return om;
  }

  /** RFC 3501 §7.5 command continuation request. */
  #continuation(line: string, text: string, first: At, last: At): void {
    this.#replies++;
    const auth = this.#auth;
    if (auth !== null) {
      auth.awaiting++;
      this.#ctx.transcript({ side: 'server', kind: 'auth', status: '+', tag: auth.tag, lines: [line] }, first, last);
      this.#sasl(auth, (x) => x.serverChallenge(text), last);
      return;
    }
    this.#ctx.transcript({ side: 'server', kind: 'reply', status: '+', lines: [line] }, first, last);
    const expected = this.#clientFramer.inLiteral || this.#idleTag !== null || this.#asm.client !== null || this.#pending.size > 0;
    if (!expected && this.#greeted) this.#ctx.anomaly('imap_unexpected_continuation', line.slice(0, 80), first);
  }

  /** A complete server response (logical line). */
  #serverLine(asm: Assembly, last: At): void {
    const head = asm.response ?? { kind: 'unknown' as const };
    const line0 = asm.segments[0]!;
    this.#replies++;
    switch (head.kind) {
      case 'continuation':
        // A continuation that carried a literal (unusual): recorded as a reply.
        this.#ctx.transcript({ side: 'server', kind: 'reply', status: '+', lines: asm.segments }, asm.first, last);
        this.#closeFetchMessages(asm, null, last);
        return;
      case 'unknown':
        this.#ctx.anomaly('imap_bad_response_line', line0.slice(0, 80), asm.first);
        this.#ctx.transcript({ side: 'server', kind: 'unparsed', lines: asm.segments, bytes: asm.chars }, asm.first, last);
        this.#closeFetchMessages(asm, null, last);
        return;
      case 'status':
        if (head.tag !== null) this.#completion(asm, head, last);
        else this.#untaggedStatus(asm, head, last);
        return;
      case 'data':
        this.#untaggedData(asm, head, last);
        return;
    }
  }

  #untaggedStatus(asm: Assembly, head: Extract<ResponseHead, { kind: 'status' }>, last: At): void {
    this.#ctx.transcript({ side: 'server', kind: 'reply', status: head.status, lines: asm.segments }, asm.first, last);
    this.#respCode(head.code, this.#pendingFor(['SELECT', 'EXAMINE']));
    if (!this.#greeted) {
      this.#greeted = true;
      if (head.status === 'OK' || head.status === 'PREAUTH' || head.status === 'BYE') {
        // RFC 3501 §7.1: the greeting.
        this.#facts.greeting = head.text;
        this.#facts.greeting_status = head.status;
        if (head.status === 'BYE') this.#facts.bye = head.text;
        this.#step({ kind: 'greeting', status: head.status }, last);
        return;
      }
    }
    if (head.status === 'BYE') {
      this.#facts.bye = head.text;
      this.#step({ kind: 'bye' }, last);
    }
    if (head.status === 'PREAUTH') this.#step({ kind: 'greeting', status: 'PREAUTH' }, last);
  }

  /** Response codes that carry facts (RFC 3501 §7.1, RFC 4315 UIDPLUS). */
  #respCode(code: string | null, p: Pending | null): void {
    if (code === null) return;
    const sp = code.indexOf(' ');
    const name = (sp < 0 ? code : code.slice(0, sp)).toUpperCase();
    const rest = sp < 0 ? '' : code.slice(sp + 1);
    switch (name) {
      case 'CAPABILITY':
        this.#capabilities(rest.split(' ').filter((x) => x !== ''));
        break;
      case 'UIDVALIDITY':
        if (p !== null && /^[0-9]+$/.test(rest)) p.uidvalidity = Number(rest);
        break;
      default:
        break;
    }
  }

  #capabilities(caps: string[]): void {
    this.#facts.capabilities = caps.slice(0, 1000);
    const up = caps.map((c) => c.toUpperCase());
    this.#facts.starttls.offered = up.includes('STARTTLS');
    this.#loginDisabled = up.includes('LOGINDISABLED');
  }

  /** The pending command an untagged response belongs to: the oldest one of the given verbs, else null. */
  #pendingFor(verbs: readonly string[]): Pending | null {
    for (const p of this.#pending.values()) if (verbs.includes(p.verb)) return p;
    return null;
  }

  #untaggedData(asm: Assembly, head: Extract<ResponseHead, { kind: 'data' }>, last: At): void {
    this.#ctx.transcript({ side: 'server', kind: 'reply', command: head.name, lines: asm.segments }, asm.first, last);
    if (!this.#greeted && !this.#ctx.conn.sawHandshake) this.#midstreamNotes.note(MIDSTREAM_DETAIL, asm.first);
    const name = head.name;
    const needTokens = name !== 'EXISTS' && name !== 'RECENT' && name !== 'EXPUNGE';
    const tz = needTokens ? tokenize(asm.segments, asm.literals, head.restStart) : null;
    if (tz !== null) this.#syntax(tz.errors, asm.first);
    const tokens = tz?.tokens ?? [];
    switch (name) {
      case 'CAPABILITY':
        this.#capabilities(tokens.map((t) => tokenString(t)).filter((x): x is string => x !== null));
        break;
      case 'EXISTS': {
        const p = this.#pendingFor(['SELECT', 'EXAMINE']);
        if (p !== null) p.exists = head.number;
        break;
      }
      case 'EXPUNGE': {
        this.#facts.messages_expunged++;
        const p = this.#pendingFor(['EXPUNGE', 'MOVE', 'CLOSE']);
        if (p !== null) p.expunges++;
        break;
      }
      case 'VANISHED': {
        // RFC 7162 §3.2.10: VANISHED [(EARLIER)] uid-set.
        const set = tokenString(tokens[tokens.length - 1]);
        const earlier = tokens[0]?.kind === 'list';
        if (!earlier && set !== null) {
          const n = sequenceSetCount(set) ?? 1;
          this.#facts.messages_expunged += n;
          const p = this.#pendingFor(['EXPUNGE', 'MOVE', 'CLOSE']);
          if (p !== null) p.expunges += n;
        }
        break;
      }
      case 'FETCH':
        this.#fetchResponse(asm, head.number, tokens, last);
        return;
      case 'SEARCH':
      case 'SORT': {
        const p = this.#pendingFor(['SEARCH', 'SORT']);
        if (p !== null) p.searchResults = (p.searchResults ?? 0) + tokens.filter((t) => t.kind === 'atom' && /^[0-9]+$/.test(t.value)).length;
        break;
      }
      case 'ESEARCH': {
        const p = this.#pendingFor(['SEARCH', 'SORT']);
        for (let i = 0; i + 1 < tokens.length; i++) {
          const k = tokenString(tokens[i]);
          if (p !== null && k !== null && k.toUpperCase() === 'COUNT') p.searchResults = Number(tokenString(tokens[i + 1])) || 0;
        }
        break;
      }
      case 'LIST':
      case 'LSUB':
      case 'XLIST': {
        // RFC 3501 §7.2.2: LIST (attributes) delimiter name.
        const nm = tokens.length >= 3 ? tokenString(tokens[2]) : null;
        if (nm !== null) {
          const mb = mailboxName(nm);
          const list = this.#facts.mailboxes_listed;
          if (list.length < this.#listCap && !list.includes(mb)) list.push(mb);
        }
        break;
      }
      case 'ID': {
        const id = idParams(tokens[0], ID_MAX_PAIRS);
        if (id !== null) this.#facts.server_id = id;
        break;
      }
      case 'ENABLED':
        for (const t of tokens) {
          const s = tokenString(t);
          if (s !== null && !this.#facts.enabled.includes(s.toUpperCase()) && this.#facts.enabled.length < 100) this.#facts.enabled.push(s.toUpperCase());
        }
        break;
      default:
        break;
    }
    this.#closeFetchMessages(asm, null, last);
  }

  /** `* n FETCH (...)`: closes the messages its literals opened, with UID/FLAGS known only now. */
  #fetchResponse(asm: Assembly, seq: number | null, tokens: ImapToken[], last: At): void {
    const p = this.#pendingFor(['FETCH', 'STORE']);
    if (p !== null) p.fetches++;
    let uid: number | null = null;
    let flags: string[] | null = null;
    let internalDate: string | null = null;
    let size: number | null = null;
    for (const it of fetchItems(tokens[0])) {
      switch (it.name) {
        case 'UID': {
          const v = tokenString(it.value);
          if (v !== null && /^[0-9]{1,10}$/.test(v)) uid = Number(v);
          break;
        }
        case 'FLAGS':
          flags = flagList(it.value);
          break;
        case 'INTERNALDATE':
          internalDate = nstring(it.value);
          break;
        case 'RFC822.SIZE': {
          const v = tokenString(it.value);
          if (v !== null && /^[0-9]{1,15}$/.test(v)) size = Number(v);
          break;
        }
        default:
          break;
      }
    }
    const info = { seq, uid, flags, internalDate, size, pending: p };
    this.#closeFetchMessages(asm, info, last);
  }

  #closeFetchMessages(
    asm: Assembly,
    info: { seq: number | null; uid: number | null; flags: string[] | null; internalDate: string | null; size: number | null; pending: Pending | null } | null,
    last: At,
  ): void {
    for (const m of asm.messages) {
      if (!m.ended) {
        m.ended = true;
        m.sink.endBytes(false, last, m.excerpt);
      }
      const partial = !m.whole || m.missing > 0;
      if (info?.pending != null) info.pending.messages++;
      if (m.whole) this.#facts.messages_fetched_whole++;
      else this.#facts.messages_fetched_partial++;
      const delivery: Delivery = {
        mailbox: m.mailbox,
        uid: info?.uid ?? null,
        seq: info?.seq ?? null,
        flags: info?.flags ?? [],
        attribute: m.attribute,
        section: m.section,
        origin: m.origin,
        whole: m.whole,
        literal_size: m.size,
        rfc822_size: info?.size ?? null,
        internal_date: info?.internalDate ?? null,
        command: info?.pending?.command ?? null,
        tag: info?.pending?.tag ?? null,
      };
      if (!m.whole) delivery.partial_reason = m.origin !== null ? 'partial-fetch' : m.section !== null && m.section !== '' ? `section ${m.section}` : m.attribute ?? 'section';
      m.sink.close(delivery, last);
      this.#event(
        {
          event: 'fetch',
          mailbox: m.mailbox,
          msg_number: info?.seq ?? null,
          uid: info?.uid ?? null,
          flags: info?.flags ?? [],
          size: m.size,
          message_id: m.sink.id,
          partial,
          outcome: 'ok',
        },
        m.first,
        last,
      );
    }
  }

  /** A tagged completion: OK / NO / BAD for the command with that tag. */
  #completion(asm: Assembly, head: Extract<ResponseHead, { kind: 'status' }>, last: At): void {
    const tag = head.tag!;
    // A synchronizing literal refused: the client never sends it (RFC 3501 §7.5).
    const casm = this.#asm.client;
    if (casm !== null && casm.command?.tag === tag && this.#clientFramer.cancelLiteral(last)) {
      this.#asm.client = null;
      this.#abandon('client', casm, last);
    }
    const p = this.#pending.get(tag) ?? null;
    this.#ctx.transcript(
      { side: 'server', kind: 'reply', status: head.status, tag, ...(p !== null ? { command: p.command } : {}), lines: asm.segments },
      asm.first,
      last,
    );
    this.#closeFetchMessages(asm, null, last);
    if (p === null) {
      this.#respCode(head.code, null);
      if (this.#state !== 'after_gap' && !this.#sync.client) this.#ctx.anomaly('imap_unmatched_tag', `${tag} ${head.status}`, asm.first);
      return;
    }
    this.#pending.delete(tag);
    this.#respCode(head.code, p);
    const status = head.status === 'OK' || head.status === 'NO' || head.status === 'BAD' ? head.status : 'BAD';
    this.#step({ kind: 'completion', verb: p.verb, status }, last);
    this.#finishCommand(p, status === 'OK' ? 'ok' : status === 'NO' ? 'no' : 'bad', head, asm.segments[0]!, last);
  }

  /** Facts, credentials, events and messages of a command once its outcome is known. */
  #finishCommand(p: Pending, outcome: Outcome, head: Extract<ResponseHead, { kind: 'status' }> | null, line: string | null, last: At): void {
    const ok = outcome === 'ok';
    const t = p.tokens;
    const code = head?.code ?? null;
    switch (p.verb) {
      case 'LOGIN': {
        // RFC 3501 §6.2.3: LOGIN userid password (astrings).
        const username = tokenString(t[0]);
        const secret = tokenString(t[1]);
        this.#credential('LOGIN', username, secret, p.first, outcome, line, last);
        break;
      }
      case 'AUTHENTICATE':
        if (this.#auth !== null && this.#auth.tag === p.tag) this.#finishAuth({ outcome, line }, last);
        break;
      case 'STARTTLS':
        if (ok) this.#startTls(last);
        break;
      case 'COMPRESS':
        if (ok) this.#startCompress(last);
        break;
      case 'IDLE':
        if (this.#idleTag === p.tag) this.#idleTag = null;
        break;
      case 'SELECT':
      case 'EXAMINE': {
        const raw = tokenString(t[0]);
        const mb = raw === null ? null : mailboxName(raw);
        const mode = p.verb === 'SELECT' ? 'select' : 'examine';
        if (ok) this.#mailbox = mb;
        else if (p.mailbox === this.#mailbox) this.#mailbox = null;
        if (this.#facts.mailboxes_selected.length < this.#listCap) {
          this.#facts.mailboxes_selected.push({ mailbox: mb ?? '', mode, exists: p.exists, uidvalidity: p.uidvalidity, outcome, frame: p.first.frame });
        }
        this.#event({ event: mode, mailbox: mb, count: p.exists, outcome }, p.first, last);
        break;
      }
      case 'CLOSE':
      case 'UNSELECT':
        if (ok) this.#mailbox = null;
        break;
      case 'CREATE':
      case 'DELETE': {
        const raw = tokenString(t[0]);
        const mb = raw === null ? null : mailboxName(raw);
        if (ok && mb !== null) {
          const list = p.verb === 'CREATE' ? this.#facts.mailboxes_created : this.#facts.mailboxes_deleted;
          if (list.length < this.#listCap) list.push(mb);
        }
        this.#event({ event: p.verb === 'CREATE' ? 'mailbox-create' : 'mailbox-delete', mailbox: mb, outcome }, p.first, last);
        break;
      }
      case 'RENAME': {
        const a = tokenString(t[0]);
        const b = tokenString(t[1]);
        const from = a === null ? null : mailboxName(a);
        const to = b === null ? null : mailboxName(b);
        if (ok && this.#facts.mailboxes_renamed.length < this.#listCap) this.#facts.mailboxes_renamed.push({ from: from ?? '', to: to ?? '' });
        this.#event({ event: 'mailbox-rename', mailbox: from, target_mailbox: to, outcome }, p.first, last);
        break;
      }
      case 'SEARCH':
      case 'SORT':
        this.#facts.searches++;
        this.#event({ event: 'search', mailbox: p.mailbox, count: p.searchResults, outcome }, p.first, last);
        break;
      case 'FETCH': {
        // Messages were reported as they arrived; a FETCH without message literals is one event.
        if (p.messages === 0) this.#event({ event: 'fetch', mailbox: p.mailbox, uids: tokenString(t[0]), count: p.fetches, outcome }, p.first, last);
        break;
      }
      case 'STORE':
        this.#store(p, outcome, last);
        break;
      case 'COPY':
      case 'MOVE': {
        const set = tokenString(t[0]);
        const raw = tokenString(t[1]);
        const n = set === null ? null : sequenceSetCount(set);
        if (ok) {
          if (p.verb === 'MOVE') this.#facts.messages_moved += n ?? 1;
          else this.#facts.messages_copied += n ?? 1;
        }
        this.#event(
          { event: p.verb === 'MOVE' ? 'move' : 'copy', mailbox: p.mailbox, target_mailbox: raw === null ? null : mailboxName(raw), uids: set, count: n, outcome },
          p.first,
          last,
        );
        break;
      }
      case 'EXPUNGE':
        this.#event({ event: 'expunge', mailbox: p.mailbox, uids: p.uid ? tokenString(t[0]) : null, count: p.expunges, outcome }, p.first, last);
        break;
      case 'APPEND':
        this.#finishAppend(p, outcome, code, last);
        break;
      case 'ENABLE':
        if (ok && this.#facts.enabled.length === 0) {
          for (const x of t) {
            const s = tokenString(x);
            if (s !== null && this.#facts.enabled.length < 100) this.#facts.enabled.push(s.toUpperCase());
          }
        }
        break;
      default:
        break;
    }
    if (p.verb !== 'APPEND') for (const m of p.appends) if (!m.ended) m.sink.close({ outcome }, last);
  }

  /** RFC 3501 §6.4.6 STORE sequence-set [+|-]FLAGS[.SILENT] flags. */
  #store(p: Pending, outcome: Outcome, last: At): void {
    const t = p.tokens;
    const set = tokenString(t[0]);
    let item: string | null = null;
    let flags: string[] = [];
    for (let i = 1; i < t.length; i++) {
      const s = t[i]!.kind === 'atom' ? tokenString(t[i]) : null;
      if (s !== null && /^[+-]?FLAGS(\.SILENT)?$/i.test(s)) {
        item = s.toUpperCase();
        const rest = t.slice(i + 1);
        flags = rest.length === 1 ? flagList(rest[0]) : rest.flatMap((x) => flagList(x));
        break;
      }
    }
    const clear = item !== null && item.startsWith('-');
    const n = p.fetches > 0 ? p.fetches : set === null ? null : sequenceSetCount(set);
    if (outcome === 'ok') {
      const bag = clear ? this.#facts.flags_cleared : this.#facts.flags_set;
      for (const f of flags) if (Object.keys(bag).length < 1000 || f in bag) bag[f] = (bag[f] ?? 0) + (n ?? 1);
    }
    this.#event(
      {
        event: clear ? 'flag-clear' : 'flag-set',
        mailbox: p.mailbox,
        msg_number: !p.uid && set !== null ? singleNumber(set) : null,
        uid: p.uid && set !== null ? singleNumber(set) : null,
        uids: set,
        flags,
        count: n,
        outcome,
      },
      p.first,
      last,
    );
  }

  #finishAppend(p: Pending, outcome: Outcome, code: string | null, last: At): void {
    // RFC 4315 §3: [APPENDUID uidvalidity uid-set]; MULTIAPPEND gives a set in message order.
    let uids: number[] = [];
    const m = code === null ? null : /^APPENDUID ([0-9]+) ([0-9:,]+)$/i.exec(code);
    if (m !== null) {
      for (const part of m[2]!.split(',')) {
        const [a, b] = part.split(':').map(Number);
        if (a === undefined || !Number.isFinite(a)) continue;
        const end = b !== undefined && Number.isFinite(b) ? b : a;
        for (let u = a; u <= end && uids.length < p.appends.length; u++) uids.push(u);
      }
    }
    if (p.appends.length === 0) {
      const raw = tokenString(p.tokens[0]);
      this.#event({ event: 'append', mailbox: raw === null ? null : mailboxName(raw), outcome }, p.first, last);
      return;
    }
    p.appends.forEach((msg, i) => {
      if (outcome === 'ok') this.#facts.messages_appended++;
      if (!msg.ended) {
        msg.ended = true;
        msg.sink.endBytes(false, last);
      }
      const uid = uids[i] ?? null;
      msg.sink.close(
        {
          mailbox: msg.mailbox,
          flags: msg.flags,
          internal_date: msg.date,
          literal_size: msg.size,
          uid,
          uidvalidity: m !== null ? Number(m[1]) : null,
          outcome,
          tag: p.tag,
        },
        last,
      );
      this.#event(
        { event: 'append', mailbox: msg.mailbox, uid, flags: msg.flags, size: msg.size, message_id: msg.sink.id, outcome },
        msg.first,
        last,
      );
    });
    uids = [];
  }

  /** A command that never got its completion (session end, duplicate tag, overflow). */
  #finishUnanswered(p: Pending, at: At): void {
    if (p.verb === 'APPEND' || p.verb === 'LOGIN' || p.verb === 'AUTHENTICATE') this.#finishCommand(p, 'unknown', null, null, at);
    else for (const m of p.appends) if (!m.ended) m.sink.close({ outcome: 'unknown' }, at);
  }

  #startTls(at: At): void {
    if (this.#tls) {
      // STARTTLS accepted again inside TLS: nested TLS cannot be followed.
      this.#ctx.anomaly('imap_starttls_injection', 'STARTTLS accepted again inside TLS', at);
      return;
    }
    this.#facts.starttls.accepted = true;
    this.#facts.starttls.frame = at.frame;
    this.#facts.encrypted_from_frame = at.frame;
    this.#ctx.transcript({ side: 'server', kind: 'tls', lines: [] }, at, at);
    this.#ctx.markEncrypted(at);
    this.#tls = true;
    // The rest of this server chunk is TLS; the plaintext phase starts at a line boundary.
    this.#mode = { client: 'plain', server: 'plain' };
    this.#sync = { client: false, server: false };
    this.#serverFramer.pause();
    if (this.#clientFramer.hasPartialLine) this.#ctx.anomaly('imap_starttls_injection', 'client bytes pipelined after STARTTLS', at);
    this.#clientFramer.reset();
    this.#asm.client = null;
    if (this.#auth !== null) this.#finishAuth(null, at);
    for (const p of this.#pending.values()) this.#finishUnanswered(p, at);
    this.#pending.clear();
  }

  /** RFC 4978 §4: after the tagged OK both directions are raw DEFLATE. */
  #startCompress(at: At): void {
    this.#facts.compress.accepted = true;
    this.#facts.compress.frame = at.frame;
    if (this.#facts.compress.mechanism !== 'DEFLATE') {
      this.#ctx.anomaly('imap_compress_unsupported', `COMPRESS ${this.#facts.compress.mechanism ?? ''}`, at);
      this.#mode = { client: 'counted', server: 'counted' };
      this.#serverFramer.pause();
      return;
    }
    const c = new DeflateStream(this.#ctx.limits.maxInflateBytesPerChunk);
    const s = new DeflateStream(this.#ctx.limits.maxInflateBytesPerChunk);
    this.#serverFramer.pause();
    if (!c.supported || !s.supported) {
      this.#ctx.anomaly('imap_compress_unsupported', c.failure ?? s.failure ?? 'inflater unavailable', at);
      this.#mode = { client: 'counted', server: 'counted' };
      return;
    }
    this.#facts.compress.inflated = true;
    this.#inflate = { client: c, server: s };
    this.#mode = { client: 'inflate', server: 'inflate' };
  }

  // #endregion

  // #region auth

  #sasl(auth: AuthAttempt, f: (x: SaslExchange) => void, at: At): void {
    saslStep(this.#ctx, auth, f, 'imap_sasl_error', at);
  }

  #finishAuth(reply: { outcome: Outcome; line: string | null } | null, at: At): void {
    const auth = this.#auth;
    if (auth === null) return;
    this.#auth = null;
    const outcome = reply === null ? 'unknown' : reply.outcome === 'ok' ? 'success' : reply.outcome === 'unknown' ? 'unknown' : 'failure';
    const { mechanism, username } = saslCredential(
      this.#ctx,
      auth,
      { outcome, reply: reply?.line ?? null, last: at },
      { command: 'AUTHENTICATE', errorCode: 'imap_sasl_error' },
      at,
    );
    if (this.#facts.auth.length < this.#listCap) this.#facts.auth.push({ mechanism, username, outcome, frame: auth.first.frame });
  }

  #credential(mechanism: string, username: string | null, secret: string | null, first: At, outcome: Outcome, line: string | null, last: At): void {
    const o = outcome === 'ok' ? 'success' : outcome === 'unknown' ? 'unknown' : 'failure';
    this.#ctx.credential({ mechanism, username, authzid: null, secret, hashcat: null, detail: {}, outcome: o, reply: line }, first, last);
    if (this.#facts.auth.length < this.#listCap) this.#facts.auth.push({ mechanism, username, outcome: o, frame: first.frame });
  }

  // #endregion

  // #region helpers

  #event(rec: Record<string, unknown>, first: At, last: At): void {
    this.#ctx.extraRecord('mailbox_events', rec, first, last);
  }

  #step(ev: ImapEvent, at: At): void {
    const s = imapTransition(this.#state, ev);
    if (s.anomaly !== null) this.#ctx.anomaly(s.anomaly, ev.kind === 'command' ? ev.verb : undefined, at);
    this.#state = s.state;
  }

  #syntax(errors: string[], at: At): void {
    if (errors.length === 0) return;
    const deep = errors.some((e) => e.startsWith('lists nested'));
    this.#ctx.anomaly(deep ? 'imap_too_deep' : 'imap_syntax', errors.join('; ').slice(0, 200), at);
  }

  #midstream(side: Side, text: string, bytes: number, first: At, last: At): void {
    this.#midstreamNotes.unparsedLine(side, text, bytes, first, last, MIDSTREAM_DETAIL);
  }


  // #endregion
}

