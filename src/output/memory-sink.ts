import type {
  AnomalyRecord,
  CredentialRecord,
  MessageRecord,
  SessionRecord,
  TranscriptRecord,
} from '../core/records.js';
import type { ExtraStreamName, RecordSink } from './case-writer.js';

/** Every record of a run, in memory. */
export interface RecordSet {
  sessions: SessionRecord[];
  transcript: TranscriptRecord[];
  messages: MessageRecord[];
  credentials: CredentialRecord[];
  anomalies: AnomalyRecord[];
  /** Extra streams by name (sieve_scripts, mailbox_events, clients). */
  extra: Record<string, object[]>;
}

/** Keeps every record in memory (library use and tests; no files are written). */
export class MemorySink implements RecordSink {
  readonly records: RecordSet = { sessions: [], transcript: [], messages: [], credentials: [], anomalies: [], extra: {} };

  session(r: SessionRecord): void {
    this.records.sessions.push(r);
  }
  transcript(r: TranscriptRecord): void {
    this.records.transcript.push(r);
  }
  message(r: MessageRecord): void {
    this.records.messages.push(r);
  }
  credential(r: CredentialRecord): void {
    this.records.credentials.push(r);
  }
  anomaly(r: AnomalyRecord): void {
    this.records.anomalies.push(r);
  }
  extra(stream: ExtraStreamName, r: object): void {
    (this.records.extra[stream] ??= []).push(r);
  }
  saveArtifact(): string | null {
    return null;
  }
  emlPath(): string | null {
    return null;
  }
  attachmentsDir(): string | null {
    return null;
  }
  /** Sets capture_sha256 on every record once the input hash is known. */
  fillCaptureHash(sha256: string | undefined): void {
    if (!sha256) return;
    const r = this.records;
    for (const list of [r.sessions, r.transcript, r.messages, r.credentials, r.anomalies, ...Object.values(r.extra)] as { capture_sha256?: string }[][]) {
      for (const x of list) x.capture_sha256 = sha256;
    }
  }
}
