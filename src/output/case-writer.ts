import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import type {
  AnomalyRecord,
  CredentialRecord,
  MessageRecord,
  SessionRecord,
  TranscriptRecord,
} from '../core/records.js';
import { MailsleuthError } from '../core/errors.js';
import { JsonlFile } from './jsonl-file.js';
import type { FileWriteQueue } from './file-write-queue.js';

/** The files of a case folder (docs/case-folder.md). */
export const CASE_FILES = {
  summary: 'summary.json',
  sessions: 'sessions.jsonl',
  transcript: 'transcript.jsonl',
  messages: 'messages.jsonl',
  credentials: 'credentials.jsonl',
  anomalies: 'anomalies.jsonl',
  sieveScripts: 'sieve_scripts.jsonl',
  mailboxEvents: 'mailbox_events.jsonl',
  clients: 'clients.jsonl',
  messagesDir: 'messages',
  attachmentsDir: 'attachments',
  artifactsDir: 'artifacts',
} as const;

/** Extra record streams (see ExtraStream in protocols/analyzer.ts) and their files. */
export const EXTRA_STREAM_FILES = {
  sieve_scripts: CASE_FILES.sieveScripts,
  mailbox_events: CASE_FILES.mailboxEvents,
  clients: CASE_FILES.clients,
} as const;
export type ExtraStreamName = keyof typeof EXTRA_STREAM_FILES;

const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Where record streams go. The pipeline writes through this; tests can implement it in memory. */
export interface RecordSink {
  session(r: SessionRecord): void;
  transcript(r: TranscriptRecord): void;
  message(r: MessageRecord): void;
  credential(r: CredentialRecord): void;
  anomaly(r: AnomalyRecord): void;
  /** A record of an extra stream (sieve_scripts, mailbox_events, clients). */
  extra(stream: ExtraStreamName, r: object): void;
  /** Saves bytes verbatim as artifacts/<sha256>; returns the case-relative path, or null when files are not written. */
  saveArtifact(sha256: string, bytes: Uint8Array): string | null;
  /** Absolute path for a message's .eml, or null when files are not written. */
  emlPath(messageId: string): string | null;
  /** Absolute folder for decoded attachments, or null. */
  attachmentsDir(): string | null;
  /**
   * The run's background writer for messages and attachments, or null/absent to write them
   * synchronously. Whoever drives the run drains it before closing the case folder.
   */
  fileWriter?(): FileWriteQueue | null;
}

/**
 * Writes a case folder. Records are written as they come (bounded memory); the capture hash,
 * known only at the end, is patched into every record by close().
 */
export class CaseWriter implements RecordSink {
  readonly dir: string;
  #sessions: JsonlFile;
  #transcript: JsonlFile;
  #messages: JsonlFile;
  #credentials: JsonlFile;
  #anomalies: JsonlFile;
  #extra = new Map<ExtraStreamName, JsonlFile>();
  #artifactsDir: string;
  #messagesDir: string;
  #attachmentsDir: string;
  #queue: FileWriteQueue | null;

  /**
   * Creates the folder. Refuses a folder that exists and is not empty unless `overwrite`
   * (evidence is never clobbered by accident). `queue`: writes messages, attachments and
   * artifacts in the background (the caller drains it before close()).
   */
  constructor(dir: string, options: { overwrite?: boolean; queue?: FileWriteQueue | null } = {}) {
    this.dir = resolve(dir);
    this.#queue = options.queue ?? null;
    try {
      if (existsSync(this.dir) && readdirSync(this.dir).length > 0 && !options.overwrite) {
        throw new MailsleuthError(
          'OUTPUT_UNWRITABLE',
          `output folder ${dir} exists and is not empty; choose another with -o or pass --force to overwrite`,
        );
      }
      mkdirSync(this.dir, { recursive: true });
      this.#messagesDir = join(this.dir, CASE_FILES.messagesDir);
      this.#attachmentsDir = join(this.dir, CASE_FILES.attachmentsDir);
      this.#artifactsDir = join(this.dir, CASE_FILES.artifactsDir);
      mkdirSync(this.#messagesDir, { recursive: true });
      mkdirSync(this.#attachmentsDir, { recursive: true });
      this.#sessions = new JsonlFile(join(this.dir, CASE_FILES.sessions));
      this.#transcript = new JsonlFile(join(this.dir, CASE_FILES.transcript));
      this.#messages = new JsonlFile(join(this.dir, CASE_FILES.messages));
      this.#credentials = new JsonlFile(join(this.dir, CASE_FILES.credentials));
      this.#anomalies = new JsonlFile(join(this.dir, CASE_FILES.anomalies));
    } catch (e) {
      if (e instanceof MailsleuthError) throw e;
      throw new MailsleuthError('OUTPUT_UNWRITABLE', `cannot write output folder ${dir}: ${(e as Error).message}`, { cause: e });
    }
  }

  session(r: SessionRecord): void {
    this.#sessions.writeStamped(r);
  }
  transcript(r: TranscriptRecord): void {
    this.#transcript.writeStamped(r);
  }
  message(r: MessageRecord): void {
    this.#messages.writeStamped(r);
  }
  credential(r: CredentialRecord): void {
    this.#credentials.writeStamped(r);
  }
  anomaly(r: AnomalyRecord): void {
    this.#anomalies.writeStamped(r);
  }

  extra(stream: ExtraStreamName, r: object): void {
    let f = this.#extra.get(stream);
    if (!f) {
      f = new JsonlFile(join(this.dir, EXTRA_STREAM_FILES[stream]));
      this.#extra.set(stream, f);
    }
    f.writeStamped(r);
  }

  saveArtifact(sha256: string, bytes: Uint8Array): string {
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error('artifact name must be a sha256');
    mkdirSync(this.#artifactsDir, { recursive: true });
    const p = this.#inside(this.#artifactsDir, sha256);
    // The queue takes ownership: hand it a copy (bytes may be a borrowed view).
    if (this.#queue) this.#queue.write(p, [new Uint8Array(bytes)], { keepExisting: true });
    else if (!existsSync(p)) writeFileSync(p, bytes);
    return `${CASE_FILES.artifactsDir}/${sha256}`;
  }

  emlPath(messageId: string): string {
    return this.#inside(this.#messagesDir, `${messageId}.eml`);
  }

  attachmentsDir(): string {
    return this.#attachmentsDir;
  }

  fileWriter(): FileWriteQueue | null {
    return this.#queue;
  }

  /** Resolves a file name inside a folder of the case, refusing anything that could escape it. */
  #inside(folder: string, name: string): string {
    if (!SAFE_NAME.test(name)) throw new Error(`unsafe output file name ${JSON.stringify(name)}`);
    const p = resolve(folder, name);
    if (!p.startsWith(folder + sep)) throw new Error(`output path escapes the case folder: ${name}`);
    return p;
  }

  /** Flushes every stream, patches the capture hash in, writes summary.json. */
  close(captureSha256: string | undefined, summary: object): void {
    for (const f of [this.#sessions, this.#transcript, this.#messages, this.#credentials, this.#anomalies, ...this.#extra.values()]) {
      f.close(captureSha256);
    }
    writeFileSync(join(this.dir, CASE_FILES.summary), JSON.stringify(summary, null, 2) + '\n');
  }
}

