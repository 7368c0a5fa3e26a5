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
import type { Side } from '../core/types.js';
import type { ProtocolAnalyzer } from '../protocols/analyzer.js';
import { TlsSession } from '../tls/tls-session.js';
import type { TlsSessionInfo } from '../tls/tls-session.js';
import type { TlsKeyStore } from '../tls/key-store.js';
import type { MessageWorkerClient } from './message-worker-client.js';

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
  #keys: TlsKeyStore;
  #messageWorker: MessageWorkerClient | null;
  #tls: TlsSession | null = null;
  #analyzer: ProtocolAnalyzer | null = null;
  /** Implicit TLS: plaintext is the protocol session itself (onData), not a post-STARTTLS restart. */
  #implicitTls = false;
  /** True while decrypted bytes are being parsed: records made then are marked `decrypted`. */
  #decrypting = false;
  #decryptedBytes = 0;
  /** Open message sinks, closed as partial if the session ends first. */
  readonly openSinks = new Set<PipelineMessageSink>();

  constructor(args: {
    conn: ConnectionInfo;
    protocol: ProtocolName;
    limits: Limits;
    sink: RecordSink;
    aggregates: Aggregates;
    anomaly: PipelineAnomaly;
    keys: TlsKeyStore;
    /** Messages are built on this worker (null/absent: inline). */
    messageWorker?: MessageWorkerClient | null;
  }) {
    this.#keys = args.keys;
    this.#messageWorker = args.messageWorker ?? null;
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

  /** The analyzer this context serves (set once, right after it is created). */
  attach(analyzer: ProtocolAnalyzer, implicitTls: boolean): void {
    this.#analyzer = analyzer;
    this.#implicitTls = implicitTls;
  }

  /** True while the analyzer is parsing decrypted bytes. */
  get decrypting(): boolean {
    return this.#decrypting;
  }

  /** TLS facts for the session record, when the session used TLS. */
  tlsInfo(): (TlsSessionInfo & { decrypted_bytes: number }) | null {
    return this.#tls ? { ...this.#tls.info(), decrypted_bytes: this.#decryptedBytes } : null;
  }

  encryptedData(side: Side, bytes: Uint8Array, at: At): void {
    if (!this.#tls) {
      this.#tls = new TlsSession({
        keys: this.#keys,
        onPlaintext: (s, b, a) => this.#plaintext(s, b, a),
        onAnomaly: (code, detail, a) => this.anomaly(code, detail, a),
      });
    }
    this.#tls.push(side, bytes, at);
  }

  /** The connection ended: lets the TLS layer report a cut record or handshake. */
  endTls(at: At): void {
    this.#tls?.end?.(at);
  }

  encryptedGap(side: Side, length: number, at: At): void {
    this.#tls?.gap(side, length, at);
  }

  #plaintext(side: Side, bytes: Uint8Array, at: At): void {
    const a = this.#analyzer;
    if (!a) return;
    this.#decryptedBytes += bytes.length;
    const was = this.#decrypting;
    this.#decrypting = true;
    try {
      if (this.#implicitTls) a.onData(side, bytes, at);
      else a.onDecrypted?.(side, bytes, at);
    } finally {
      this.#decrypting = was;
    }
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
      ...(this.#decrypting ? { decrypted: true } : {}),
      frame: last.frame,
      frame_first: first.frame,
      frame_last: last.frame,
      ts_first: isoTime(first.ts),
      ts_last: isoTime(last.ts),
    });
  }

  credential(entry: CredentialInput, first: At, last: At): void {
    const cleartext = this.#decrypting ? false : (entry.cleartext_channel ?? this.#cleartext);
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
      ...(this.#decrypting ? { decrypted: true } : {}),
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
    if (stream === 'mailbox_events') {
      const k = `${String(record.event)}/${String(record.outcome ?? 'unknown')}`;
      this.#agg.mailboxEvents[k] = (this.#agg.mailboxEvents[k] ?? 0) + 1;
    } else if (stream === 'sieve_scripts') {
      const actions = (Array.isArray(record.actions) ? record.actions : []) as { action: string; targets?: string[]; folder?: string }[];
      pushCapped(this.#agg.filterRules, {
        command: String(record.command),
        name: (record.name as string | null) ?? null,
        active: (record.active as boolean | null) ?? null,
        username: (record.username as string | null) ?? null,
        outcome: String(record.outcome ?? 'unknown'),
        actions: actions
          .map((a) => (a.targets?.length ? `${a.action} ${a.targets.join(', ')}` : a.folder ? `${a.action} ${a.folder}` : a.action))
          .join('; '),
        client: this.client.ip,
        frame: first.frame,
      });
    }
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
      worker: this.#messageWorker,
    });
    this.openSinks.add(sink);
    return sink;
  }
}
