import type { At } from '../core/types.js';
import { isoTime } from '../core/types.js';
import type { Limits } from '../core/limits.js';
import type { EndpointRecord, ProtocolName } from '../core/records.js';
import type { ConnectionInfo } from '../reassembly/stream-handler.js';
import { createHash } from 'node:crypto';
import type {
  AnalyzerContext,
  CredentialInput,
  ExtraStream,
  MessageOpen,
  MessageSink,
  TranscriptInput,
} from '../protocols/analyzer.js';
import type { RecordSink } from '../output/case-writer.js';
import type { Aggregates } from './aggregates.js';
import { pushCapped } from './aggregates.js';
import { PipelineMessageSink } from './message-sink.js';

/** Reports an anomaly (the pipeline's capped, counted reporter). */
export type PipelineAnomaly = (code: string, detail: string | undefined, at: At | undefined, connId: string | undefined) => void;

/** The AnalyzerContext the pipeline gives each session: adds provenance and writes records. */
export class SessionContext implements AnalyzerContext {
  readonly conn: ConnectionInfo;
  readonly sessionId: string;
  readonly limits: Limits;
  readonly protocol: ProtocolName;
  readonly client: EndpointRecord;
  readonly server: EndpointRecord;
  #sink: RecordSink;
  #agg: Aggregates;
  #anomaly: PipelineAnomaly;
  #seq = 0;
  #dropped = 0;
  #messages = 0;
  #cleartext = true;
  #encryptedFrom: number | null = null;
  /** Open message sinks, closed as partial if the session ends first. */
  readonly openSinks = new Set<PipelineMessageSink>();

  constructor(args: {
    conn: ConnectionInfo;
    protocol: ProtocolName;
    limits: Limits;
    sink: RecordSink;
    aggregates: Aggregates;
    anomaly: PipelineAnomaly;
  }) {
    this.conn = args.conn;
    this.protocol = args.protocol;
    this.sessionId = `${args.conn.id}-${args.protocol}`;
    this.limits = args.limits;
    this.#sink = args.sink;
    this.#agg = args.aggregates;
    this.#anomaly = args.anomaly;
    this.client = { ip: args.conn.client.ip, port: args.conn.client.port };
    this.server = { ip: args.conn.server.ip, port: args.conn.server.port };
  }

  get cleartext(): boolean {
    return this.#cleartext;
  }

  get encryptedFromFrame(): number | null {
    return this.#encryptedFrom;
  }

  markEncrypted(at: At): void {
    if (!this.#cleartext) return;
    this.#cleartext = false;
    this.#encryptedFrom = at.frame;
  }

  transcript(entry: TranscriptInput, first: At, last: At): void {
    if (this.#seq >= this.limits.maxTranscriptEntriesPerSession) {
      if (this.#dropped++ === 0) this.anomaly('transcript_limit', `more than ${this.limits.maxTranscriptEntriesPerSession} entries; the rest are counted only`, last);
      return;
    }
    this.#seq++;
    this.#agg.transcriptEntries++;
    this.#sink.transcript({
      session_id: this.sessionId,
      conn_id: this.conn.id,
      protocol: this.protocol,
      seq: this.#seq,
      ...entry,
      frame: last.frame,
      frame_first: first.frame,
      frame_last: last.frame,
      ts_first: isoTime(first.ts),
      ts_last: isoTime(last.ts),
    });
  }

  credential(entry: CredentialInput, first: At, last: At): void {
    const cleartext = entry.cleartext_channel ?? this.#cleartext;
    this.#agg.credentials++;
    if (entry.outcome === 'success') this.#agg.credentialsSuccess++;
    else if (entry.outcome === 'failure') this.#agg.credentialsFailure++;
    this.#agg.clients.account(this.client.ip, this.protocol, entry.username, entry.mechanism, entry.outcome, first);
    pushCapped(this.#agg.credentialList, {
      protocol: this.protocol,
      mechanism: entry.mechanism,
      username: entry.username,
      secret: entry.secret,
      outcome: entry.outcome,
      cleartext,
      client: this.client.ip,
      frame: first.frame,
    });
    this.#sink.credential({
      session_id: this.sessionId,
      conn_id: this.conn.id,
      protocol: this.protocol,
      ...entry,
      cleartext_channel: cleartext,
      client: this.client,
      server: this.server,
      frame_first: first.frame,
      frame_last: last.frame,
      ts_first: isoTime(first.ts),
      ts_last: isoTime(last.ts),
    });
  }

  anomaly(code: string, detail: string | undefined, at: At): void {
    this.#anomaly(code, detail, at, this.conn.id);
  }

  saveArtifact(bytes: Uint8Array): { sha256: string; path: string | null } {
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    return { sha256, path: this.#sink.saveArtifact(sha256, bytes) };
  }

  extraRecord(stream: ExtraStream, record: Record<string, unknown>, first: At, last: At): void {
    this.#sink.extra(stream, {
      session_id: this.sessionId,
      conn_id: this.conn.id,
      protocol: this.protocol,
      ...record,
      frame_first: first.frame,
      frame_last: last.frame,
      ts_first: isoTime(first.ts),
      ts_last: isoTime(last.ts),
    });
  }

  openMessage(open: MessageOpen): MessageSink {
    this.#messages++;
    const id = `${this.conn.id}-m${this.#messages}`;
    const sink = new PipelineMessageSink({
      id,
      ctx: this,
      open,
      sink: this.#sink,
      aggregates: this.#agg,
      onDone: (s) => this.openSinks.delete(s),
    });
    this.openSinks.add(sink);
    return sink;
  }
}
