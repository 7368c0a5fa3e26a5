/**
 * Pure comparisons between a case folder (what mailsleuth wrote) and the corpus expectations
 * (tshark, Zeek, lab truth). Each function returns one CheckResult per expected item, so a
 * report can say exactly which frame / transaction / field disagrees.
 *
 * Status meanings:
 * - `match`: we agree with the reference.
 * - `mismatch`: we disagree, and the reference is believed right: a bug to fix.
 * - `tshark-error`: we disagree with tshark where MANIFEST.md documents a tshark 4.0 dissector
 *   error (STARTTLS split as `STAR`, base64 SASL lines shown as commands, text after a refused
 *   DATA exported as a message); the reason names the case. We must be right there, not tshark.
 * - `skipped`: not comparable yet (encrypted, other protocol, Zeek artefact); the reason says why.
 * - `expected-difference`: we differ from Arkime / Suricata by design (different model of the
 *   same traffic); the reason names the design rule on each side.
 */
import { createHash, createHmac } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import iconv from 'iconv-lite';
import type { MessageRecord, SessionRecord, SmtpTransactionRecord, TranscriptRecord } from '../../src/core/records.js';
import type {
  CaseData,
  LabCapture,
  LabSession,
  LabTruth,
  PublicCapture,
  TsharkImfObject,
  TsharkMailboxRow,
  TsharkSmtpRow,
  ZeekSmtpRow,
} from './loaders.js';

export type CheckStatus = 'match' | 'mismatch' | 'skipped' | 'tshark-error' | 'expected-difference';

export interface CheckResult {
  capture: string;
  check: string;
  status: CheckStatus;
  expected: unknown;
  got: unknown;
  reason: string;
}

function result(
  capture: string,
  check: string,
  status: CheckStatus,
  expected: unknown,
  got: unknown,
  reason = '',
): CheckResult {
  return { capture, check, status, expected, got, reason };
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

// ---------------------------------------------------------------------------------------------
// (a) transcript vs tshark smtp.tsv
// ---------------------------------------------------------------------------------------------

function describe(e: TranscriptRecord): string {
  const head = e.kind === 'command' ? `${e.command ?? ''}` : e.kind === 'reply' ? `${e.code ?? ''}` : e.kind;
  return `${e.side}:${e.kind}:${head}:${(e.lines[0] ?? '').slice(0, 40)}`;
}

/** SMTP verbs (RFC 5321 and extensions): a tshark "command" that is one of these is never a SASL line. */
const VERBS = new Set(['HELO', 'EHLO', 'LHLO', 'MAIL', 'RCPT', 'DATA', 'BDAT', 'RSET', 'VRFY', 'EXPN', 'HELP', 'NOOP', 'QUIT', 'AUTH', 'TURN', 'ETRN', 'ATRN', 'SEND', 'SOML', 'SAML']);
/** Verbs longer than 4 characters, which tshark 4.0 cuts to their first 4 (STARTTLS -> STAR). */
const LONG_VERBS = new Set(['STARTTLS', 'XCLIENT', 'XFORWARD', 'XEXCH50', 'X-EXPS', 'X-LINK2STATE']);
/** Replies that continue or end a SASL exchange (RFC 4954 §4, §6). */
const SASL_REPLIES = new Set([334, 235, 535, 534, 538, 454, 432]);

function nextServerCode(transcript: TranscriptRecord[], e: TranscriptRecord): number | null {
  let best: TranscriptRecord | null = null;
  for (const x of transcript)
    if (x.session_id === e.session_id && x.side === 'server' && x.seq > e.seq && x.code !== undefined && (best === null || x.seq < best.seq)) best = x;
  return best?.code ?? null;
}

/** A SASL response line (RFC 4954 §4: base64, or "*" to cancel, or "=" for an empty response). */
const BASE64_LINE = /^(?:[A-Za-z0-9+/]+=*|=|\*)$/;

/**
 * Every command and reply tshark lists has a transcript entry in the same frame.
 *
 * Rules: tshark's command is compared upper-cased to our `command`; pipelined rows consume
 * several entries of that frame (a multiset, so two RCPTs in one frame need two entries).
 * Reply codes are matched against our server entries of kind `reply` (or `auth` for 334
 * challenges) with that code. A tshark row holding only a decoded SASL username/password must
 * have a client `auth` entry in that frame. Documented tshark errors become `tshark-error`:
 * a 4-char command that is the head of our longer verb (STARTTLS shown as STAR), and a 4-char
 * "command" that is the head of a client SASL line we hold as kind `auth`.
 */
export function compareTshark(capture: string, rows: TsharkSmtpRow[], transcript: TranscriptRecord[]): CheckResult[] {
  const out: CheckResult[] = [];
  const byFrame = new Map<number, TranscriptRecord[]>();
  for (const e of transcript) {
    if (e.protocol !== 'smtp') continue;
    let l = byFrame.get(e.frame);
    if (!l) byFrame.set(e.frame, (l = []));
    l.push(e);
  }
  const used = new Set<TranscriptRecord>();
  const take = (frame: number, pred: (e: TranscriptRecord) => boolean): TranscriptRecord | null => {
    for (const e of byFrame.get(frame) ?? []) {
      if (!used.has(e) && pred(e)) {
        used.add(e);
        return e;
      }
    }
    return null;
  };
  const inFrame = (frame: number): string[] => (byFrame.get(frame) ?? []).map(describe);
  // tshark dissects each segment alone: a multi-line reply (or a line) split over segments shows
  // its code in every segment, while our entry completes in the last one. An entry whose first
  // byte came at or before frame F and that completed after F covers F (not consumed: the
  // segment that completes it is matched exactly).
  const spanning = (frame: number, pred: (e: TranscriptRecord) => boolean): TranscriptRecord | null => {
    for (const e of transcript) if (e.protocol === 'smtp' && e.frame_first <= frame && frame < e.frame && pred(e)) return e;
    return null;
  };

  for (const row of rows) {
    for (const cmd of row.commands) {
      const want = cmd.toUpperCase();
      const what = `frame ${row.frame} command ${cmd}`;
      const exact = take(row.frame, (e) => e.side === 'client' && e.kind === 'command' && (e.command ?? '').toUpperCase() === want);
      if (exact) {
        out.push(result(capture, 'tshark-command', 'match', what, describe(exact)));
        continue;
      }
      const longer = take(
        row.frame,
        (e) =>
          e.side === 'client' &&
          e.kind === 'command' &&
          want.length === 4 &&
          LONG_VERBS.has((e.command ?? '').toUpperCase()) &&
          (e.command ?? '').toUpperCase().startsWith(want),
      );
      if (longer) {
        out.push(
          result(capture, 'tshark-command', 'tshark-error', what, describe(longer),
            `tshark 4.0 splits the verb after 4 characters (${longer.command} shown as ${cmd}; MANIFEST "STARTTLS is shown as command STAR")`),
        );
        continue;
      }
      // A line we hold as a SASL response: tshark's "command" is its head. When that head is
      // also an SMTP verb (a username like "QUIT"), the server's next reply must prove the SASL
      // reading (334 next challenge, or an RFC 4954 AUTH outcome), not a command reply.
      const sasl = take(
        row.frame,
        (e) =>
          e.side === 'client' &&
          e.kind === 'auth' &&
          BASE64_LINE.test(e.lines[0] ?? '') &&
          (e.lines[0] ?? '').startsWith(cmd) &&
          (!VERBS.has(want) || SASL_REPLIES.has(nextServerCode(transcript, e) ?? 0)),
      );
      if (sasl) {
        out.push(
          result(capture, 'tshark-command', 'tshark-error', what, describe(sasl),
            'tshark 4.0 shows a base64 SASL continuation line as a fake 4-char command (MANIFEST dissector limits); we hold it as an auth line'),
        );
        continue;
      }
      out.push(result(capture, 'tshark-command', 'mismatch', what, inFrame(row.frame), 'no client command with this verb in that frame'));
    }
    for (const code of row.codes) {
      const what = `frame ${row.frame} reply ${code}`;
      const isReply = (e: TranscriptRecord): boolean => e.side === 'server' && (e.kind === 'reply' || e.kind === 'auth') && e.code === code;
      const hit = take(row.frame, isReply);
      const span = hit ? null : spanning(row.frame, isReply);
      if (hit) out.push(result(capture, 'tshark-reply', 'match', what, describe(hit)));
      else if (span) out.push(result(capture, 'tshark-reply', 'match', what, `${describe(span)} (frames ${span.frame_first}..${span.frame})`, 'reply spans segments; tshark lists its code in each'));
      else out.push(result(capture, 'tshark-reply', 'mismatch', what, inFrame(row.frame), 'no server reply with this code in that frame'));
    }
    if (row.commands.length === 0 && row.codes.length === 0 && (row.authUsername !== null || row.authPassword !== null)) {
      const what = `frame ${row.frame} SASL ${row.authUsername !== null ? 'username' : 'password'} line`;
      const hit = take(row.frame, (e) => e.side === 'client' && e.kind === 'auth');
      if (hit) out.push(result(capture, 'tshark-auth', 'match', what, describe(hit)));
      else out.push(result(capture, 'tshark-auth', 'mismatch', what, inFrame(row.frame), 'no client auth line in that frame'));
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// (a') transcript vs tshark pop.tsv / imap.tsv
// ---------------------------------------------------------------------------------------------

/**
 * Every POP3 / IMAP request and response tshark lists has a transcript entry in the same frame
 * (responses may also be covered by an entry that started at or before that frame and completed
 * later: multi-line responses and literals span segments).
 *
 * Rules: POP: tshark's command upper-cased equals our `command`; its indicator equals our reply
 * `status` (a "+ " SASL challenge is our server `auth` entry). IMAP: tag and command equal ours
 * (tshark shows `UID FETCH` as `FETCH`); a tagged status is our server reply with that tag and
 * status. Documented tshark errors (MANIFEST dissector limits) become `tshark-error`: a base64
 * SASL line shown as a POP command where we hold a client `auth` entry, and IMAP literal
 * continuation lines (`)` after a FETCH literal, text of an APPEND literal) shown as untagged requests.
 */
export function compareTsharkMailbox(capture: string, proto: 'pop3' | 'imap', rows: TsharkMailboxRow[], transcript: TranscriptRecord[]): CheckResult[] {
  const out: CheckResult[] = [];
  const mine = transcript.filter((e) => e.protocol === proto);
  const byFrame = new Map<number, TranscriptRecord[]>();
  for (const e of mine) {
    let l = byFrame.get(e.frame);
    if (!l) byFrame.set(e.frame, (l = []));
    l.push(e);
  }
  const used = new Set<TranscriptRecord>();
  const take = (frame: number, pred: (e: TranscriptRecord) => boolean): TranscriptRecord | null => {
    for (const e of byFrame.get(frame) ?? []) {
      if (!used.has(e) && pred(e)) {
        used.add(e);
        return e;
      }
    }
    return null;
  };
  const spanning = (frame: number, pred: (e: TranscriptRecord) => boolean): TranscriptRecord | null => {
    for (const e of mine) if (e.frame_first <= frame && frame <= e.frame && pred(e)) return e;
    return null;
  };
  const inFrame = (frame: number): string[] => (byFrame.get(frame) ?? []).map(describe);
  const check = `tshark-${proto}`;
  for (const row of rows) {
    if (proto === 'pop3') {
      for (const cmd of row.commands) {
        const what = `frame ${row.frame} command ${cmd}`;
        const want = cmd.toUpperCase();
        const hit = take(row.frame, (e) => e.side === 'client' && e.kind === 'command' && (e.command ?? '').toUpperCase() === want);
        if (hit) {
          out.push(result(capture, `${check}-command`, 'match', what, describe(hit)));
          continue;
        }
        const sasl = take(row.frame, (e) => e.side === 'client' && e.kind === 'auth' && (e.lines[0] ?? '').startsWith(cmd));
        if (sasl) {
          out.push(result(capture, `${check}-command`, 'tshark-error', what, describe(sasl),
            'tshark 4.0 shows a base64 SASL response line as a POP command (MANIFEST dissector limits); we hold it as an auth line'));
          continue;
        }
        out.push(result(capture, `${check}-command`, 'mismatch', what, inFrame(row.frame), 'no client command with this verb in that frame'));
      }
      for (const st of row.statuses) {
        const what = `frame ${row.frame} response ${st}`;
        const isResp = (e: TranscriptRecord): boolean =>
          e.side === 'server' && ((e.kind === 'reply' && (e.status ?? '').toUpperCase() === st.toUpperCase()) || (e.kind === 'auth' && st === '+'));
        const hit = take(row.frame, isResp) ?? spanning(row.frame, isResp);
        out.push(hit
          ? result(capture, `${check}-response`, 'match', what, describe(hit))
          : result(capture, `${check}-response`, 'mismatch', what, inFrame(row.frame), 'no server response with this status in that frame'));
      }
      continue;
    }
    // IMAP: pair request tags with commands (tshark lists them in order).
    row.commands.forEach((cmd, i) => {
      const tag = row.requestTags[i] ?? '';
      const what = `frame ${row.frame} request ${tag} ${cmd}`;
      if (tag === '') {
        const lit = spanning(row.frame, (e) => e.kind === 'data' || e.kind === 'reply' || e.kind === 'command');
        out.push(lit
          ? result(capture, `${check}-request`, 'tshark-error', what, describe(lit),
              'tshark 4.0 shows a line that continues a literal (")" closing a FETCH, APPEND text) as an untagged request; we hold it inside the response/command')
          : result(capture, `${check}-request`, 'mismatch', what, inFrame(row.frame), 'untagged tshark request with no entry here'));
        return;
      }
      const want = cmd.toUpperCase();
      const isCmd = (e: TranscriptRecord): boolean => {
        const c = (e.command ?? '').toUpperCase();
        return e.side === 'client' && e.kind === 'command' && e.tag === tag && (c === want || c === `UID ${want}`);
      };
      const hit = take(row.frame, isCmd) ?? spanning(row.frame, isCmd);
      out.push(hit
        ? result(capture, `${check}-request`, 'match', what, describe(hit))
        : result(capture, `${check}-request`, 'mismatch', what, inFrame(row.frame), 'no client command with this tag and verb in that frame'));
    });
    // tshark 4.0 takes the ")" that closes a FETCH after a literal as a response tag; its
    // statuses belong to the real tags only.
    for (const tag of row.responseTags.filter((t) => t === ')')) {
      const what = `frame ${row.frame} response ${tag}`;
      const lit = spanning(row.frame, (e) => e.side === 'server' && e.kind === 'reply');
      out.push(lit
        ? result(capture, `${check}-response`, 'tshark-error', what, describe(lit),
            'tshark 4.0 shows the ")" closing a FETCH response after its literal as a response tag; it is the end of our untagged FETCH entry')
        : result(capture, `${check}-response`, 'mismatch', what, inFrame(row.frame), 'no server response here'));
    }
    row.responseTags.filter((t) => t !== ')').forEach((tag, i) => {
      const st = (row.statuses[i] ?? '').toUpperCase();
      const what = `frame ${row.frame} response ${tag} ${st}`;
      const isResp = (e: TranscriptRecord): boolean => e.side === 'server' && e.kind === 'reply' && e.tag === tag && (st === '' || (e.status ?? '').toUpperCase() === st);
      const hit = take(row.frame, isResp) ?? spanning(row.frame, isResp);
      out.push(hit
        ? result(capture, `${check}-response`, 'match', what, describe(hit))
        : result(capture, `${check}-response`, 'mismatch', what, inFrame(row.frame), 'no tagged server response with this tag/status in that frame'));
    });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Normalisation helpers (Zeek logs raw header values; we store decoded, parsed values)
// ---------------------------------------------------------------------------------------------

/** Canonical text of an IP address (IPv6 expanded to 8 lower-case groups) for comparison. */
export function normalizeIp(ip: string): string {
  const s = ip.trim().replace(/^\[|\]$/g, '').toLowerCase();
  if (!s.includes(':')) return s;
  let head = s;
  let v4tail: string[] = [];
  const m = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (m) {
    head = m[1]!.endsWith('::') ? m[1]! : m[1]!.slice(0, -1);
    const o = m[2]!.split('.').map(Number);
    v4tail = [((o[0]! << 8) | o[1]!).toString(16), ((o[2]! << 8) | o[3]!).toString(16)];
  }
  const [l, r] = head.split('::') as [string, string | undefined];
  const left = l ? l.split(':').filter((x) => x !== '') : [];
  const right = r !== undefined ? (r ? r.split(':').filter((x) => x !== '') : []) : [];
  const fill = 8 - left.length - right.length - v4tail.length;
  const groups = r !== undefined ? [...left, ...Array<string>(Math.max(0, fill)).fill('0'), ...right, ...v4tail] : [...left, ...v4tail];
  return groups.map((g) => parseInt(g, 16).toString(16)).join(':');
}

/** Splits an address-list header value at top-level commas (not inside quotes, <>, or ()). */
export function splitAddressList(value: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quote = false;
  let angle = 0;
  let paren = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (quote) {
      cur += c;
      if (c === '\\' && i + 1 < value.length) cur += value[++i];
      else if (c === '"') quote = false;
      continue;
    }
    if (c === '"') quote = true;
    else if (c === '<') angle++;
    else if (c === '>') angle = Math.max(0, angle - 1);
    else if (c === '(') paren++;
    else if (c === ')') paren = Math.max(0, paren - 1);
    else if (c === ',' && angle === 0 && paren === 0) {
      if (cur.trim() !== '') out.push(cur.trim());
      cur = '';
      continue;
    }
    cur += c;
  }
  if (cur.trim() !== '') out.push(cur.trim());
  return out;
}

/** The address of one mailbox as written: the `<...>` part, else the bare token (comments dropped). */
export function addressOf(mailbox: string): string {
  const m = /<([^>]*)>/.exec(mailbox);
  const a = m ? m[1]! : mailbox.replace(/\([^)]*\)/g, '').replace(/"/g, '');
  return a.trim();
}

/** Envelope address (MAIL FROM / RCPT TO argument or our stored value) without <>, params or spaces. */
export function envelopeAddress(v: string | null | undefined): string | null {
  if (v === null || v === undefined) return null;
  let s = v.trim().replace(/^(from|to)\s*:/i, '').trim();
  const m = /^<([^>]*)>/.exec(s);
  if (m) return m[1]!.trim();
  s = s.split(/\s+/)[0] ?? '';
  return s;
}

/** Decodes RFC 2047 encoded-words (B and Q), joining adjacent words as RFC 2047 §6.2 says. */
export function decodeEncodedWords(s: string): string {
  const re = /=\?([^?*]+)(?:\*[^?]*)?\?([bBqQ])\?([^?]*)\?=/g;
  const decoded = s.replace(/(\?=)\s+(=\?)/g, '$1$2'); // whitespace between encoded-words is dropped
  return decoded.replace(re, (whole, charset: string, enc: string, text: string) => {
    let bytes: Buffer;
    if (enc.toUpperCase() === 'B') bytes = Buffer.from(text, 'base64');
    else {
      const arr: number[] = [];
      for (let i = 0; i < text.length; i++) {
        const c = text[i]!;
        if (c === '_') arr.push(0x20);
        else if (c === '=' && /^[0-9a-fA-F]{2}$/.test(text.slice(i + 1, i + 3))) {
          arr.push(parseInt(text.slice(i + 1, i + 3), 16));
          i += 2;
        } else arr.push(c.charCodeAt(0) & 0xff);
      }
      bytes = Buffer.from(arr);
    }
    try {
      return iconv.encodingExists(charset) ? iconv.decode(bytes, charset) : whole;
    } catch {
      return whole;
    }
  });
}

const collapse = (s: string | null | undefined): string | null =>
  s === null || s === undefined ? null : s.replace(/\s+/g, ' ').trim();

const stripAngle = (s: string | null | undefined): string | null => {
  if (s === null || s === undefined) return null;
  const t = s.trim();
  return t.startsWith('<') && t.endsWith('>') ? t.slice(1, -1).trim() : t;
};

const sorted = (a: Iterable<string>): string[] => [...new Set(a)].sort();
const sameList = (a: string[], b: string[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

// ---------------------------------------------------------------------------------------------
// (b) Zeek smtp.log vs our sessions / transactions / messages
// ---------------------------------------------------------------------------------------------

function findSession(sessions: SessionRecord[], oh: string, op: number, rh: string, rp: number): SessionRecord | null {
  const a = normalizeIp(oh);
  const b = normalizeIp(rh);
  for (const s of sessions) {
    if (s.protocol !== 'smtp') continue;
    if (normalizeIp(s.client.ip) === a && s.client.port === op && normalizeIp(s.server.ip) === b && s.server.port === rp) return s;
  }
  return null;
}

/**
 * Zeek smtp.log rows vs our SMTP facts. Rows are grouped by connection (4-tuple) and aligned
 * in order with our transactions that have a MAIL FROM and at least one RCPT.
 *
 * Zeek row kinds: a row with neither mailfrom nor rcptto is Zeek's session-level record (e.g. the
 * row written at STARTTLS): only `helo` is compared. A row with exactly one of them is the half
 * record Zeek writes when an invalid command sequence restarts its transaction
 * (smtp_mail_transaction_invalid, or a refused nested MAIL): skipped, since our transactions
 * follow the server's replies instead.
 *
 * Normalisations, per field (Zeek logs header values raw, we store them parsed and decoded):
 * - helo: Zeek's value must be one of our helo_names.
 * - mailfrom / rcptto: addresses without <>, ESMTP parameters or spaces; rcptto compares the set
 *   of every RCPT argument (Zeek records them whatever the reply) with all our rcpt_to entries.
 * - from / to / cc / reply_to: Zeek's raw value (to/cc: its comma-split set) is parsed into
 *   addresses (`<...>` part or bare token); compared as sorted address sets with ours.
 * - subject: Zeek's raw value with RFC 2047 words decoded, whitespace runs collapsed.
 * - msg_id / in_reply_to: surrounding <> and whitespace removed on both sides.
 * - x_originating_ip: [] removed, IP canonicalised.
 * - user_agent: Zeek fills it from User-Agent or X-Mailer; equal to either of ours.
 */
export function compareZeekSmtp(capture: string, logName: string, rows: ZeekSmtpRow[], data: CaseData): CheckResult[] {
  const out: CheckResult[] = [];
  const tag = (f: string): string => `zeek-smtp:${f}`;
  // btests named *disable-analyzer* stop the SMTP analyzer after N violations: Zeek's rows are a prefix.
  const prefixOnly = /disable-analyzer/.test(logName);
  const msgById = new Map(data.messages.map((m) => [m.message_id, m]));
  const groups = new Map<string, ZeekSmtpRow[]>();
  for (const r of rows) {
    const k = `${r.orig_h}|${r.orig_p}|${r.resp_h}|${r.resp_p}`;
    let g = groups.get(k);
    if (!g) groups.set(k, (g = []));
    g.push(r);
  }
  for (const g of groups.values()) {
    const first = g[0]!;
    const conn = `${first.orig_h}:${first.orig_p} -> ${first.resp_h}:${first.resp_p} (${logName})`;
    const session = findSession(data.sessions, first.orig_h, first.orig_p, first.resp_h, first.resp_p);
    if (!session) {
      out.push(result(capture, tag('session'), 'mismatch', conn, data.sessions.map((s) => `${s.protocol} ${s.client.ip}:${s.client.port} -> ${s.server.ip}:${s.server.port}`), 'no SMTP session for this connection'));
      continue;
    }
    const smtp = session.smtp;
    const heloNames = smtp?.helo_names ?? [];
    const ours = (smtp?.transactions ?? []).filter((t) => t.mail_from !== null && t.rcpt_to.length > 0);
    const full = g.filter((r) => r.mailfrom !== null && r.rcptto !== null);
    for (const r of g) {
      const where = `${conn} trans_depth ${r.trans_depth}`;
      if (r.helo !== null || heloNames.length > 0) {
        const ok = r.helo !== null && heloNames.includes(r.helo);
        out.push(result(capture, tag('helo'), ok ? 'match' : 'mismatch', `${where}: ${r.helo}`, heloNames));
      }
      if ((r.mailfrom === null) !== (r.rcptto === null)) {
        out.push(result(capture, tag('transaction'), 'skipped', where, null,
          'Zeek half record from an invalid command sequence (MAIL or RCPT missing); our transactions follow the server replies'));
      }
    }
    if (prefixOnly) {
      const ok = full.length <= ours.length;
      out.push(result(capture, tag('transactions'), ok ? 'match' : 'mismatch', `${conn}: at least ${full.length} transactions with MAIL+RCPT`, `${ours.length}`,
        ok ? 'this btest disables the analyzer after protocol violations, so Zeek logs only the first transactions' : 'fewer transactions than Zeek logged'));
    } else {
      out.push(
        result(capture, tag('transactions'), full.length === ours.length ? 'match' : 'mismatch',
          `${conn}: ${full.length} transactions with MAIL+RCPT`,
          (smtp?.transactions ?? []).map((t) => `#${t.index} ${t.mail_from} -> [${t.rcpt_to.map((r) => r.address).join(',')}] ${t.outcome}`),
          full.length === ours.length ? '' : 'transaction count differs'),
      );
    }
    full.forEach((r, i) => {
      const t: SmtpTransactionRecord | undefined = ours[i];
      const where = `${conn} trans_depth ${r.trans_depth} (#${i + 1})`;
      if (!t) return; // counted above
      compareZeekRow(capture, where, r, t, t.message_id ? (msgById.get(t.message_id) ?? null) : null, out);
    });
  }
  return out;
}

function zeekAddresses(values: string[] | string | null): string[] {
  if (values === null) return [];
  const list = Array.isArray(values) ? values : [values];
  return sorted(list.flatMap((v) => splitAddressList(v).map(addressOf)).filter((a) => a !== ''));
}

function compareZeekRow(
  capture: string,
  where: string,
  r: ZeekSmtpRow,
  t: SmtpTransactionRecord,
  m: MessageRecord | null,
  out: CheckResult[],
): void {
  const push = (field: string, expected: unknown, got: unknown, ok: boolean, reason = ''): void => {
    out.push(result(capture, `zeek-smtp:${field}`, ok ? 'match' : 'mismatch', { where, value: expected }, got, ok ? '' : reason || `${field} differs`));
  };
  const mf = envelopeAddress(r.mailfrom);
  const ourMf = envelopeAddress(t.mail_from);
  push('mailfrom', mf, ourMf, mf === ourMf);
  const rc = sorted((r.rcptto ?? []).map((x) => envelopeAddress(x) ?? ''));
  const ourRc = sorted(t.rcpt_to.map((x) => envelopeAddress(x.address) ?? ''));
  push('rcptto', rc, ourRc, sameList(rc, ourRc));

  const h = m?.headers ?? null;
  const addrs = (a: { address: string }[] | undefined): string[] => sorted((a ?? []).map((x) => x.address.trim()).filter((x) => x !== ''));
  for (const [field, zv, ov] of [
    ['from', r.from, h?.from],
    ['to', r.to, h?.to],
    ['cc', r.cc, h?.cc],
    ['reply_to', r.reply_to, h?.reply_to],
  ] as const) {
    const z = zeekAddresses(zv);
    const o = addrs(ov);
    push(field, z, o, sameList(z, o), m ? '' : 'no message rebuilt for this transaction');
  }
  const subj = r.subject === null ? null : collapse(decodeEncodedWords(r.subject));
  push('subject', subj, collapse(h?.subject ?? null), subj === collapse(h?.subject ?? null));
  const mid = stripAngle(r.msg_id);
  push('msg_id', mid, stripAngle(h?.message_id), mid === stripAngle(h?.message_id));
  const irt = stripAngle(r.in_reply_to);
  push('in_reply_to', irt, stripAngle(h?.in_reply_to), irt === stripAngle(h?.in_reply_to));
  const xo = r.x_originating_ip === null ? null : normalizeIp(r.x_originating_ip);
  const oxo = h?.x_originating_ip ? normalizeIp(h.x_originating_ip) : null;
  push('x_originating_ip', xo, oxo, xo === oxo);
  const ua = collapse(r.user_agent);
  const candidates = [collapse(h?.user_agent ?? null), collapse(h?.x_mailer ?? null)];
  const ok = ua === null ? candidates.every((c) => c === null) : candidates.includes(ua);
  push('user_agent', ua, { user_agent: h?.user_agent ?? null, x_mailer: h?.x_mailer ?? null }, ok);
}

// ---------------------------------------------------------------------------------------------
// (c) rebuilt messages vs tshark export-imf and Zeek extracted files
// ---------------------------------------------------------------------------------------------

/** SHA-256s of the bodies of message/rfc822 parts (tshark exports those as IMF objects too). */
export function nestedMessageHashes(m: MessageRecord, eml: Uint8Array | null): string[] {
  if (!eml) return [];
  const out: string[] = [];
  for (const p of m.parts ?? []) {
    if (!/^message\/rfc822\b/i.test(p.content_type ?? '')) continue;
    if (p.path === '' ) continue;
    const end = Math.min(p.body_end, eml.length);
    if (!(p.body_start >= 0 && end >= p.body_start)) continue;
    const body = eml.subarray(p.body_start, end);
    out.push(sha256(body));
    // The CRLF before a boundary belongs to the delimiter (RFC 2046 §5.1.1); accept either cut.
    if (body.length >= 2 && body[body.length - 2] === 13 && body[body.length - 1] === 10) out.push(sha256(body.subarray(0, body.length - 2)));
  }
  return out;
}

/**
 * SHA-256s of what tshark 4.0 exports when it is in "message text" mode while the server is not:
 * tshark enters DATA mode on the DATA command whatever the reply (a 503-refused DATA), and it
 * reads pipelined commands that share the body's segment as text. Two shapes, both built from
 * our own transcript and messages so that a match proves the explanation:
 * - client lines after a DATA, up to a lone "." that we read as commands (no message follows);
 * - client command lines from some command up to a body, followed by that body's message bytes.
 */
export function tsharkDataModeCandidates(transcript: TranscriptRecord[], messages: MessageRecord[], eml: Map<string, Uint8Array | null>): Set<string> {
  const out = new Set<string>();
  const bySession = new Map<string, TranscriptRecord[]>();
  for (const e of transcript) {
    if (e.protocol !== 'smtp' || e.side !== 'client') continue;
    let l = bySession.get(e.session_id);
    if (!l) bySession.set(e.session_id, (l = []));
    l.push(e);
  }
  const text = (lines: string[]): Buffer => Buffer.from(lines.map((l) => l + '\r\n').join(''), 'latin1');
  for (const [sid, list] of bySession) {
    list.sort((a, b) => a.seq - b.seq);
    const msgs = messages.filter((m) => m.session_id === sid);
    for (let i = 0; i < list.length; i++) {
      const e = list[i]!;
      if (e.kind === 'data') {
        // Every run of command lines that ends right before this body, prefixed to its message.
        const body = msgs.filter((m) => m.frame_first <= e.frame && e.frame <= m.frame_last);
        const lines: string[] = [];
        for (let j = i - 1; j >= 0 && list[j]!.kind !== 'data'; j--) {
          lines.unshift(...list[j]!.lines);
          const prefix = text(lines);
          for (const m of body) {
            const b = eml.get(m.message_id);
            if (b) out.add(createHash('sha256').update(prefix).update(b).digest('hex'));
          }
        }
        continue;
      }
      if (e.kind !== 'command' || (e.command ?? '').toUpperCase() !== 'DATA') continue;
      const lines: string[] = [];
      for (let j = i + 1; j < list.length && list[j]!.kind !== 'data'; j++) {
        const line = list[j]!.lines[0] ?? '';
        if (line === '.') {
          out.add(sha256(text(lines)));
          out.add(sha256(Buffer.concat([text(lines), Buffer.from('.\r\n')])));
          break;
        }
        lines.push(...list[j]!.lines);
      }
    }
  }
  return out;
}

/**
 * Every object of tshark's `--export-objects imf` has a rebuilt message with the same SHA-256
 * (a multiset: two equal exports need two messages). tshark also exports the body of each
 * message/rfc822 part: those match a nested part of one of our messages. Text tshark exported
 * after a DATA the server refused is `tshark-error`.
 */
export function compareImfExport(
  capture: string,
  objects: TsharkImfObject[],
  data: CaseData,
  opts: { lostSegmentFrames?: number } = {},
): CheckResult[] {
  const out: CheckResult[] = [];
  const pool = new Map<string, number>();
  for (const m of data.messages) pool.set(m.sha256, (pool.get(m.sha256) ?? 0) + 1);
  const nested = new Set(data.messages.flatMap((m) => nestedMessageHashes(m, data.eml.get(m.message_id) ?? null)));
  // tshark 4.0 sometimes takes the CRLF that ends the last line as the start of the <CRLF>.<CRLF>
  // terminator (seen when the message ends in an empty line, or when "\r\n.\r\n" arrives in a
  // segment of its own), exporting 2 bytes short. RFC 5321 §4.1.1.4: "the first <CRLF> is
  // actually the terminator of the previous line", so it is message content.
  const trimmed = new Map<string, string>();
  for (const m of data.messages) {
    const b = data.eml.get(m.message_id);
    if (b && b.length >= 2 && b[b.length - 2] === 13 && b[b.length - 1] === 10) trimmed.set(sha256(b.subarray(0, b.length - 2)), m.sha256);
  }
  let refused: Set<string> | null = null;
  for (const o of objects) {
    const what = { filename: o.filename, bytes: o.bytes, sha256: o.sha256 };
    const n = pool.get(o.sha256) ?? 0;
    const full = trimmed.get(o.sha256);
    if (n > 0) {
      pool.set(o.sha256, n - 1);
      out.push(result(capture, 'imf-export', 'match', what, o.sha256));
    } else if (full !== undefined && (pool.get(full) ?? 0) > 0) {
      pool.set(full, pool.get(full)! - 1);
      out.push(result(capture, 'imf-export', 'tshark-error', what, full,
        "tshark drops the CRLF ending the last line (it reads it as part of <CRLF>.<CRLF>; RFC 5321 4.1.1.4 says it ends the last line): our message is exactly tshark's bytes + CRLF"));
    } else if (nested.has(o.sha256)) {
      out.push(result(capture, 'imf-export', 'match', what, o.sha256, 'equals a nested message/rfc822 part of a rebuilt message'));
    } else if ((refused ??= tsharkDataModeCandidates(data.transcript, data.messages, data.eml)).has(o.sha256)) {
      out.push(result(capture, 'imf-export', 'tshark-error', what, null,
        'tshark read client command lines as message text (it enters DATA mode on a refused DATA, or on pipelined commands in the body segment); its export = our command lines (+ our message)'));
    } else {
      // tshark 4.0 misjoins overlapping retransmissions that use different segment boundaries
      // (reported as "lost segment"): its export then has duplicated or missing bytes. Where
      // MANIFEST counts such frames and we hold a complete message (not partial, no missing
      // bytes) that no export claimed, the difference is put on tshark, naming both sizes.
      const spare = (opts.lostSegmentFrames ?? 0) > 0
        ? data.messages.find((m) => (pool.get(m.sha256) ?? 0) > 0 && !m.partial && m.missing_bytes === 0 && m.transport === 'smtp-data')
        : undefined;
      if (spare) {
        pool.set(spare.sha256, pool.get(spare.sha256)! - 1);
        out.push(result(capture, 'imf-export', 'tshark-error', what, { size: spare.size, sha256: spare.sha256 },
          `tshark and we resolve the retransmissions around ${opts.lostSegmentFrames} "lost segment" frame(s) differently (re-segmented or conflicting overlap; we keep first-seen bytes): export ${o.bytes} bytes vs our complete message ${spare.size} bytes`));
      } else {
        out.push(result(capture, 'imf-export', 'mismatch', what, data.messages.map((m) => ({ size: m.size, sha256: m.sha256, transport: m.transport })),
          'no rebuilt message with this SHA-256'));
      }
    }
  }
  return out;
}

/**
 * Zeek-extracted files: `extract_files.mail` (a whole message, also for BDAT which tshark cannot
 * rebuild) must equal a rebuilt message or nested message part; `thefileN` (one decoded MIME
 * entity) must equal the decoded hash of one of our leaf parts or attachments.
 */
export function compareZeekFiles(capture: string, files: PublicCapture['zeekFiles'], data: CaseData): CheckResult[] {
  const out: CheckResult[] = [];
  const msgs = new Set(data.messages.map((m) => m.sha256));
  const nested = new Set(data.messages.flatMap((m) => nestedMessageHashes(m, data.eml.get(m.message_id) ?? null)));
  const entities = new Set<string>();
  /** Quoted-printable leaves: Zeek's QP decoder appends CRLF after every hard line, including the
   * one before the boundary, which RFC 2046 §5.1.1 gives to the boundary (its 7bit decoder does
   * not: MIME.cc DecodeBinary holds that CRLF back). So a Zeek QP file is our part + CRLF. */
  const qpEntities = new Set<string>();
  for (const m of data.messages) {
    for (const p of m.parts ?? []) {
      if (!p.sha256) continue;
      entities.add(p.sha256);
      if ((p.transfer_encoding ?? '').toLowerCase() === 'quoted-printable') qpEntities.add(p.sha256);
    }
    for (const a of m.attachments ?? []) entities.add(a.sha256);
  }
  for (const f of files) {
    const h = sha256(f.bytes);
    const what = { file: f.name, bytes: f.bytes.length, sha256: h };
    if (f.kind === 'message') {
      const ok = msgs.has(h) || nested.has(h);
      out.push(result(capture, 'zeek-file:message', ok ? 'match' : 'mismatch', what, ok ? h : data.messages.map((m) => ({ size: m.size, sha256: m.sha256 })),
        ok ? '' : 'no rebuilt message (or nested message part) with these bytes'));
    } else {
      const n = f.bytes.length;
      const crlf = n >= 2 && f.bytes[n - 2] === 0x0d && f.bytes[n - 1] === 0x0a;
      const qp = !entities.has(h) && crlf && qpEntities.has(sha256(f.bytes.subarray(0, n - 2)));
      const ok = entities.has(h) || qp;
      out.push(result(capture, 'zeek-file:entity', ok ? 'match' : 'mismatch', what, ok ? h : [...entities],
        qp ? "Zeek's QP decoder adds the CRLF that precedes the boundary (RFC 2046 §5.1.1 gives it to the boundary): equal to our part + CRLF"
          : ok ? '' : 'no decoded MIME part / attachment with these bytes'));
    }
  }
  return out;
}

/** Each .eml file on disk hashes to the sha256 its MessageRecord claims, and has `size` bytes. */
export function compareEmlIntegrity(capture: string, data: CaseData): CheckResult[] {
  return data.messages.map((m) => {
    const b = data.eml.get(m.message_id) ?? null;
    const got = b ? { size: b.length, sha256: sha256(b) } : null;
    const ok = got !== null && got.sha256 === m.sha256 && got.size === m.size;
    return result(capture, 'eml-integrity', ok ? 'match' : 'mismatch', { message_id: m.message_id, size: m.size, sha256: m.sha256 }, got,
      ok ? '' : b ? '.eml bytes differ from the record' : '.eml file missing');
  });
}

// ---------------------------------------------------------------------------------------------
// (d) lab truth
// ---------------------------------------------------------------------------------------------

function sessionsFor(data: CaseData, s: LabSession, protocol: string): SessionRecord[] {
  return data.sessions
    .filter(
      (x) =>
        x.protocol === protocol &&
        normalizeIp(x.client.ip) === normalizeIp(s.client_ip) &&
        (s.server_port === undefined || x.server.port === s.server_port) &&
        (s.client_port === undefined || x.client.port === s.client_port),
    )
    .sort((a, b) => a.frame_first - b.frame_first);
}

/**
 * Our session for the k-th truth session of that client/port: several truth files merged into
 * one capture (mixed-day) can share client and port, so candidates are ranked by how many of the
 * truth's command lines and login names they hold; ties keep capture order (k-th).
 */
function pickSession(ours: SessionRecord[], s: LabSession, k: number, data: CaseData): SessionRecord {
  if (ours.length <= 1) return ours[0]!;
  const lines = new Set([...(s.commands ?? []), ...((s['cleartext_commands'] as string[] | undefined) ?? [])]);
  const users = new Set([s.auth?.username, ...(s.attempts ?? []).map((a) => a.username)].filter((u): u is string => !!u));
  const score = (x: SessionRecord): number => {
    let n = 0;
    for (const e of data.transcript) if (e.session_id === x.session_id && e.side === 'client' && lines.has(e.lines[0] ?? '')) n++;
    for (const c of data.credentials) if (c.session_id === x.session_id && users.has(c.username ?? '')) n++;
    return n;
  };
  const scores = ours.map(score);
  const best = Math.max(...scores);
  const top = ours.filter((_, i) => scores[i] === best);
  return top[Math.min(k, top.length - 1)]!;
}

/**
 * CRAM-MD5 (RFC 2195) never carries the password: the hashcat mode-10200 line
 * (`$cram_md5$<b64 challenge>$<b64 "user hexdigest">`) is checked instead: the digest must be
 * HMAC-MD5(password, challenge).
 */
export function cramMd5Proves(hashcat: { mode: number; line: string } | null, password: string): boolean {
  if (hashcat === null || hashcat.mode !== 10200) return false;
  const m = /^\$cram_md5\$([^$]*)\$([^$]*)$/.exec(hashcat.line);
  if (!m) return false;
  const challenge = Buffer.from(m[1]!, 'base64');
  const digest = Buffer.from(m[2]!, 'base64').toString('latin1').split(' ').pop() ?? '';
  return createHmac('md5', password).update(challenge).digest('hex') === digest.toLowerCase();
}

/** Normalises a truth mechanism ("SASL PLAIN (AUTH PLAIN)", "AUTHENTICATE PLAIN") to the SASL name. */
export function labMechanism(m: string): string {
  const u = m.toUpperCase();
  for (const k of ['CRAM-MD5', 'DIGEST-MD5', 'SCRAM-SHA-256', 'SCRAM-SHA-1', 'XOAUTH2', 'OAUTHBEARER', 'NTLM', 'PLAIN', 'LOGIN', 'USER/PASS', 'APOP'])
    if (u.includes(k)) return k;
  return u;
}

/** Entries parsed from decrypted TLS plaintext carry `decrypted: true` (src/pipeline/session-context.ts). */
const isDecrypted = (e: TranscriptRecord): boolean => (e as TranscriptRecord & { decrypted?: boolean }).decrypted === true;

/** Client command lines of a session; `decrypted` selects the cleartext (false) or decrypted (true) part. */
function clientCommands(data: CaseData, session: SessionRecord, decrypted?: boolean): string[] {
  return data.transcript
    .filter((e) => e.session_id === session.session_id && e.side === 'client' && e.kind === 'command' && (decrypted === undefined || isDecrypted(e) === decrypted))
    .sort((a, b) => a.seq - b.seq)
    .map((e) => e.lines[0] ?? '');
}

/**
 * TLS truth sessions: with the session decrypted (key log given), the truth's
 * `encrypted_commands` must be our decrypted client lines (commands and SASL lines), in order;
 * body placeholders ("<data>", ".") are dropped, and an untagged truth line ("LOGOUT", which curl
 * does not echo with its tag) matches our tagged line. Returns true when decrypted; otherwise
 * reports one `skipped` result naming the decryption status and returns false.
 */
function compareEncryptedCommands(capture: string, scen: string, prefix: string, s: LabSession, sess: SessionRecord, data: CaseData, out: CheckResult[]): boolean {
  const tls = (sess as unknown as { tls?: { decryption?: string; decryption_detail?: string | null } }).tls;
  const tag = s.tls ?? 'tls';
  if (tls?.decryption !== 'decrypted') {
    out.push(result(capture, `${prefix}:encrypted`, 'skipped', { scenario: scen, tls: tag }, tls?.decryption ?? null,
      `not decrypted (${tls?.decryption ?? 'no TLS facts'}${tls?.decryption_detail ? `: ${tls.decryption_detail}` : ''})`));
    return false;
  }
  const want = ((s['encrypted_commands'] as string[] | undefined) ?? []).filter((c) => !/^<.*>$/.test(c) && c !== '.');
  const got = data.transcript
    .filter((e) => e.session_id === sess.session_id && e.side === 'client' && (e.kind === 'command' || e.kind === 'auth') && isDecrypted(e))
    .sort((a, b) => a.seq - b.seq)
    .map((e) => e.lines[0] ?? '');
  const ok = want.length === got.length && want.every((w, i) => got[i] === w || (!/^\S+\s/.test(w) && got[i]!.endsWith(` ${w}`)));
  out.push(result(capture, `${prefix}:encrypted-commands`, ok ? 'match' : 'mismatch', { scenario: scen, value: want }, got, ok ? '' : 'decrypted client lines differ'));
  return true;
}

/**
 * Truth command lists also hold the lines of an APPEND literal (the message text). Drops the
 * lines after a command ending in a literal `{n}` / `{n+}` until the next tagged command.
 */
function imapCommandLines(list: string[]): string[] {
  const out: string[] = [];
  let inLiteral = false;
  for (const c of list) {
    const tagged = /^[A-Za-z0-9.]*[0-9][A-Za-z0-9.]* [A-Za-z]/.test(c);
    if (inLiteral && !tagged) continue;
    inLiteral = /\{[0-9]+\+?\}$/.test(c);
    out.push(c);
  }
  return out;
}

/** `("name" "Thunderbird" "version" "115")` → { name: 'Thunderbird', version: '115' } (keys lower case). */
function parseImapId(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const strings = [...text.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!.replace(/\\(.)/g, '$1'));
  for (let i = 0; i + 1 < strings.length; i += 2) out[strings[i]!.toLowerCase()] = strings[i + 1]!;
  return out;
}

function compareLabSmtpSession(capture: string, scen: string, s: LabSession, k: number, data: CaseData, out: CheckResult[]): void {
  const push = (check: string, ok: boolean, expected: unknown, got: unknown, reason = ''): void => {
    out.push(result(capture, `lab:${check}`, ok ? 'match' : 'mismatch', { scenario: scen, value: expected }, got, ok ? '' : reason || `${check} differs`));
  };
  const tls = s.tls ?? 'none';
  const ours = sessionsFor(data, s, 'smtp');
  const label = `${scen} smtp ${s.client_ip}${s.server_port ? ` -> :${s.server_port}` : ''}`;

  if (s.attempts) {
    // One TCP connection per attempt (auth-bruteforce): align attempts with sessions in order.
    const attempts = s.attempts.filter((a) => a.protocol === 'smtp');
    push('sessions', ours.length === attempts.length, `${label}: ${attempts.length} sessions`, ours.length);
    attempts.forEach((a, i) => {
      const sess = ours[i];
      const creds = sess ? data.credentials.filter((c) => c.session_id === sess.session_id) : [];
      const c = creds[0];
      const exp = { n: a.n ?? i + 1, mechanism: labMechanism(a.mechanism ?? ''), username: a.username, password: a.password, success: a.success };
      const got = c ? { mechanism: c.mechanism.toUpperCase(), username: c.username, password: c.secret, outcome: c.outcome } : null;
      const ok = !!c && got!.mechanism === exp.mechanism && c.username === a.username && c.secret === a.password && c.outcome === (a.success ? 'success' : 'failure');
      push('credential', ok, exp, got, c ? 'credential fields differ' : 'no credential for this session');
    });
    return;
  }

  if (ours.length === 0) {
    push('session', false, label, data.sessions.map((x) => `${x.protocol} ${x.client.ip}:${x.client.port} -> ${x.server.ip}:${x.server.port}`), 'no SMTP session from this client');
    return;
  }
  const sess = pickSession(ours, s, k, data);
  // With implicit TLS even the EHLO is encrypted; with STARTTLS the first EHLO is cleartext.
  if (s.ehlo !== undefined && (tls === 'none' || tls === 'starttls'))
    push('ehlo', (sess.smtp?.helo_names ?? []).includes(s.ehlo), s.ehlo, sess.smtp?.helo_names ?? []);

  if (tls !== 'none') {
    const clear = (s['cleartext_commands'] as string[] | undefined) ?? null;
    if (clear) {
      const got = clientCommands(data, sess, false);
      push('cleartext-commands', sameList(clear, got), clear, got);
    }
    if (!compareEncryptedCommands(capture, scen, 'lab', s, sess, data, out)) return;
    // Decrypted: the credential and transactions below are checked like cleartext ones.
  }

  if (s.commands) {
    // Truth lists hold placeholders for message bodies ("<data 820 bytes>"): not command lines.
    const want = s.commands.filter((c) => !/^<.*>$/.test(c));
    const got = clientCommands(data, sess);
    push('commands', sameList(want, got), want, got);
  }
  if (s.auth) {
    const creds = data.credentials.filter((c) => c.session_id === sess.session_id);
    const c = creds[0];
    const exp = { mechanism: labMechanism(s.auth.mechanism), username: s.auth.username, password: s.auth.password, success: s.auth.result === undefined ? null : s.auth.result >= 200 && s.auth.result < 300 };
    const got = c ? { mechanism: c.mechanism.toUpperCase(), username: c.username, password: c.secret, outcome: c.outcome } : null;
    const ok =
      !!c &&
      got!.mechanism === exp.mechanism &&
      c.username === exp.username &&
      (c.secret === exp.password || (c.secret === null && cramMd5Proves(c.hashcat ?? null, exp.password))) &&
      (exp.success === null || c.outcome === (exp.success ? 'success' : 'failure'));
    push('credential', ok, exp, got, c ? 'credential fields differ' : 'no credential for this session');
  }
  const txs = sess.smtp?.transactions ?? [];
  for (const [i, t] of (s.transactions ?? []).entries()) {
    const where = `${label} transaction ${i + 1}`;
    const msg = t.message ? data.messages.find((m) => m.sha256 === t.message!.sha256 && m.session_id === sess.session_id) ?? null : null;
    if (t.message) {
      push('eml', msg !== null, { where, eml_file: t.message.eml_file, sha256: t.message.sha256 },
        data.messages.filter((m) => m.session_id === sess.session_id).map((m) => ({ size: m.size, sha256: m.sha256 })),
        'no rebuilt message with the exact bytes sent');
    }
    const ours = msg ? txs.find((x) => x.message_id === msg.message_id) : txs.filter((x) => x.mail_from !== null)[i];
    if (!ours) {
      push('transaction', false, where, txs.length, 'no matching transaction');
      continue;
    }
    push('mail_from', envelopeAddress(ours.mail_from) === t.mail_from, { where, value: t.mail_from }, ours.mail_from);
    const expR = t.rcpt_to.map((r) => `${r.addr} ${r.reply}`);
    const gotR = ours.rcpt_to.map((r) => `${envelopeAddress(r.address)} ${r.reply_code}`);
    push('rcpt', sameList(expR, gotR), { where, value: expR }, gotR);
    if (t.queue_ids && t.queue_ids.length > 0) {
      const q = ours.queue_id ?? (msg ? (msg.delivery['queue_id'] as string | null | undefined) ?? null : null);
      push('queue_id', q !== null && t.queue_ids.includes(q), { where, value: t.queue_ids }, q);
    }
  }
  const r = s.results;
  if (r) {
    const cmp = (name: string, exp: string[], got: string[]): void => push(name, sameList(exp, got), exp, got);
    if (r.vrfy) cmp('vrfy', r.vrfy.map((v) => `${v.arg} ${v.reply}`), (sess.smtp?.vrfy ?? []).map((v) => `${v.argument} ${v.reply_code}`));
    if (r.expn) cmp('expn', r.expn.map((v) => `${v.arg} ${v.reply}`), (sess.smtp?.expn ?? []).map((v) => `${v.argument} ${v.reply_code}`));
    if (r.rcpt)
      cmp('rcpt', r.rcpt.map((v) => `${v.addr} ${v.reply}`), txs.flatMap((t) => t.rcpt_to.map((x) => `${envelopeAddress(x.address)} ${x.reply_code}`)));
  }
}

/**
 * POP3 / IMAP truth sessions: client command lines, credentials (or each login attempt), and the
 * exact bytes of every message retrieved (RETR), fetched (FETCH) or appended (APPEND). While the
 * case has no session of that protocol at all, the session is `skipped` (issue 3).
 */
function compareLabMailboxSession(capture: string, scen: string, s: LabSession, k: number, data: CaseData, out: CheckResult[]): void {
  const proto = s.protocol;
  const label = `${scen} ${proto} ${s.client_ip}${s.server_port ? ` -> :${s.server_port}` : ''}`;
  const push = (check: string, ok: boolean, expected: unknown, got: unknown, reason = ''): void => {
    out.push(result(capture, `lab:${proto}:${check}`, ok ? 'match' : 'mismatch', { scenario: scen, value: expected }, got, ok ? '' : reason || `${check} differs`));
  };
  const ours = sessionsFor(data, s, proto);
  if (ours.length === 0) {
    push('session', false, label, data.sessions.map((x) => `${x.protocol} ${x.client.ip}:${x.client.port} -> ${x.server.ip}:${x.server.port}`), `no ${proto} session from this client`);
    return;
  }
  const sess = pickSession(ours, s, k, data);
  const tls = s.tls ?? 'none';
  const clear = (s['cleartext_commands'] as string[] | undefined) ?? null;
  if (tls !== 'none') {
    if (clear) {
      const got = clientCommands(data, sess, false);
      push('cleartext-commands', sameList(clear, got), clear, got);
    }
    if (!compareEncryptedCommands(capture, scen, `lab:${proto}`, s, sess, data, out)) return;
  }
  // Truth command lists sometimes hold placeholders such as "<base64 \0alice\0...>": not comparable.
  if (s.commands && !s.commands.some((c) => c.startsWith('<'))) {
    const want = proto === 'imap' ? imapCommandLines(s.commands) : s.commands;
    const got = clientCommands(data, sess);
    push('commands', sameList(want, got), want, got);
  }
  const facts = sess as unknown as { pop3?: { deleted?: { msg_number: number | null; outcome: string }[]; deletion?: string }; imap?: { client_id?: Record<string, string> | null } };
  const deleted = s['deleted'] as number[] | undefined;
  if (proto === 'pop3' && deleted) {
    const got = (facts.pop3?.deleted ?? []).filter((d) => d.outcome === 'ok').map((d) => d.msg_number);
    push('deleted', sameList(deleted.map(String), got.map(String)), deleted, got);
    // RFC 1939 §6: "+OK" to QUIT in TRANSACTION commits the deletions.
    const quit = s['quit_reply'] as string | undefined;
    if (quit !== undefined && quit.startsWith('+OK')) push('deletion', facts.pop3?.deletion === 'committed', 'committed', facts.pop3?.deletion ?? null);
  }
  const clientId = s['client_id'] as string | undefined;
  if (proto === 'imap' && clientId) {
    const want = parseImapId(clientId);
    const got = facts.imap?.client_id ?? null;
    push('client-id', got !== null && JSON.stringify(Object.entries(want).sort()) === JSON.stringify(Object.entries(got).sort()), want, got);
  }
  const creds = data.credentials.filter((c) => c.session_id === sess.session_id);
  const credOk = (c: (typeof creds)[number] | undefined, mech: string, user: string, pass: string, success: boolean | null): boolean =>
    !!c && labMechanism(c.mechanism) === mech && c.username === user && c.secret === pass && (success === null || c.outcome === (success ? 'success' : 'failure'));
  const credGot = (c: (typeof creds)[number] | undefined): unknown =>
    c ? { mechanism: c.mechanism, username: c.username, password: c.secret, outcome: c.outcome } : null;
  if (s.attempts) {
    s.attempts.forEach((a, i) => {
      const exp = { mechanism: labMechanism(a.mechanism ?? a.command ?? ''), username: a.username, password: a.password, success: a.success };
      push('credential', credOk(creds[i], exp.mechanism, a.username, a.password, a.success), exp, credGot(creds[i]));
    });
  } else if (s.auth) {
    const exp = { mechanism: labMechanism(s.auth.mechanism), username: s.auth.username, password: s.auth.password };
    push('credential', credOk(creds[0], exp.mechanism, exp.username, exp.password, null), exp, credGot(creds[0]));
    if ((s.auth as { inside_tls?: boolean }).inside_tls === true)
      push('credential-channel', creds[0]?.cleartext_channel === false, { cleartext_channel: false }, creds[0]?.cleartext_channel ?? null);
  }
  const mine = data.messages.filter((m) => m.session_id === sess.session_id);
  const want: { what: string; sha256: string }[] = [];
  for (const r of (s['retrieved'] as { n?: number; sha256_as_received?: string }[] | undefined) ?? [])
    if (r && typeof r === 'object' && r.sha256_as_received) want.push({ what: `RETR ${r.n}`, sha256: r.sha256_as_received });
  for (const f of (s['fetched'] as { sha256?: string; prefix?: string }[] | undefined) ?? [])
    if (f.sha256) want.push({ what: `FETCH ${f.prefix ?? ''}`, sha256: f.sha256 });
  const appended = s['appended'] as { sha256?: string; file?: string } | undefined;
  if (appended?.sha256) want.push({ what: `APPEND ${appended.file ?? ''}`, sha256: appended.sha256 });
  const fetched = s['fetched_sha256'] as string | undefined;
  if (fetched) want.push({ what: 'FETCH', sha256: fetched });
  for (const w of want) {
    push('message', mine.some((m) => m.sha256 === w.sha256), w, mine.map((m) => ({ transport: m.transport, size: m.size, sha256: m.sha256 })),
      'no rebuilt message with the exact bytes transferred');
  }
}

/**
 * ManageSieve truth sessions (RFC 5804): client command lines (a PUTSCRIPT literal is not a
 * line), the AUTHENTICATE credential, and the uploaded script: its bytes must equal the lab's
 * `<scenario>.sieve` file, and our sieve_scripts record must name it active after SETACTIVE.
 */
function compareLabSieveSession(capture: string, scen: string, s: LabSession, k: number, data: CaseData, labDir: string | null, out: CheckResult[]): void {
  const push = (check: string, ok: boolean, expected: unknown, got: unknown, reason = ''): void => {
    out.push(result(capture, `lab:sieve:${check}`, ok ? 'match' : 'mismatch', { scenario: scen, value: expected }, got, ok ? '' : reason || `${check} differs`));
  };
  const ours = sessionsFor(data, s, 'sieve');
  if (ours.length === 0) {
    push('session', false, `${scen} sieve ${s.client_ip}`, data.sessions.map((x) => `${x.protocol} ${x.client.ip}:${x.client.port} -> ${x.server.ip}:${x.server.port}`), 'no ManageSieve session from this client');
    return;
  }
  const sess = pickSession(ours, s, k, data);
  if (s.commands) {
    const got = clientCommands(data, sess);
    push('commands', sameList(s.commands, got), s.commands, got);
  }
  if (s.auth) {
    const c = data.credentials.find((x) => x.session_id === sess.session_id);
    const exp = { mechanism: labMechanism(s.auth.mechanism), username: s.auth.username, password: s.auth.password };
    const ok = !!c && labMechanism(c.mechanism) === exp.mechanism && c.username === exp.username && c.secret === exp.password && c.outcome === 'success';
    push('credential', ok, exp, c ? { mechanism: c.mechanism, username: c.username, password: c.secret, outcome: c.outcome } : null);
  }
  const scripts = (data.extra?.sieve_scripts ?? []).filter((r) => r['session_id'] === sess.session_id);
  const file = labDir === null ? null : `${labDir}/${scen}.sieve`;
  if (file !== null && existsSync(file)) {
    const h = sha256(readFileSync(file));
    const up = scripts.filter((r) => r['sha256'] === h);
    push('script', up.length > 0, { file: `${scen}.sieve`, sha256: h }, scripts.map((r) => ({ name: r['name'], sha256: r['sha256'], command: r['command'] })),
      'no sieve_scripts record with the uploaded bytes');
    const active = scripts.some((r) => r['sha256'] === h && r['active'] === true);
    if ((s.commands ?? []).some((c) => c.startsWith('SETACTIVE'))) push('active', active, true, scripts.map((r) => ({ name: r['name'], active: r['active'] })));
  }
}

/**
 * Lab truth vs the case folder: for cleartext SMTP sessions the exact .eml bytes sent, the
 * credentials (mechanism, username, password, outcome), the EHLO names, the client command
 * lines, the RCPT replies, queue ids and VRFY/EXPN results. TLS sessions compare their cleartext
 * part and, when decrypted with the key log, the encrypted commands, credentials and messages.
 * POP3/IMAP: commands, credentials, message bytes, deletions, IMAP ID; ManageSieve: see
 * compareLabSieveSession. DNS sessions are skipped.
 */
export function compareLab(capture: LabCapture, data: CaseData): CheckResult[] {
  const out: CheckResult[] = [];
  for (const truth of capture.truths) compareLabTruth(capture.id, truth, data, out, capture.labDir ?? null);
  return out;
}

function compareLabTruth(capture: string, truth: LabTruth, data: CaseData, out: CheckResult[], labDir: string | null): void {
  const scen = truth.scenario;
  // Several truth sessions can share client and port (backscatter's two POP3 fetches): the
  // k-th such truth session is compared with our k-th session in capture order.
  const seen = new Map<string, number>();
  for (const s of truth.sessions ?? []) {
    const key = `${s.protocol}|${s.client_ip}|${s.server_port ?? ''}|${s.client_port ?? ''}`;
    const k = seen.get(key) ?? 0;
    seen.set(key, k + 1);
    if (s.protocol === 'smtp') compareLabSmtpSession(capture, scen, s, k, data, out);
    else if (s.protocol === 'pop3' || s.protocol === 'imap') compareLabMailboxSession(capture, scen, s, k, data, out);
    else if (s.protocol === 'sieve' || s.protocol === 'managesieve') compareLabSieveSession(capture, scen, s, k, data, labDir, out);
    else out.push(result(capture, `lab:${s.protocol}`, 'skipped', { scenario: scen }, null, 'not a mail protocol session'));
  }
  for (const a of truth.attachments ?? []) {
    const ok = data.messages.some((m) => (m.attachments ?? []).some((x) => x.sha256 === a.sha256));
    out.push(result(capture, 'lab:attachment', ok ? 'match' : 'mismatch', { scenario: scen, filename: a.filename, sha256: a.sha256 }, ok ? a.sha256 : null,
      ok ? '' : 'no attachment with these decoded bytes'));
  }
}

// ---------------------------------------------------------------------------------------------
// Per-capture driver
// ---------------------------------------------------------------------------------------------

/** Every SMTP check of one public capture against its case folder. */
export function comparePublic(capture: PublicCapture, data: CaseData): CheckResult[] {
  const out: CheckResult[] = [];
  if (capture.tsharkSmtp && capture.tsharkSmtp.length > 0) out.push(...compareTshark(capture.id, capture.tsharkSmtp, data.transcript));
  for (const log of capture.zeekSmtpLogs) out.push(...compareZeekSmtp(capture.id, log.name, log.rows, data));
  if (capture.exportImf && capture.exportImf.length > 0) {
    const lost = /(\d+) lost-segment frames/.exec(capture.manifest?.notes ?? '');
    out.push(...compareImfExport(capture.id, capture.exportImf, data, { lostSegmentFrames: lost ? Number(lost[1]) : 0 }));
  }
  if (capture.zeekFiles.length > 0) out.push(...compareZeekFiles(capture.id, capture.zeekFiles, data));
  out.push(...compareEmlIntegrity(capture.id, data));
  return out;
}

/**
 * POP3/IMAP checks of one public capture: tshark frame checks, tshark's exported messages
 * (RETR / FETCH bodies) ⊆ ours, and .eml integrity.
 */
export function comparePublicMailbox(capture: PublicCapture, data: CaseData): CheckResult[] {
  const out: CheckResult[] = [];
  const pop = capture.tsharkPop !== null && capture.tsharkPop.length > 0;
  if (pop) out.push(...compareTsharkMailbox(capture.id, 'pop3', capture.tsharkPop!, data.transcript));
  if (capture.tsharkImap && capture.tsharkImap.length > 0) out.push(...compareTsharkMailbox(capture.id, 'imap', capture.tsharkImap, data.transcript));
  if (capture.exportImf && capture.exportImf.length > 0) {
    const imf = compareImfExport(capture.id, capture.exportImf, data);
    out.push(...(pop ? imf.map((r) => popSegmentExport(r, data)) : imf));
  }
  out.push(...compareEmlIntegrity(capture.id, data));
  return out;
}

/** RFC 1939 §3 byte-stuffing of a message as a POP3 server sends it, with the terminator. */
function popWire(b: Uint8Array): Buffer {
  const s = Buffer.from(b).toString('latin1').replace(/(^|\r\n)\./g, '$1..');
  return Buffer.from(`${s}${s.endsWith('\r\n') || s === '' ? '' : '\r\n'}.\r\n`, 'latin1');
}

/**
 * tshark 4.0 does not reassemble POP3 multi-line responses: its IMF export holds each TCP segment
 * of a RETR body (and of LIST/UIDL/CAPA listings, SASL "+ " lines) as its own object. An export
 * mismatch becomes `tshark-error` when its bytes are a contiguous window of what we rebuilt: the
 * wire form of one of our messages, or a server reply as transcribed.
 */
function popSegmentExport(r: CheckResult, data: CaseData): CheckResult {
  if (r.check !== 'imf-export' || r.status !== 'mismatch') return r;
  const what = r.expected as { bytes: number; sha256: string };
  const hay: Buffer[] = [];
  for (const m of data.messages) {
    const b = data.eml.get(m.message_id);
    if (b) hay.push(popWire(b));
  }
  const bySession = new Map<string, string[]>();
  for (const e of data.transcript) {
    if (e.protocol !== 'pop3' || e.side !== 'server' || (e.kind !== 'reply' && e.kind !== 'auth' && e.kind !== 'unparsed')) continue;
    const l = bySession.get(e.session_id) ?? [];
    l.push(e.lines.map((x) => `${x}\r\n`).join('') + (e.kind === 'reply' && e.lines.length > 1 ? '.\r\n' : ''));
    bySession.set(e.session_id, l);
  }
  for (const l of bySession.values()) hay.push(Buffer.from(l.join(''), 'latin1'));
  const n = what.bytes;
  for (const h of hay) {
    for (let i = 0; i + n <= h.length; i++) {
      if (sha256(h.subarray(i, i + n)) === what.sha256) {
        return { ...r, status: 'tshark-error', got: `window of ${n} bytes at offset ${i} of a ${h.length}-byte rebuilt stream`,
          reason: 'tshark 4.0 exports each TCP segment of a POP3 multi-line response as its own IMF object (no reassembly); these bytes are a contiguous piece of what we rebuilt' };
      }
    }
  }
  // Lines that are not POP3 (a server answering STAT with garbage) are kept as one `unparsed`
  // entry with a byte count and a sample line, not byte for byte: such exports cannot be compared.
  const unparsed = data.transcript.find((e) => e.protocol === 'pop3' && e.side === 'server' && e.kind === 'unparsed' && (e.bytes ?? 0) >= n);
  if (unparsed) {
    return { ...r, status: 'skipped', got: describe(unparsed),
      reason: `tshark exported non-POP3 server lines as IMF; we keep them as an unparsed entry (${unparsed.bytes} bytes, one sample line), so the bytes are not comparable` };
  }
  return r;
}

/** Counts by status. */
export function tally(results: CheckResult[]): Record<CheckStatus, number> {
  const t: Record<CheckStatus, number> = { match: 0, mismatch: 0, skipped: 0, 'tshark-error': 0, 'expected-difference': 0 };
  for (const r of results) t[r.status]++;
  return t;
}

// ---------------------------------------------------------------------------------------------
// (e) Arkime expected sessions (`X.arkime-expected.test`)
// ---------------------------------------------------------------------------------------------

const lower = (a: Iterable<string>): string[] => sorted([...a].map((x) => x.toLowerCase()));
const md5 = (b: Uint8Array): string => createHash('md5').update(b).digest('hex');

function sessionByTuple(sessions: SessionRecord[], cip: string, cport: number, sip: string, sport: number): SessionRecord | null {
  const a = normalizeIp(cip);
  const b = normalizeIp(sip);
  for (const s of sessions)
    if (normalizeIp(s.client.ip) === a && s.client.port === cport && normalizeIp(s.server.ip) === b && s.server.port === sport) return s;
  return null;
}

/**
 * MD5s Arkime puts in `email.md5` for one message. Arkime's SMTP parser (smtp.c) MD5s the
 * decoded body of every MIME part whose Content-Transfer-Encoding is base64 (attachment or
 * not: smtp-subject-gb2312-b has an md5 and no filename). We compute the same from our .eml
 * and MIME part table, plus the MD5 of each saved attachment file.
 */
export function arkimeMd5s(m: MessageRecord, eml: Uint8Array | null, attachmentMd5: Map<string, string> | undefined, algo: 'md5' | 'sha256' = 'md5'): string[] {
  const out: string[] = [];
  for (const a of m.attachments) {
    const h = algo === 'md5' ? attachmentMd5?.get(a.sha256) : a.sha256;
    if (h) out.push(h);
  }
  if (eml)
    for (const p of m.parts) {
      if (p.transfer_encoding.toLowerCase() !== 'base64' || p.body_end <= p.body_start) continue;
      const text = Buffer.from(eml.subarray(p.body_start, Math.min(p.body_end, eml.length))).toString('latin1');
      const body = Buffer.from(text.replace(/[^A-Za-z0-9+/=]/g, ''), 'base64');
      out.push(algo === 'md5' ? md5(body) : sha256(body));
    }
  return sorted(out);
}

interface ArkimeBody {
  protocol?: string[];
  user?: string[];
  source?: { ip?: string; port?: number };
  destination?: { ip?: string; port?: number };
  email?: Record<string, unknown>;
}

/** Physical header lines of an .eml (up to the first empty line), CR stripped; [] when missing. */
function emlHeaderLines(eml: Uint8Array | null): string[] {
  if (!eml) return [];
  const text = Buffer.from(eml.buffer, eml.byteOffset, eml.byteLength).toString('utf8');
  const out: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line === '') break;
    out.push(line);
  }
  return out;
}

/** The raw Subject field of an .eml with its folds (CRLF kept), or ''. */
function rawSubject(eml: Uint8Array | null): string {
  const lines = emlHeaderLines(eml);
  const i = lines.findIndex((l) => /^subject:/i.test(l));
  if (i < 0) return '';
  let s = lines[i]!;
  for (let j = i + 1; j < lines.length && /^[ \t]/.test(lines[j]!); j++) s += '\r\n' + lines[j]!;
  return s;
}

/**
 * Arkime capture/parsers/imap.c on our messages: every physical header line is parsed alone
 * (no unfolding). "To:"/"Cc:" lines give addresses by imap_parse_email_address (skip a quoted
 * name, take <...> or the text up to ','); "Subject:" gives the rest of that line with leading
 * blanks stripped (trailing ones kept), not RFC 2047-decoded. Continuation lines match nothing.
 */
export function arkimeImapModel(emls: readonly (Uint8Array | null)[]): { dst: string[]; subject: string[] } {
  const dst: string[] = [];
  const subject: string[] = [];
  for (const eml of emls) {
    for (const line of emlHeaderLines(eml)) {
      const m = /^(to|cc|subject):/i.exec(line);
      if (!m) continue;
      const rest = line.slice(m[0].length);
      if (m[1]!.toLowerCase() === 'subject') {
        subject.push(rest.replace(/^\s+/, ''));
        continue;
      }
      let i = 0;
      while (i < rest.length) {
        while (i < rest.length && /\s/.test(rest[i]!)) i++;
        let start = i;
        if (rest[i] === '"') {
          i++;
          while (i < rest.length && rest[i] !== '"') i++;
          i++;
          while (i < rest.length && /\s/.test(rest[i]!)) i++;
          start = i;
        }
        while (i < rest.length && rest[i] !== '<' && rest[i] !== ',') i++;
        if (rest[i] === '<') {
          start = ++i;
          while (i < rest.length && rest[i] !== '>') i++;
        }
        if (i > start) dst.push(rest.slice(start, i));
        while (i < rest.length && rest[i] !== ',') i++;
        i++;
      }
    }
  }
  return { dst, subject };
}

const strList = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

/**
 * Arkime's expected sessions vs our case folder. Each Arkime session with a mail protocol
 * (smtp/pop3/imap in `protocol`) must be one of our sessions (same client/server 4-tuple,
 * Arkime's `source` is the connection initiator), and each `email.*` / `user` field must agree:
 *
 * - `email.src`: Arkime adds both the MAIL FROM argument and the From: header addresses of
 *   every message of the session (smtp-moloch-bof has both). Ours: envelope mail_from of every
 *   transaction plus headers.from of every message in the session. Lower-cased sets, equal.
 * - `email.dst`: RCPT TO arguments (every one, accepted or not: smtp-rcpt-553) plus To: and Cc:
 *   addresses. Ours: every rcpt_to of every transaction plus headers.to/cc. Lower-cased sets.
 * - `email.subject`: Arkime stores the RFC 2047-decoded Subject as-is (a leading space kept:
 *   " MIME test"). Ours is decoded too; compared as sets, exact text.
 * - `email.smtpHello`: set of our helo_names.
 * - `email.filename`: set of our attachment filenames.
 * - `email.md5` / `email.sha256`: see arkimeMd5s; sha256 = our attachment sha256s. Each
 *   expected hash must be one of ours.
 * - `email.folder` (IMAP): our imap.mailboxes_selected mailbox names (set).
 * - `user`: usernames of our credentials in that session (set).
 * Fields Arkime derives from its own model (host/id/header/bodyMagic/useragent/ip/ASN ...) are
 * not compared. Sessions without a mail protocol (udp/tcp side flows, a body-only packet on port
 * 8000) are skipped, naming why.
 */
export function compareArkime(capture: string, expected: unknown, data: CaseData): CheckResult[] {
  const out: CheckResult[] = [];
  const sessions3 = (expected as { sessions3?: { body?: ArkimeBody }[] } | null)?.sessions3;
  if (!Array.isArray(sessions3)) return [result(capture, 'arkime', 'mismatch', 'sessions3[]', null, 'Arkime expectation file has no sessions3 array')];
  for (const [i, entry] of sessions3.entries()) {
    const b = entry.body ?? {};
    const protos = strList(b.protocol);
    const mailProto = protos.find((p) => p === 'smtp' || p === 'pop3' || p === 'imap');
    const tuple = `${b.source?.ip}:${b.source?.port} -> ${b.destination?.ip}:${b.destination?.port}`;
    const what = `session ${i} ${tuple}`;
    if (!mailProto) {
      out.push(result(capture, 'arkime-session', 'skipped', what, null, `Arkime classifies it as ${protos.join('/') || 'nothing'}: not a mail session`));
      continue;
    }
    const s = sessionByTuple(data.sessions, b.source?.ip ?? '', b.source?.port ?? -1, b.destination?.ip ?? '', b.destination?.port ?? -1);
    const ourProto = mailProto === 'pop3' ? 'pop3' : mailProto;
    if (!s || s.protocol !== ourProto) {
      out.push(result(capture, 'arkime-session', 'mismatch', `${mailProto} ${what}`, s ? `${s.protocol} ${s.session_id}` : data.sessions.map((x) => `${x.protocol} ${x.client.ip}:${x.client.port}`), 'no session of that protocol for this 4-tuple'));
      continue;
    }
    out.push(result(capture, 'arkime-session', 'match', `${mailProto} ${what}`, s.session_id));
    const msgs = data.messages.filter((m) => m.session_id === s.session_id);
    const tx = s.smtp?.transactions ?? [];
    const email = b.email ?? {};
    const setCheck = (field: string, want: string[], got: string[], how: 'equal' | 'subset', note = ''): void => {
      const ok = how === 'equal' ? sameList(sorted(want), sorted(got)) : want.every((w) => got.includes(w));
      out.push(result(capture, `arkime-${field}`, ok ? 'match' : 'mismatch', sorted(want), sorted(got), ok ? note : `${what}: ${field} differs${note ? ` (${note})` : ''}`));
    };
    if ('src' in email)
      setCheck('src', lower(strList(email.src)), lower([...tx.map((t) => envelopeAddress(t.mail_from) ?? '').filter((x) => x !== ''), ...msgs.flatMap((m) => m.headers.from.map((a) => a.address))]), 'equal');
    // Arkime's imap.c reads each physical line of a FETCH response alone, without RFC 5322
    // §2.2.3 unfolding: see arkimeImapModel. Applied to the header lines of our .eml files.
    const imapModel = mailProto === 'imap' ? arkimeImapModel(msgs.map((m) => data.eml.get(m.message_id) ?? null)) : null;
    if ('dst' in email) {
      const want = lower(strList(email.dst));
      const got = lower([...tx.flatMap((t) => t.rcpt_to.map((r) => envelopeAddress(r.address) ?? '')).filter((x) => x !== ''), ...msgs.flatMap((m) => [...m.headers.to, ...m.headers.cc].map((a) => a.address))]);
      if (imapModel && !sameList(want, got) && sameList(want, lower(imapModel.dst)) && want.every((w) => got.includes(w)))
        out.push(result(capture, 'arkime-dst', 'expected-difference', want, got, `Arkime imap.c parses each FETCH header line alone (no RFC 5322 §2.2.3 unfolding), so To:/Cc: addresses on folded continuation lines are lost: its ${want.length} addresses are exactly the first-line To:/Cc: addresses of our .eml files, and all are among our ${got.length}`));
      else setCheck('dst', want, got, 'equal');
    }
    if ('subject' in email) {
      const want = sorted(strList(email.subject));
      const got = sorted(msgs.map((m) => m.headers.subject).filter((x): x is string => x !== null));
      const squash = (a: string[]): string[] => sorted(a.map((x) => x.replace(/\s+/g, '')));
      if (sameList(want, got)) setCheck('subject', want, got, 'equal');
      else if (sameList(sorted(want.map((x) => x.trim())), sorted(got.map((x) => x.trim()))))
        // Arkime keeps the blanks after "Subject:" and before the line end (" MIME test"); we
        // store the unstructured value trimmed (RFC 5322 §3.2.2: FWS around it is not content).
        out.push(result(capture, 'arkime-subject', 'expected-difference', want, got, 'equal once leading/trailing blanks are trimmed: Arkime keeps them, we trim the unstructured value'));
      else if (imapModel && sameList(want, sorted(imapModel.subject)) && want.every((w) => got.some((g) => g.startsWith(w.trim()))))
        out.push(result(capture, 'arkime-subject', 'expected-difference', want, got, 'Arkime imap.c takes the Subject from its first physical line only (no RFC 5322 §2.2.3 unfolding: text on a folded continuation line is dropped) and strips only leading blanks (a trailing blank is kept); its set is exactly that applied to our .eml header lines, and each of its subjects starts one of ours'));
      else if (mailProto === 'smtp' && sameList(squash(want), squash(got)) && msgs.some((m) => /\?=(?:\r?\n)?[ \t]{2,}=\?/.test(rawSubject(data.eml.get(m.message_id) ?? null))))
        // smtp-subject-multi-nospace: "...?=\r\n  =?UTF-8?Q?..." (folding with two blanks).
        out.push(result(capture, 'arkime-subject', 'expected-difference', want, got, 'equal once blanks are removed: the raw Subject folds between adjacent encoded-words with two blanks; RFC 2047 §6.2 says linear whitespace between adjacent encoded-words is ignored (we drop it), while Arkime smtp.c unfolds CRLF+WSP to one blank keeping the rest and smtp_email_add_encoded drops only a single blank between "?=" and "=?", so it keeps two'));
      else setCheck('subject', want, got, 'equal');
    }
    // Arkime lower-cases the HELO/EHLO argument (smtp.c stores smtpHello lower-case: "ADCDTEST" -> "adcdtest").
    if ('smtpHello' in email) setCheck('smtpHello', lower(strList(email.smtpHello)), lower(s.smtp?.helo_names ?? []), 'equal', 'lower-cased: Arkime lower-cases smtpHello');
    const fnWant = strList(email.filename);
    const fnGot = msgs.flatMap((m) => m.attachments.map((a) => a.filename)).filter((x): x is string => x !== null);
    // Arkime caps stored strings at 4095 characters (smtp-moloch-bof: an 8192-char filename).
    if ('filename' in email && !sameList(sorted(fnWant), sorted(fnGot)) && fnWant.length === fnGot.length && fnWant.every((w) => w.length === 4095 ? fnGot.some((g) => g.startsWith(w)) : fnGot.includes(w)))
      out.push(result(capture, 'arkime-filename', 'expected-difference', fnWant.map((x) => x.length), fnGot.map((x) => x.length), 'Arkime truncates the filename at 4095 characters; ours is the whole declared name (it starts with Arkime\'s)'));
    else if ('filename' in email)
      setCheck('filename', strList(email.filename), msgs.flatMap((m) => m.attachments.map((a) => a.filename)).filter((x): x is string => x !== null), 'equal');
    if ('md5' in email)
      setCheck('md5', strList(email.md5), msgs.flatMap((m) => arkimeMd5s(m, data.eml.get(m.message_id) ?? null, data.attachmentMd5)), 'subset', 'each Arkime md5 is the MD5 of one of our base64 parts / attachments');
    if ('sha256' in email)
      setCheck('sha256', strList(email.sha256), msgs.flatMap((m) => arkimeMd5s(m, data.eml.get(m.message_id) ?? null, data.attachmentMd5, 'sha256')), 'subset', 'each Arkime sha256 is the SHA-256 of one of our base64 parts / attachments');
    if ('folder' in email) {
      const imap = s['imap'] as { mailboxes_selected?: { mailbox: string }[] } | undefined;
      setCheck('folder', strList(email.folder), (imap?.mailboxes_selected ?? []).map((x) => x.mailbox), 'equal');
    }
    if ('user' in b) setCheck('user', strList(b.user), data.credentials.filter((c) => c.session_id === s.session_id && c.username !== null).map((c) => c.username!), 'equal');
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// (f) suricata-verify EVE filter checks (`X.suricata-verify-expected.<test>.test.yaml`)
// ---------------------------------------------------------------------------------------------

export type YamlValue = string | number | boolean | null | YamlValue[] | { [k: string]: YamlValue };

function yamlScalar(raw: string): YamlValue {
  const t = raw.trim();
  if (t === '' || t === '~' || t === 'null') return t === '' ? '' : null;
  if (t.startsWith("'") && t.endsWith("'") && t.length >= 2) return t.slice(1, -1).replace(/''/g, "'");
  if (t.startsWith('"') && t.endsWith('"') && t.length >= 2) {
    try {
      return JSON.parse(t) as string;
    } catch {
      return t.slice(1, -1);
    }
  }
  if (t.startsWith('[') && t.endsWith(']')) {
    const inner = t.slice(1, -1).trim();
    return inner === '' ? [] : splitFlow(inner).map(yamlScalar);
  }
  if (t === 'true' || t === 'false') return t === 'true';
  if (/^-?\d+(\.\d+)?$/.test(t)) return Number(t);
  return t;
}

function splitFlow(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let q: string | null = null;
  for (const c of s) {
    if (q) {
      cur += c;
      if (c === q) q = null;
    } else if (c === '"' || c === "'") {
      q = c;
      cur += c;
    } else if (c === ',') {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

/** Drops a `# comment` that is not inside quotes. */
function stripComment(line: string): string {
  let q: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (q) {
      if (c === q) q = null;
    } else if (c === '"' || c === "'") q = c;
    else if (c === '#' && (i === 0 || /\s/.test(line[i - 1]!))) return line.slice(0, i);
  }
  return line;
}

/**
 * A minimal block-YAML reader, enough for suricata-verify test.yaml: nested maps by indentation,
 * `- ` sequences (of maps or scalars), plain / quoted scalars, flow lists `[a, "b"]`, comments.
 * No anchors, multi-line strings or flow maps (unknown constructs become plain strings).
 */
export function parseYamlSubset(text: string): YamlValue {
  const lines = text
    .split(/\r?\n/)
    .map(stripComment)
    .filter((l) => l.trim() !== '' && l.trim() !== '---')
    .map((l) => ({ indent: l.length - l.trimStart().length, text: l.trim() }));
  let i = 0;
  const keyRe = /^("[^"]*"|'[^']*'|[^:'"]+?):(?:\s+(.*)|$)/;
  const parseBlock = (indent: number): YamlValue => {
    if (i >= lines.length) return null;
    if (lines[i]!.text.startsWith('- ') || lines[i]!.text === '-') {
      const arr: YamlValue[] = [];
      while (i < lines.length && lines[i]!.indent === indent && (lines[i]!.text.startsWith('- ') || lines[i]!.text === '-')) {
        const rest = lines[i]!.text.slice(1).trimStart();
        const inner = indent + (lines[i]!.text.length - rest.length);
        if (rest === '') {
          i++;
          arr.push(i < lines.length && lines[i]!.indent > indent ? parseBlock(lines[i]!.indent) : null);
        } else if (keyRe.test(rest) && !rest.startsWith('[') && !rest.startsWith('"') && !rest.startsWith("'")) {
          lines[i] = { indent: inner, text: rest }; // the item is a map: re-read this line as its first key
          arr.push(parseBlock(inner));
        } else {
          arr.push(yamlScalar(rest));
          i++;
        }
      }
      return arr;
    }
    const obj: { [k: string]: YamlValue } = {};
    while (i < lines.length && lines[i]!.indent === indent && !lines[i]!.text.startsWith('- ')) {
      const m = keyRe.exec(lines[i]!.text);
      if (!m) {
        i++;
        continue;
      }
      const key = m[1]!.replace(/^["']|["']$/g, '');
      const val = m[2];
      i++;
      if (val !== undefined && val.trim() !== '') obj[key] = yamlScalar(val);
      else if (i < lines.length && (lines[i]!.indent > indent || (lines[i]!.indent === indent && lines[i]!.text.startsWith('- '))))
        obj[key] = parseBlock(lines[i]!.indent);
      else obj[key] = null;
    }
    return obj;
  };
  return lines.length === 0 ? null : parseBlock(lines[0]!.indent);
}

/** One event we offer to a Suricata filter: an SMTP transaction (with its message), or a session without one. */
interface SuricataEvent {
  session: SessionRecord;
  tx: SmtpTransactionRecord | null;
  message: MessageRecord | null;
}

/** Match keys we compare; everything else in a filter is Suricata-internal (tx_id, pcap_cnt, email.status, flow.*, ...). */
const SURICATA_COMPARED = /^(src_ip|src_port|dest_ip|dest_port|smtp\.helo|smtp\.mail_from|smtp\.rcpt_to\[\d+\]|email\.(from|subject|message_id|x_mailer|date|(to|cc|attachment)\[\d+\])|fileinfo\.(filename|size|sha256))$/;
/** Keys that only say "this is SMTP" (already implied by our events). */
const SURICATA_NEUTRAL = new Set(['event_type', 'app_proto', 'proto']);

/**
 * The value our event gives for one Suricata EVE key (undefined = key absent), normalised:
 * - smtp.mail_from / smtp.rcpt_to[i]: Suricata logs the command argument as written, with <>;
 *   ours are compared as `<address>` (every RCPT, accepted or not, in command order).
 * - smtp.helo: Suricata logs the HELO/EHLO argument; ours is the session's helo_names (the value
 *   must be one of them, see matchesValue).
 * - email.from / email.to[i] / email.cc[i]: Suricata logs the raw header value (to/cc split at
 *   commas); compared by address (addressOf), lower-cased, against our parsed headers.
 * - email.subject: Suricata's value is raw; RFC 2047 words decoded and whitespace collapsed on
 *   both sides. email.message_id/date/x_mailer: raw header text, whitespace collapsed.
 * - email.attachment[i] / fileinfo.filename/size/sha256: must be one of the message's attachments.
 */
function suricataValue(e: SuricataEvent, key: string): string[] | undefined {
  const h = e.message?.headers;
  const idx = /\[(\d+)\]$/.exec(key);
  const n = idx ? Number(idx[1]) : -1;
  switch (key.replace(/\[\d+\]$/, '')) {
    case 'src_ip':
      return [normalizeIp(e.session.client.ip)];
    case 'dest_ip':
      return [normalizeIp(e.session.server.ip)];
    case 'src_port':
      return [String(e.session.client.port)];
    case 'dest_port':
      return [String(e.session.server.port)];
    case 'smtp.helo':
      return e.session.smtp?.helo_names.length ? e.session.smtp.helo_names : undefined;
    case 'smtp.mail_from': {
      const a = e.tx ? envelopeAddress(e.tx.mail_from) : null;
      return a === null ? undefined : [a.toLowerCase()];
    }
    case 'smtp.rcpt_to': {
      const r = e.tx?.rcpt_to[n];
      return r ? [(envelopeAddress(r.address) ?? '').toLowerCase()] : undefined;
    }
    case 'email.from':
      return h && h.from.length > 0 ? h.from.map((a) => a.address.toLowerCase()) : undefined;
    case 'email.to':
      return h && h.to[n] ? [h.to[n]!.address.toLowerCase()] : undefined;
    case 'email.cc':
      return h && h.cc[n] ? [h.cc[n]!.address.toLowerCase()] : undefined;
    case 'email.subject':
      return h?.subject != null ? [collapse(h.subject)!] : undefined;
    case 'email.message_id':
      return h?.message_id != null ? [collapse(stripAngle(h.message_id))!] : undefined;
    case 'email.date':
      return h?.date != null ? [collapse(h.date)!] : undefined;
    case 'email.x_mailer':
      return h?.x_mailer != null ? [collapse(h.x_mailer)!] : undefined;
    case 'email.attachment':
    case 'fileinfo.filename': {
      const f = (e.message?.attachments ?? []).map((a) => a.filename).filter((x): x is string => x !== null);
      return f.length ? f : undefined;
    }
    case 'fileinfo.size': {
      const f = (e.message?.attachments ?? []).map((a) => String(a.size));
      return f.length ? f : undefined;
    }
    case 'fileinfo.sha256': {
      const f = (e.message?.attachments ?? []).map((a) => a.sha256);
      return f.length ? f : undefined;
    }
    default:
      return undefined;
  }
}

function suricataExpected(key: string, v: YamlValue): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  const base = key.replace(/\[\d+\]$/, '');
  if (base === 'smtp.mail_from' || base === 'smtp.rcpt_to') return (envelopeAddress(s) ?? '').toLowerCase();
  if (base === 'email.from' || base === 'email.to' || base === 'email.cc') return addressOf(s).toLowerCase();
  if (base === 'src_ip' || base === 'dest_ip') return normalizeIp(s);
  if (base === 'email.subject' || base === 'email.date' || base === 'email.x_mailer') return collapse(decodeEncodedWords(s))!;
  if (base === 'email.message_id') return collapse(stripAngle(s))!;
  return s;
}

/** Arguments that do not change what Suricata logs for SMTP (checksum validation, IPS stream mode, run mode, lua rules, frame output). */
const HARMLESS_ARGS = /^(-k none|--set stream\.inline=true|--runmode=single|--set security\.lua\.allow-rules=true|--set outputs\.\d+\.eve-log\.types\.\d+\.frame\.enabled=yes)$/;

/**
 * suricata-verify filter checks vs our SMTP facts. Each `filter` whose `event_type` is `smtp` (or
 * `fileinfo` with app_proto smtp) is compared: our events are the SMTP transactions (Suricata
 * logs one smtp event per transaction) plus each SMTP session without one (Suricata logs a
 * HELO-only session as a transaction too). The filter's comparable keys (SURICATA_COMPARED,
 * normalised as in suricataValue) select our events; their number must equal `count`;
 * `not-has-key` keys must be absent. Filters with no comparable key besides event_type cannot
 * select anything of ours (tx_id, pcap_cnt, email.status ... are Suricata internals): skipped.
 * Alerts, flow, stats, anomaly, drop, frame events: skipped (rules/engine state).
 * Tests skipped whole: `args` that change engine behaviour (`--simulate-ips` firewall drop
 * tests: what Suricata logs depends on the rules dropping traffic; reassembly depth), and
 * filters with `requires: lt-version` (output of older Suricata releases).
 */
export function compareSuricata(capture: string, yamlTests: { name: string; text: string }[], data: CaseData): CheckResult[] {
  const out: CheckResult[] = [];
  const events: SuricataEvent[] = [];
  for (const s of data.sessions) {
    if (s.protocol !== 'smtp') continue;
    const txs = s.smtp?.transactions ?? [];
    if (txs.length === 0) events.push({ session: s, tx: null, message: null });
    for (const t of txs) events.push({ session: s, tx: t, message: t.message_id ? (data.messages.find((m) => m.message_id === t.message_id) ?? null) : null });
  }
  for (const t of yamlTests) {
    const test = t.name.replace(/^.*\.suricata-verify-expected\./, '').replace(/\.test\.yaml$/, '');
    const doc = parseYamlSubset(t.text) as { [k: string]: YamlValue } | null;
    if (!doc || typeof doc !== 'object' || Array.isArray(doc)) {
      out.push(result(capture, `suricata:${test}`, 'mismatch', 'a YAML map', t.text.slice(0, 80), 'test.yaml not readable by parseYamlSubset'));
      continue;
    }
    const args = (Array.isArray(doc.args) ? doc.args : []).map((a) => String(a).trim());
    const bad = args.filter((a) => !HARMLESS_ARGS.test(a));
    if (bad.length > 0) {
      out.push(result(capture, `suricata:${test}`, 'skipped', `test ${test}`, null, `runs Suricata with ${bad.join(' ')}: its logged events depend on that engine mode/config (IPS drops, reassembly depth), not only on the traffic`));
      continue;
    }
    const checks = Array.isArray(doc.checks) ? doc.checks : [];
    for (const [ci, c] of checks.entries()) {
      const f = (c as { [k: string]: YamlValue } | null)?.filter as { [k: string]: YamlValue } | undefined;
      const what = `${test} check ${ci}`;
      if (!f || typeof f !== 'object') {
        out.push(result(capture, `suricata:${test}`, 'skipped', what, null, 'not a filter check (stats / shell / file): engine counters'));
        continue;
      }
      const req = f.requires as { [k: string]: YamlValue } | undefined;
      if (req && typeof req === 'object' && ('lt-version' in req || 'features' in req || 'feature' in req)) {
        out.push(result(capture, `suricata:${test}`, 'skipped', what, JSON.stringify(req), 'filter describes older Suricata output or needs a build feature'));
        continue;
      }
      const match = (f.match ?? {}) as { [k: string]: YamlValue };
      const et = match.event_type;
      if (!(et === 'smtp' || (et === 'fileinfo' && match.app_proto === 'smtp'))) {
        out.push(result(capture, `suricata:${test}`, 'skipped', what, null, `event_type ${String(et)}: rule/engine output, not an SMTP fact`));
        continue;
      }
      const keys = Object.keys(match).filter((k) => SURICATA_COMPARED.test(k));
      const ignored = Object.keys(match).filter((k) => !SURICATA_COMPARED.test(k) && !SURICATA_NEUTRAL.has(k));
      const noKey = Array.isArray(f['not-has-key']) ? (f['not-has-key'] as YamlValue[]).map(String).filter((k) => SURICATA_COMPARED.test(k)) : [];
      if (keys.length === 0 && noKey.length === 0) {
        out.push(result(capture, `suricata:${test}`, 'skipped', what, null, `no comparable key (only ${ignored.join(', ') || 'event_type'}): Suricata transaction ids / parser states select the event`));
        continue;
      }
      const want = Object.fromEntries(keys.map((k) => [k, suricataExpected(k, match[k]!)]));
      // Suricata truncates long logged strings (filenames at 255 bytes, command arguments near 4 KiB):
      // a value of 255+ characters that is a prefix of ours counts as selecting, but the
      // result is then an expected-difference, not a match.
      let truncated = false;
      const has = (vals: string[] | undefined, w: string): boolean => {
        if (!vals) return false;
        if (vals.includes(w)) return true;
        if (w.length >= 255 && vals.some((v) => v.length > w.length && v.startsWith(w))) return (truncated = true);
        // A line over Suricata's 4 KiB line limit is logged with its CR still attached (its
        // truncated-line path does not strip it: smtp-long-command's helo is 4090 characters + CR).
        if (w.length >= 255 && w.endsWith('\r') && vals.includes(w.slice(0, -1))) return (truncated = true);
        return false;
      };
      const hits = events.filter((e) => keys.every((k) => has(suricataValue(e, k), want[k]!)) && noKey.every((k) => suricataValue(e, k) === undefined));
      const count = typeof f.count === 'number' ? f.count : null;
      // A filter that names tx_id selects one Suricata transaction; our transaction numbering
      // differs (Suricata opens a tx per HELO/RSET/rejected command group), so tx_id is not
      // compared. Then `count: 0` only says "that tx id has no such event": not comparable;
      // `count: N>0` means such an event exists: we need at least one.
      if ('tx_id' in match && count === 0) {
        out.push(result(capture, `suricata:${test}`, 'skipped', what, { count: hits.length }, `count 0 for tx_id ${String(match.tx_id)}: Suricata transaction ids are not ours`));
        continue;
      }
      const ok = count === null || 'tx_id' in match ? hits.length >= Math.max(1, count ?? 1) : hits.length === count;
      const exp = { count, match: want, ...(noKey.length ? { 'not-has-key': noKey } : {}) };
      const got = { count: hits.length, events: hits.map((e) => `${e.session.session_id}#${e.tx?.index ?? '-'}`) };
      if (ok && truncated) {
        out.push(result(capture, `suricata:${test}`, 'expected-difference', exp, got, 'Suricata logged a truncated value (255-byte filename / long command argument, or a 4 KiB line with its CR kept); ours is complete'));
        continue;
      }
      out.push(result(capture, `suricata:${test}`, ok ? 'match' : 'mismatch', exp, got, ok ? (ignored.length ? `not compared: ${ignored.join(', ')}` : '') : `${what}: ${hits.length} of our events select, Suricata logged ${count}${ignored.length ? ` (not compared: ${ignored.join(', ')})` : ''}`));
    }
  }
  return out;
}

/** Arkime and suricata-verify checks of one public capture (none when it has neither file). */
export function compareExternal(capture: PublicCapture, data: CaseData): CheckResult[] {
  const out: CheckResult[] = [];
  if (capture.arkimeExpected !== undefined && capture.arkimeExpected !== null) out.push(...compareArkime(capture.id, capture.arkimeExpected, data));
  if (capture.suricataTests && capture.suricataTests.length > 0) out.push(...compareSuricata(capture.id, capture.suricataTests, data));
  return out;
}
