/**
 * Loaders for the shared test corpus (../shared/corpus): tshark TSV ground truth, Zeek logs,
 * the public MANIFEST capture list, the lab truth files, and a finished case folder.
 *
 * Everything here is parsing only; the comparisons live in compare.ts. Loaders never throw on a
 * missing optional file: they return null / [] so a capture without a given baseline simply
 * has no check of that kind.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type {
  AnomalyRecord,
  CredentialRecord,
  MessageRecord,
  SessionRecord,
  TranscriptRecord,
} from '../../src/core/records.js';

// ---------------------------------------------------------------------------------------------
// Generic TSV (tshark -T fields -E header=y)
// ---------------------------------------------------------------------------------------------

/** A header-row TSV: the column names and one object per row (missing cells are ''). */
export interface Tsv {
  header: string[];
  rows: Record<string, string>[];
}

/** Parses a tab-separated file with a header row. Blank lines are ignored. */
export function parseTsv(text: string): Tsv {
  const lines = text.split(/\r?\n/);
  const header = (lines[0] ?? '').split('\t');
  const rows: Record<string, string>[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '') continue;
    const cells = line.split('\t');
    const row: Record<string, string> = {};
    header.forEach((h, j) => (row[h] = cells[j] ?? ''));
    rows.push(row);
  }
  return { header, rows };
}

function splitAgg(cell: string | undefined): string[] {
  return cell === undefined || cell === '' ? [] : cell.split('|');
}

/** One row of `X.tshark.smtp.tsv`: one frame, possibly several commands / replies (`|`-joined). */
export interface TsharkSmtpRow {
  frame: number;
  stream: number;
  /** Commands as tshark shows them (case as on the wire; 4-char split, see MANIFEST). */
  commands: string[];
  /** Parameters of the commands that have one (not aligned with `commands`: DATA has none). */
  parameters: string[];
  /** One code per reply tshark saw in this frame (a multi-line reply counts once). */
  codes: number[];
  responseParameters: string[];
  /** Set when tshark decoded a SASL line as the username / password (no command then). */
  authUsername: string | null;
  authPassword: string | null;
}

/** Parses `X.tshark.smtp.tsv` text. */
export function parseTsharkSmtp(text: string): TsharkSmtpRow[] {
  return parseTsv(text).rows.map((r) => ({
    frame: Number(r['frame.number']),
    stream: Number(r['tcp.stream']),
    commands: splitAgg(r['smtp.req.command']),
    parameters: splitAgg(r['smtp.req.parameter']),
    codes: splitAgg(r['smtp.response.code']).map(Number),
    responseParameters: splitAgg(r['smtp.rsp.parameter']),
    authUsername: r['smtp.auth.username'] ? r['smtp.auth.username'] : null,
    authPassword: r['smtp.auth.password'] ? r['smtp.auth.password'] : null,
  }));
}

/** One row of `X.tshark.pop.tsv` or `X.tshark.imap.tsv` (columns as MANIFEST.md lists them). */
export interface TsharkMailboxRow {
  frame: number;
  stream: number;
  /** POP: `pop.request.command` values; IMAP: `imap.request.command` values (`|`-joined cells split). */
  commands: string[];
  /** IMAP only: `imap.request_tag` values, parallel to commands when tshark paired them. */
  requestTags: string[];
  /** POP: `pop.response.indicator` (+OK / -ERR); IMAP: `imap.response.status` (OK / NO / BAD). */
  statuses: string[];
  /** IMAP only: `imap.response_tag` values. */
  responseTags: string[];
}

/** Parses `X.tshark.pop.tsv` / `X.tshark.imap.tsv` text; rows with no request/response field are dropped. */
export function parseTsharkMailbox(text: string, proto: 'pop3' | 'imap'): TsharkMailboxRow[] {
  const out: TsharkMailboxRow[] = [];
  for (const r of parseTsv(text).rows) {
    const row: TsharkMailboxRow =
      proto === 'pop3'
        ? { frame: Number(r['frame.number']), stream: Number(r['tcp.stream']), commands: splitAgg(r['pop.request.command']), requestTags: [], statuses: splitAgg(r['pop.response.indicator']), responseTags: [] }
        : {
            frame: Number(r['frame.number']),
            stream: Number(r['tcp.stream']),
            commands: splitAgg(r['imap.request.command']),
            requestTags: splitAgg(r['imap.request_tag']),
            statuses: splitAgg(r['imap.response.status']),
            responseTags: splitAgg(r['imap.response_tag']),
          };
    if (row.commands.length + row.requestTags.length + row.statuses.length + row.responseTags.length > 0) out.push(row);
  }
  return out;
}

/** One object of `X.tshark.export-imf.tsv` (`--export-objects imf`). */
export interface TsharkImfObject {
  filename: string;
  bytes: number;
  sha256: string;
}

/** Parses `X.tshark.export-imf.tsv` text. */
export function parseTsharkExportImf(text: string): TsharkImfObject[] {
  return parseTsv(text).rows.map((r) => ({
    filename: r['filename'] ?? '',
    bytes: Number(r['bytes']),
    sha256: (r['sha256'] ?? '').toLowerCase(),
  }));
}

// ---------------------------------------------------------------------------------------------
// Zeek ASCII logs
// ---------------------------------------------------------------------------------------------

/** A Zeek log cell: null when unset (`-`), a list for set/vector types, else the string. */
export type ZeekValue = string | string[] | null;

export interface ZeekLog {
  path: string | null;
  fields: string[];
  types: string[];
  rows: Record<string, ZeekValue>[];
}

/** Undoes Zeek's `\xNN` escaping; the result is decoded as UTF-8 (Zeek logs UTF-8 as is). */
export function zeekUnescape(s: string): string {
  if (!s.includes('\\x')) return s;
  const bytes: number[] = [];
  const enc = new TextEncoder();
  for (let i = 0; i < s.length; ) {
    if (s[i] === '\\' && s[i + 1] === 'x' && /^[0-9a-fA-F]{2}$/.test(s.slice(i + 2, i + 4))) {
      bytes.push(parseInt(s.slice(i + 2, i + 4), 16));
      i += 4;
    } else {
      const cp = s.codePointAt(i)!;
      const ch = String.fromCodePoint(cp);
      for (const b of enc.encode(ch)) bytes.push(b);
      i += ch.length;
    }
  }
  return new TextDecoder('utf-8').decode(Uint8Array.from(bytes));
}

/**
 * Parses a Zeek ASCII log (the generic `#fields` format, BTest header tolerated). Set and
 * vector columns become string lists (split on `#set_separator` before unescaping, so an
 * escaped `\x2c` stays inside its element); `(empty)` is [] and `-` is null.
 */
export function parseZeekLog(text: string): ZeekLog {
  let sep = '\t';
  let setSep = ',';
  let empty = '(empty)';
  let unset = '-';
  let path: string | null = null;
  let fields: string[] = [];
  let types: string[] = [];
  const rows: Record<string, ZeekValue>[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      if (line.startsWith('#separator ')) sep = zeekUnescape(line.slice('#separator '.length));
      else {
        const parts = line.split(sep);
        const key = parts[0];
        const rest = parts.slice(1);
        if (key === '#set_separator') setSep = rest[0] ?? ',';
        else if (key === '#empty_field') empty = rest[0] ?? '(empty)';
        else if (key === '#unset_field') unset = rest[0] ?? '-';
        else if (key === '#path') path = rest[0] ?? null;
        else if (key === '#fields') fields = rest;
        else if (key === '#types') types = rest;
      }
      continue;
    }
    const cells = line.split(sep);
    const row: Record<string, ZeekValue> = {};
    fields.forEach((f, j) => {
      const raw = cells[j] ?? unset;
      const type = types[j] ?? 'string';
      const isList = type.startsWith('set[') || type.startsWith('vector[');
      if (raw === unset) row[f] = null;
      else if (isList) row[f] = raw === empty ? [] : raw.split(setSep).map(zeekUnescape);
      else row[f] = raw === empty ? '' : zeekUnescape(raw);
    });
    rows.push(row);
  }
  return { path, fields, types, rows };
}

/** The fields of Zeek's smtp.log that the corpus compares (see compare.ts for normalisation). */
export interface ZeekSmtpRow {
  uid: string;
  orig_h: string;
  orig_p: number;
  resp_h: string;
  resp_p: number;
  trans_depth: number;
  helo: string | null;
  mailfrom: string | null;
  rcptto: string[] | null;
  date: string | null;
  from: string | null;
  to: string[] | null;
  cc: string[] | null;
  reply_to: string | null;
  msg_id: string | null;
  in_reply_to: string | null;
  subject: string | null;
  x_originating_ip: string | null;
  last_reply: string | null;
  user_agent: string | null;
  tls: boolean;
}

function str(v: ZeekValue | undefined): string | null {
  if (v === undefined || v === null) return null;
  return Array.isArray(v) ? v.join(',') : v;
}
function list(v: ZeekValue | undefined): string[] | null {
  if (v === undefined || v === null) return null;
  return Array.isArray(v) ? v : [v];
}

/** Parses a Zeek smtp.log into typed rows. */
export function parseZeekSmtpLog(text: string): ZeekSmtpRow[] {
  return parseZeekLog(text).rows.map((r) => ({
    uid: str(r['uid']) ?? '',
    orig_h: str(r['id.orig_h']) ?? '',
    orig_p: Number(str(r['id.orig_p'])),
    resp_h: str(r['id.resp_h']) ?? '',
    resp_p: Number(str(r['id.resp_p'])),
    trans_depth: Number(str(r['trans_depth'])),
    helo: str(r['helo']),
    mailfrom: str(r['mailfrom']),
    rcptto: list(r['rcptto']),
    date: str(r['date']),
    from: str(r['from']),
    to: list(r['to']),
    cc: list(r['cc']),
    reply_to: str(r['reply_to']),
    msg_id: str(r['msg_id']),
    in_reply_to: str(r['in_reply_to']),
    subject: str(r['subject']),
    x_originating_ip: str(r['x_originating_ip']),
    last_reply: str(r['last_reply']),
    user_agent: str(r['user_agent']),
    tls: str(r['tls']) === 'T',
  }));
}

const BTEST_HEADER = '### BTest baseline data generated by btest-diff.';

/**
 * Bytes of a Zeek baseline file with the one-line BTest header removed (btest-diff prepends it
 * to extracted files such as `thefile0`; `extract_files.mail` baselines have none).
 */
export function stripBtestHeader(bytes: Uint8Array): Uint8Array {
  const head = Buffer.from(bytes.subarray(0, BTEST_HEADER.length)).toString('latin1');
  if (head !== BTEST_HEADER) return bytes;
  const nl = bytes.indexOf(0x0a);
  return nl < 0 ? new Uint8Array(0) : bytes.subarray(nl + 1);
}

// ---------------------------------------------------------------------------------------------
// Public corpus: MANIFEST + per-capture expectation files
// ---------------------------------------------------------------------------------------------

/** One capture row of public/MANIFEST.md. */
export interface ManifestEntry {
  /** Path under corpus/public/, e.g. `zeek/smtp.pcap`. */
  path: string;
  linkType: string;
  packets: string;
  protocols: string[];
  notes: string;
}

/** Parses the `## Captures` table of public/MANIFEST.md. */
export function parseManifest(text: string): ManifestEntry[] {
  const out: ManifestEntry[] = [];
  let inTable = false;
  for (const line of text.split(/\r?\n/)) {
    if (line.startsWith('## ')) inTable = line.trim() === '## Captures';
    if (!inTable || !line.startsWith('| `')) continue;
    const cells = line.split(' | ').map((c) => c.replace(/^\|\s*/, '').trim());
    const path = (cells[0] ?? '').replace(/`/g, '');
    out.push({
      path,
      linkType: cells[3] ?? '',
      packets: cells[4] ?? '',
      protocols: (cells[6] ?? '').split(',').map((p) => p.trim()).filter(Boolean),
      notes: cells[7] ?? '',
    });
  }
  return out;
}

/** Everything the corpus knows about one public capture. */
export interface PublicCapture {
  /** Path under corpus/public/ (the id used in reports). */
  id: string;
  file: string;
  manifest: ManifestEntry | null;
  tsharkSmtp: TsharkSmtpRow[] | null;
  /** tshark POP / IMAP rows (null when the file is absent). */
  tsharkPop: TsharkMailboxRow[] | null;
  tsharkImap: TsharkMailboxRow[] | null;
  exportImf: TsharkImfObject[] | null;
  /** The decode-as note, when tshark needed one (non-standard port). */
  decodeAs: string | null;
  /** Every Zeek smtp.log baseline (several btests can share a capture), by file name. */
  zeekSmtpLogs: { name: string; rows: ZeekSmtpRow[] }[];
  /** Zeek-extracted files: whole messages (`extract_files.mail`) and MIME entities (`thefileN`). */
  zeekFiles: { name: string; kind: 'message' | 'entity'; bytes: Uint8Array }[];
  /** Arkime's expected session JSON (`X.arkime-expected.test`, `{sessions3: [{body}]}`), parsed; null when absent. */
  arkimeExpected?: unknown;
  /** suricata-verify test files (`X.suricata-verify-expected.<test>.test.yaml`), raw text, by file name. */
  suricataTests?: { name: string; text: string }[];
  /** True when the capture carries SMTP by the rule in isSmtpCapture. */
  smtp: boolean;
  /** MANIFEST marks the file corrupt. */
  corrupt: boolean;
}

function readIf(path: string): string | null {
  return existsSync(path) ? readFileSync(path, 'latin1') : null;
}

/**
 * A capture is SMTP when tshark's smtp.tsv has rows, or a Zeek smtp.log exists, or the
 * decode-as note decodes some port as smtp.
 */
export function isSmtpCapture(c: Pick<PublicCapture, 'tsharkSmtp' | 'zeekSmtpLogs' | 'decodeAs'>): boolean {
  return (
    (c.tsharkSmtp !== null && c.tsharkSmtp.length > 0) ||
    c.zeekSmtpLogs.length > 0 ||
    (c.decodeAs !== null && /,smtp\b/.test(c.decodeAs))
  );
}

/** Loads one public capture's expectation files (siblings named `<capture>.<suffix>`). */
export function loadPublicCapture(publicDir: string, entry: ManifestEntry): PublicCapture {
  const file = join(publicDir, entry.path);
  const dir = dirname(file);
  const base = basename(file);
  const tsv = readIf(`${file}.tshark.smtp.tsv`);
  const imf = readIf(`${file}.tshark.export-imf.tsv`);
  const pop = readIf(`${file}.tshark.pop.tsv`);
  const imap = readIf(`${file}.tshark.imap.tsv`);
  const decodeAs = readIf(`${file}.tshark.decode-as.txt`);
  const zeekSmtpLogs: PublicCapture['zeekSmtpLogs'] = [];
  const zeekFiles: PublicCapture['zeekFiles'] = [];
  const siblings = existsSync(dir) ? readdirSync(dir).sort() : [];
  const suricataTests: { name: string; text: string }[] = [];
  let arkimeExpected: unknown = null;
  for (const name of siblings) {
    if (name === `${base}.arkime-expected.test`) {
      try {
        arkimeExpected = JSON.parse(readFileSync(join(dir, name), 'utf8')) as unknown;
      } catch {
        arkimeExpected = null;
      }
      continue;
    }
    if (name.startsWith(`${base}.suricata-verify-expected.`) && name.endsWith('.test.yaml')) {
      suricataTests.push({ name, text: readFileSync(join(dir, name), 'utf8') });
      continue;
    }
    if (!name.startsWith(`${base}.zeek-expected.`)) continue;
    const p = join(dir, name);
    if (name.endsWith('.smtp.log')) zeekSmtpLogs.push({ name, rows: parseZeekSmtpLog(readFileSync(p, 'utf8')) });
    else if (name.endsWith('.extract_files.mail'))
      zeekFiles.push({ name, kind: 'message', bytes: stripBtestHeader(readFileSync(p)) });
    else if (/\.thefile\d+$/.test(name)) zeekFiles.push({ name, kind: 'entity', bytes: stripBtestHeader(readFileSync(p)) });
  }
  const c: PublicCapture = {
    id: entry.path,
    file,
    manifest: entry,
    tsharkSmtp: tsv === null ? null : parseTsharkSmtp(tsv),
    tsharkPop: pop === null ? null : parseTsharkMailbox(pop, 'pop3'),
    tsharkImap: imap === null ? null : parseTsharkMailbox(imap, 'imap'),
    exportImf: imf === null ? null : parseTsharkExportImf(imf),
    decodeAs: decodeAs === null ? null : decodeAs.trim(),
    zeekSmtpLogs,
    zeekFiles,
    arkimeExpected,
    suricataTests,
    smtp: false,
    corrupt: /corrupt/i.test(entry.linkType) || /CORRUPT FILE/.test(entry.notes),
  };
  c.smtp = isSmtpCapture(c);
  return c;
}

/** A capture whose tshark POP or IMAP listing has rows. */
export function isMailboxCapture(c: Pick<PublicCapture, 'tsharkPop' | 'tsharkImap'>): boolean {
  return (c.tsharkPop?.length ?? 0) > 0 || (c.tsharkImap?.length ?? 0) > 0;
}

/** Every capture listed in public/MANIFEST.md, with its expectations. */
export function loadPublicCorpus(publicDir: string): PublicCapture[] {
  const manifest = parseManifest(readFileSync(join(publicDir, 'MANIFEST.md'), 'utf8'));
  return manifest.filter((e) => existsSync(join(publicDir, e.path))).map((e) => loadPublicCapture(publicDir, e));
}

// ---------------------------------------------------------------------------------------------
// Lab truth files (corpus/lab/*.truth.json)
// ---------------------------------------------------------------------------------------------

export interface LabRcpt {
  addr: string;
  reply: number;
}
export interface LabTransaction {
  mail_from: string;
  rcpt_to: LabRcpt[];
  message?: { eml_file: string; size: number; sha256: string; wire_data_sha256?: string };
  queue_ids?: string[];
}
export interface LabAuth {
  mechanism: string;
  username: string;
  password: string;
  authzid?: string;
  result?: number;
  inside_tls?: boolean;
}
export interface LabAttempt {
  n?: number;
  protocol: string;
  port?: number;
  mechanism?: string;
  command?: string;
  username: string;
  password: string;
  reply: string;
  success: boolean;
}
/** A truth session; only the fields the comparisons use are typed, the rest is kept. */
export interface LabSession {
  protocol: string;
  client_ip: string;
  client_port?: number;
  server_port?: number;
  tls?: string;
  ehlo?: string;
  auth?: LabAuth | null;
  commands?: string[];
  transactions?: LabTransaction[];
  attempts?: LabAttempt[];
  results?: {
    vrfy?: { arg: string; reply: number }[];
    expn?: { arg: string; reply: number }[];
    rcpt?: { addr: string; reply: number; text?: string }[];
  };
  [key: string]: unknown;
}
export interface LabTruth {
  scenario: string;
  description?: string;
  pcap: string;
  keylog: string | null;
  sessions: LabSession[];
  attachments?: { file: string; size: number; sha256: string; filename: string }[];
  merged_from?: string[];
  truth_files?: string[];
  [key: string]: unknown;
}

/** One lab capture with its truth (for mixed-day: the truths of every merged scenario). */
export interface LabCapture {
  id: string;
  file: string;
  truth: LabTruth;
  /** The scenario truths this capture must satisfy (itself, or the merged ones). */
  truths: LabTruth[];
  labDir: string;
}

/** Loads every `lab/*.truth.json` whose capture exists. */
export function loadLabCorpus(labDir: string): LabCapture[] {
  if (!existsSync(labDir)) return [];
  const out: LabCapture[] = [];
  for (const name of readdirSync(labDir).sort()) {
    if (!name.endsWith('.truth.json')) continue;
    const truth = JSON.parse(readFileSync(join(labDir, name), 'utf8')) as LabTruth;
    const file = join(labDir, truth.pcap);
    if (!existsSync(file)) continue;
    const truths = truth.truth_files
      ? truth.truth_files
          .filter((t) => existsSync(join(labDir, t)))
          .map((t) => JSON.parse(readFileSync(join(labDir, t), 'utf8')) as LabTruth)
      : [truth];
    out.push({ id: `lab/${truth.pcap}`, file, truth, truths, labDir });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Case folder (the output of analyze())
// ---------------------------------------------------------------------------------------------

/** A case folder read back into memory (the corpus is small; the largest message is ~1 MB). */
export interface CaseData {
  dir: string;
  summary: unknown;
  sessions: SessionRecord[];
  transcript: TranscriptRecord[];
  messages: MessageRecord[];
  credentials: CredentialRecord[];
  anomalies: AnomalyRecord[];
  /** The .eml bytes by message_id (null when the file is missing). */
  eml: Map<string, Uint8Array | null>;
  /** MD5 (hex) of each attachments/<sha256> file, by sha256 (Arkime reports attachment MD5s). */
  attachmentMd5?: Map<string, string>;
  /** Extra record streams (sieve_scripts.jsonl, mailbox_events.jsonl); empty when absent. */
  extra?: { sieve_scripts: Record<string, unknown>[]; mailbox_events: Record<string, unknown>[] };
}

/** Reads a JSON-lines file; a missing file is an empty list, a bad line is skipped. */
export function readJsonl<T>(path: string): T[] {
  if (!existsSync(path)) return [];
  const out: T[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    try {
      out.push(JSON.parse(line) as T);
    } catch {
      /* a torn last line is not the harness's business */
    }
  }
  return out;
}

/** Loads a case folder written by analyze(). */
export function loadCaseFolder(dir: string): CaseData {
  const messages = readJsonl<MessageRecord>(join(dir, 'messages.jsonl'));
  const eml = new Map<string, Uint8Array | null>();
  for (const m of messages) {
    const p = join(dir, m.eml_path ?? `messages/${m.message_id}.eml`);
    eml.set(m.message_id, existsSync(p) ? new Uint8Array(readFileSync(p)) : null);
  }
  const summaryPath = join(dir, 'summary.json');
  const attachmentMd5 = new Map<string, string>();
  for (const m of messages)
    for (const a of m.attachments ?? []) {
      if (attachmentMd5.has(a.sha256) || !a.path) continue;
      const p = join(dir, a.path);
      if (existsSync(p)) attachmentMd5.set(a.sha256, createHash('md5').update(readFileSync(p)).digest('hex'));
    }
  return {
    attachmentMd5,
    dir,
    summary: existsSync(summaryPath) ? JSON.parse(readFileSync(summaryPath, 'utf8')) : null,
    sessions: readJsonl<SessionRecord>(join(dir, 'sessions.jsonl')),
    transcript: readJsonl<TranscriptRecord>(join(dir, 'transcript.jsonl')),
    messages,
    credentials: readJsonl<CredentialRecord>(join(dir, 'credentials.jsonl')),
    anomalies: readJsonl<AnomalyRecord>(join(dir, 'anomalies.jsonl')),
    eml,
    extra: {
      sieve_scripts: readJsonl<Record<string, unknown>>(join(dir, 'sieve_scripts.jsonl')),
      mailbox_events: readJsonl<Record<string, unknown>>(join(dir, 'mailbox_events.jsonl')),
    },
  };
}
