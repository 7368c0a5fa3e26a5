import { createHash } from 'node:crypto';
import type { At, MessageExcerpt } from '../../src/core/types.js';
import { resolveLimits } from '../../src/core/limits.js';
import type { Limits } from '../../src/core/limits.js';
import type {
  AnalyzerContext,
  CredentialInput,
  ExtraStream,
  MessageOpen,
  MessageSink,
  ProtocolAnalyzer,
  TranscriptInput,
} from '../../src/protocols/analyzer.js';
import type { ConnectionInfo } from '../../src/reassembly/stream-handler.js';

type Delivery = Record<string, string | number | boolean | null | string[]>;

/** One message as the fake sink saw it. */
export interface FakeMessage {
  readonly id: string;
  readonly open: MessageOpen;
  /** Copies of every write, in order. */
  readonly chunks: Buffer[];
  /** Number of write() calls (to check that bodies arrive in large runs). */
  writeCalls: number;
  gaps: number;
  missingBytes: number;
  ended: { complete: boolean; frame: number; excerpt?: MessageExcerpt } | null;
  closed: { delivery: Delivery; frame: number } | null;
  /** Contract violations seen (write after end, double close ...). */
  readonly violations: string[];
}

/** The concatenated bytes of a message. */
export function messageBytes(m: FakeMessage): Buffer {
  return Buffer.concat(m.chunks);
}

export function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

export interface FakeContextOptions {
  limits?: Partial<Limits>;
  /** Default true: the connection was seen from its SYN. */
  sawHandshake?: boolean;
  connId?: string;
}

/**
 * An AnalyzerContext that records every call, for protocol analyzer tests (SMTP, POP3, IMAP).
 * Messages are collected in memory (bytes copied, since writes are borrowed).
 */
export class FakeContext implements AnalyzerContext {
  readonly conn: ConnectionInfo;
  readonly sessionId: string;
  readonly limits: Limits;
  cleartext = true;
  encryptedAt: At | null = null;
  readonly transcripts: { entry: TranscriptInput; first: At; last: At }[] = [];
  readonly credentials: { entry: CredentialInput; first: At; last: At }[] = [];
  readonly anomalies: { code: string; detail: string | undefined; at: At }[] = [];
  readonly messages: FakeMessage[] = [];
  /** Artifacts saved (copies) and extra records written. */
  readonly artifacts: { sha256: string; bytes: Buffer }[] = [];
  readonly extras: { stream: ExtraStream; record: Record<string, unknown>; first: At; last: At }[] = [];

  constructor(opts: FakeContextOptions = {}) {
    const id = opts.connId ?? 'C1';
    const start: At = { frame: 1, ts: { sec: 1_700_000_000, nsec: 0 } };
    this.conn = {
      id,
      client: { ip: '192.0.2.10', port: 50000 },
      server: { ip: '192.0.2.25', port: 25 },
      ipVersion: 4,
      firstFrame: 1,
      start,
      sawHandshake: opts.sawHandshake ?? true,
      roleBy: opts.sawHandshake === false ? 'port' : 'syn',
    };
    this.sessionId = `${id}-s1`;
    this.limits = resolveLimits(opts.limits);
  }

  transcript(entry: TranscriptInput, first: At, last: At): void {
    this.transcripts.push({ entry: structuredClone(entry), first, last });
  }

  credential(entry: CredentialInput, first: At, last: At): void {
    this.credentials.push({ entry: structuredClone(entry), first, last });
  }

  anomaly(code: string, detail: string | undefined, at: At): void {
    this.anomalies.push({ code, detail, at });
  }

  /** Encrypted bytes handed over after markEncrypted, per side. */
  readonly encrypted = { client: 0, server: 0, gaps: 0 };

  encryptedData(side: 'client' | 'server', bytes: Uint8Array): void {
    this.encrypted[side] += bytes.length;
  }

  encryptedGap(_side: 'client' | 'server', length: number): void {
    this.encrypted.gaps += length;
  }

  saveArtifact(bytes: Uint8Array): { sha256: string; path: string | null } {
    const copy = Buffer.from(bytes);
    const h = sha256(copy);
    this.artifacts.push({ sha256: h, bytes: copy });
    return { sha256: h, path: `artifacts/${h}` };
  }

  extraRecord(stream: ExtraStream, record: Record<string, unknown>, first: At, last: At): void {
    this.extras.push({ stream, record, first, last });
  }

  markEncrypted(at: At): void {
    this.cleartext = false;
    this.encryptedAt = at;
  }

  openMessage(open: MessageOpen): MessageSink {
    const m: FakeMessage = {
      id: `${this.conn.id}-m${this.messages.length + 1}`,
      open: structuredClone(open),
      chunks: [],
      writeCalls: 0,
      gaps: 0,
      missingBytes: 0,
      ended: null,
      closed: null,
      violations: [],
    };
    this.messages.push(m);
    return {
      id: m.id,
      write(bytes: Uint8Array, _at: At): void {
        if (m.ended !== null) m.violations.push('write after endBytes');
        m.writeCalls++;
        m.chunks.push(Buffer.from(bytes));
      },
      gap(length: number, _at: At): void {
        if (m.ended !== null) m.violations.push('gap after endBytes');
        m.gaps++;
        m.missingBytes += length;
      },
      endBytes(complete: boolean, at: At, excerpt?: MessageExcerpt): void {
        if (m.ended !== null) m.violations.push('endBytes twice');
        else m.ended = { complete, frame: at.frame, ...(excerpt !== undefined ? { excerpt } : {}) };
      },
      close(delivery: Delivery, at: At): void {
        if (m.closed !== null) m.violations.push('close twice');
        if (m.ended === null) m.ended = { complete: false, frame: at.frame };
        m.closed = { delivery: structuredClone(delivery), frame: at.frame };
      },
    };
  }

  /** Entries of one kind, as plain objects. */
  entries(kind?: TranscriptInput['kind']): TranscriptInput[] {
    return this.transcripts.filter((t) => kind === undefined || t.entry.kind === kind).map((t) => t.entry);
  }

  anomalyCodes(): string[] {
    return this.anomalies.map((a) => a.code);
  }

  /**
   * Everything observable, as JSON-able data: used to check that different chunkings of the same
   * input give identical results.
   */
  snapshot(analyzer?: ProtocolAnalyzer): unknown {
    return {
      transcripts: this.transcripts.map((t) => ({ ...t.entry, first: t.first.frame, last: t.last.frame })),
      credentials: this.credentials.map((c) => ({ ...c.entry, first: c.first.frame, last: c.last.frame })),
      anomalies: this.anomalies.map((a) => `${a.code}@${a.at.frame}`),
      messages: this.messages.map((m) => ({
        id: m.id,
        open: { ...m.open, at: m.open.at.frame },
        sha256: sha256(messageBytes(m)),
        size: messageBytes(m).length,
        gaps: m.gaps,
        missing: m.missingBytes,
        ended: m.ended,
        closed: m.closed,
        violations: m.violations,
      })),
      encryptedAt: this.encryptedAt?.frame ?? null,
      summary: analyzer?.summary() ?? null,
    };
  }
}
