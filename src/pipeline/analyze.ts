import { createRequire } from 'node:module';
import type { At, CaptureFrame, Timestamp } from '../core/types.js';
import { compareTs, isoTime } from '../core/types.js';
import type { Anomaly, AnomalyCodeInfo } from '../core/anomaly.js';
import type { Limits } from '../core/limits.js';
import { resolveLimits } from '../core/limits.js';
import type { AnomalyRecord } from '../core/records.js';
import { openCaptureBatches } from '../capture/open-capture.js';
import { linkTypeName } from '../capture/link-types.js';
import { PacketDecoder } from '../decode/packet-decoder.js';
import { TcpReassembler } from '../reassembly/tcp-reassembler.js';
import { PROTOCOLS, serverPorts } from '../protocols/registry.js';
import type { RecordSink } from '../output/case-writer.js';
import { CaseWriter } from '../output/case-writer.js';
import { MemorySink } from '../output/memory-sink.js';
import { FileWriteQueue } from '../output/file-write-queue.js';
import { recycleOwnedChunks } from '../message/owned-chunks.js';
import type { CaseSummary } from '../output/case-summary.js';
export type { CaseSummary } from '../output/case-summary.js';
import type { Aggregates } from './aggregates.js';
import { newAggregates } from './aggregates.js';
import { ConnectionHandlerFactory } from './connection-handler.js';
import { anomalyInfo } from './anomaly-catalog.js';
import { readFileSync } from 'node:fs';
import { MessageWorkerClient } from './message-worker-client.js';
import { MailsleuthError } from '../core/errors.js';
import { TlsKeyStore } from '../tls/key-store.js';

const require = createRequire(import.meta.url);

/** The package version, for provenance. */
export const TOOL = { name: 'mailsleuth', version: readVersion() };

function readVersion(): string {
  // dist/mailsleuth.mjs (bundle), src/pipeline/*.ts (tsx), dist/src/pipeline/*.js.
  for (const p of ['../package.json', '../../package.json', '../../../package.json']) {
    try {
      const pkg = require(p) as { name?: string; version?: string };
      if (pkg.name === 'mailsleuth' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      /* try the next layout */
    }
  }
  return '0.0.0';
}

export interface ProgressInfo {
  frames: number;
  /** Capture bytes consumed so far (decompressed). */
  bytes: number;
  /** Input size when known (files), else null. */
  totalBytes: number | null;
  sessions: number;
  messages: number;
}

export interface AnalyzeOptions {
  /** Case folder to write, or null to write no files (records are then kept in memory and returned). */
  outDir: string | null;
  /** Overwrite a non-empty outDir. */
  overwrite?: boolean;
  limits?: Partial<Limits>;
  /** NSS key log files (SSLKEYLOGFILE format) for TLS decryption. */
  keyLogFiles?: readonly string[];
  /** PEM RSA private keys of servers (TLS 1.2 RSA key exchange). */
  rsaKeyFiles?: readonly string[];
  /**
   * Stops reading the input after the current batch (e.g. Ctrl-C on a live capture): everything
   * read so far is analysed and the case folder is finished; `input.interrupted` is then true.
   */
  signal?: AbortSignal;
  /** Called about every 100 ms of work with running totals. */
  onProgress?: (p: ProgressInfo) => void;
  /**
   * Build messages (MIME, decoding, hashing, .eml/attachment writes) on a worker thread. Default
   * true: on the 2-core benchmark VM it is about 30 % faster on 1 GiB (docs/performance.md).
   * False builds them on this thread. Ignored (inline) when outDir is null.
   */
  messageWorker?: boolean;
  /**
   * Capture files at least this large (bytes; default 64 MiB) are hashed off this thread: on the
   * message worker when there is one, else on a hash worker of their own. Infinity: always here.
   */
  workerHashMinBytes?: number;
}

function useMessageWorker(options: AnalyzeOptions): boolean {
  return options.outDir !== null && options.messageWorker !== false;
}

/**
 * Analyses one capture (path, '-' for stdin, or a readable stream) and writes a case folder.
 * Throws MailsleuthError for an unknown format, an unreadable input or an unwritable folder;
 * everything wrong inside the capture becomes an anomaly.
 */
export async function analyze(input: string | NodeJS.ReadableStream, options: AnalyzeOptions): Promise<CaseSummary> {
  const started = new Date();
  const t0 = process.hrtime.bigint();
  const limits = resolveLimits(options.limits);
  const keys = loadKeys(options);
  const aggregates = newAggregates();
  const memory = options.outDir === null ? new MemorySink() : null;
  // Messages and attachments are written in the background (libuv threadpool); a quarter of the
  // pending bound is where the pipeline resumes after waiting, twice it where writes turn sync.
  // Written blocks go back to the message module's pool (warm memory, no page faults).
  const queue = options.outDir === null ? null : new FileWriteQueue({ maxPendingBytes: 2 * limits.maxPendingWriteBytes, recycle: recycleOwnedChunks });
  const writer = options.outDir === null ? null : new CaseWriter(options.outDir, { overwrite: options.overwrite, queue });
  const sink: RecordSink = writer ?? memory!;

  let anomalyTotal = 0;
  const report = (a: Anomaly): void => {
    anomalyTotal++;
    const n = (aggregates.anomaliesByCode[a.code] = (aggregates.anomaliesByCode[a.code] ?? 0) + 1);
    if (n > limits.maxAnomalyRecordsPerCode) return;
    const info = anomalyInfo(a.code);
    const rec: AnomalyRecord = {
      code: a.code,
      severity: info.severity,
      detail: a.detail ?? null,
      conn_id: a.connId ?? null,
      frame: a.at?.frame ?? null,
      ts: a.at ? isoTime(a.at.ts) : null,
    };
    sink.anomaly(rec);
  };
  const pipelineAnomaly = (code: string, detail: string | undefined, at: At | undefined, connId: string | undefined): void =>
    report({ code, detail, at, connId });
  // Key log lines that could not be parsed, from --keylog files now and from pcapng Decryption
  // Secrets Blocks as they are read (after `report` exists: a bad line used to throw here).
  const reportKeys = (bad: number, source: string): void => {
    if (bad > 0) report({ code: 'tls_keylog_bad_line', detail: `${bad} line(s) of ${source} could not be parsed` });
  };
  for (const k of keys.loaded) reportKeys(k.bad, k.source);

  // Worker mode: messages are built and written on a worker thread.
  const worker = writer && useMessageWorker(options)
    ? new MessageWorkerClient({
        attachmentsDir: writer.attachmentsDir(),
        limits: {
          maxMessageBytes: limits.maxMessageBytes,
          maxInMemoryMessageBytes: limits.maxInMemoryMessageBytes,
          maxMimeDepth: limits.maxMimeDepth,
          maxMimeParts: limits.maxMimeParts,
          maxHeaderBytes: limits.maxHeaderBytes,
        },
        maxPendingWriteBytes: limits.maxPendingWriteBytes,
        maxBacklogBytes: limits.maxMessageWorkerBacklogBytes,
      })
    : null;
  try {
    return await run(worker);
  } finally {
    await worker?.terminate();
  }

  async function run(worker: MessageWorkerClient | null): Promise<CaseSummary> {
  const source = await openCaptureBatches(input, {
    report,
    maxRecordBytes: limits.maxRecordBytes,
    maxResyncBytes: limits.maxResyncBytes,
    // A large file is hashed on the message worker (one thread less to start).
    chunkHasher: worker ? () => worker.chunkHasher() : undefined,
    workerHashMinBytes: options.workerHashMinBytes,
  });
  const decoder = new PacketDecoder({ report, limits });
  const factory = new ConnectionHandlerFactory({
    protocols: PROTOCOLS,
    limits,
    sink,
    aggregates,
    anomaly: pipelineAnomaly,
    keys,
    messageWorker: worker,
  });
  const reassembler = new TcpReassembler({ factory, limits, report, serverPorts: serverPorts() });
  // Segments of connections found not to be mail are dropped before a packet is even built.
  decoder.earlyFilter = reassembler;

  let frames = 0;
  let firstTs: Timestamp | null = null;
  let lastTs: Timestamp | null = null;
  let lastAt: At | undefined;
  let nextProgress = Date.now() + 100;
  const totalBytes = source.info.fileBytes > 0 && !source.info.gzip ? source.info.fileBytes : null;

  let secretsSeen = 0;
  let interrupted = false;
  // An abort (Ctrl-C on a live capture) must also end a wait for input that may never come:
  // the input stream (stdin) is destroyed, which settles the pending read.
  const onAbort = (): void => {
    if (typeof input !== 'string') (input as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
    else if (input === '-') process.stdin.destroy();
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });
  // Frames are handled as the parser meets them (each valid only during the call), so they die
  // young; the per-chunk work (worker flush, back-pressure, progress) follows each read chunk.
  const dsb = source.info.decryptionSecrets;
  let lastIndex = 0;
  let lastFrameTs: Timestamp | null = null;
  /** Every frame, delivered or consumed by the prefilter: count and time span. */
  const countFrame = (index: number, ts: Timestamp): void => {
    frames++;
    if (firstTs === null) firstTs = ts;
    if (lastTs === null || compareTs(ts, lastTs) > 0) lastTs = ts;
    lastIndex = index;
    lastFrameTs = ts;
  };
  const onFrame = (frame: CaptureFrame): void => {
    // pcapng Decryption Secrets Blocks precede the packets they serve.
    while (secretsSeen < dsb.length) {
      const d = dsb[secretsSeen++]!;
      const r = keys.addDecryptionSecretsBlock(d.type, d.data);
      if (r) reportKeys(r.bad, 'a pcapng Decryption Secrets Block');
    }
    countFrame(frame.index, frame.ts);
    const r = decoder.decode(frame);
    if (r.kind === 'tcp') reassembler.add(r.packet);
    // Every 4,096 frames, and for each of the first 256: run while V8 still collects type
    // feedback for this code, the call is in it (a call first met in optimised code deoptimises
    // it, and the frame path is recompiled). Nothing to flush costs a map size check.
    if ((frames & 4095) === 0 || frames < 256) decoder.flushExpired(frame.ts);
  };
  // Segments of connections already found not to be mail are dropped from the record's bytes,
  // before a frame object exists (most of a capture is not mail); such frames only count.
  const prefilter = (buf: Uint8Array, off: number, caplen: number, linkType: number, index: number, ts: Timestamp): boolean => {
    if (!decoder.consumeIgnoredRecord(buf, off, caplen, linkType, index, ts)) return false;
    countFrame(index, ts);
    if ((frames & 4095) === 0 || frames < 256) decoder.flushExpired(ts);
    return true;
  };
  const chunks = source.stream(onFrame, prefilter)[Symbol.asyncIterator]();
  for (;;) {
    let next: IteratorResult<void>;
    try {
      next = await chunks.next();
    } catch (e) {
      // The message worker hashes the capture: if it failed, that is what stopped the reading.
      if (worker) throwIfWorkerFailed(worker);
      if (!options.signal?.aborted) throw e;
      next = { done: true, value: undefined };
    }
    if (options.signal?.aborted) {
      interrupted = true;
      void chunks.return?.(undefined)?.catch(() => undefined);
      break;
    }
    if (next.done) break;
    if (lastFrameTs !== null) {
      lastAt = { frame: lastIndex, ts: lastFrameTs };
      reassembler.advanceTime(lastFrameTs);
    }
    if (worker) {
      // One message to the worker per capture batch; wait while it is far behind.
      worker.flush();
      if (worker.overloaded) await worker.relieved();
      throwIfWorkerFailed(worker);
    }
    if (queue) {
      if (queue.pendingBytes > limits.maxPendingWriteBytes) await queue.drain(limits.maxPendingWriteBytes / 4);
      throwIfWriteFailed(queue);
    }
    if (options.onProgress && Date.now() >= nextProgress) {
      nextProgress = Date.now() + 100;
      options.onProgress({
        frames,
        bytes: source.info.bytesRead,
        totalBytes,
        sessions: Object.values(aggregates.sessions).reduce((a, b) => a + b, 0),
        messages: aggregates.messages,
      });
    }
  }
  options.signal?.removeEventListener('abort', onAbort);
  reassembler.flushAll(lastAt);
  if (worker) {
    // Every message record is written (in close order) once its result is back.
    try {
      await worker.finish();
    } catch (e) {
      throwIfWorkerFailed(worker);
      throw e;
    }
  }
  for (const c of aggregates.clients.records()) sink.extra('clients', c);
  if (aggregates.clients.dropped > 0) {
    report({ code: 'clients_limit', detail: `${aggregates.clients.dropped} sessions from clients beyond the tracked maximum were not attributed` });
  }
  if (queue) {
    await queue.drain();
    throwIfWriteFailed(queue);
  }

  const info = source.info;
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const stats = reassembler.stats;
  const byCode: CaseSummary['anomalies_by_code'] = {};
  for (const code of Object.keys(aggregates.anomaliesByCode).sort()) {
    const i: AnomalyCodeInfo = anomalyInfo(code);
    byCode[code] = { count: aggregates.anomaliesByCode[code], severity: i.severity, description: i.description };
  }
  const summary: CaseSummary = {
    tool: TOOL,
    input: {
      path: typeof input === 'string' ? (input === '-' ? '(stdin)' : input) : '(stream)',
      size_bytes: info.fileBytes,
      sha256: info.sha256 ?? null,
      format: info.format,
      gzip: info.gzip,
      link_types: info.linkTypes.map((id) => ({ id, name: linkTypeName(id) })),
      interfaces: info.interfaces.length,
      sections: info.sections,
      frames: info.frames,
      first_ts: firstTs ? isoTime(firstTs) : null,
      last_ts: lastTs ? isoTime(lastTs) : null,
      stopped_at_offset: info.stoppedAtOffset ?? null,
      complete: info.stoppedAtOffset === undefined && !interrupted,
      interrupted,
    },
    counts: {
      connections: aggregates.connections,
      sessions: aggregates.sessions,
      sessions_encrypted: aggregates.sessionsEncrypted,
      sessions_decrypted: aggregates.sessionsDecrypted,
      transcript_entries: aggregates.transcriptEntries,
      messages: aggregates.messages,
      messages_partial: aggregates.messagesPartial,
      messages_excerpt: aggregates.messagesExcerpt,
      message_bytes: aggregates.messageBytes,
      attachments: aggregates.attachments,
      credentials: aggregates.credentials,
      credentials_success: aggregates.credentialsSuccess,
      credentials_failure: aggregates.credentialsFailure,
      anomalies: anomalyTotal,
      tcp_gaps: stats.gaps,
      tcp_gap_bytes: stats.gapBytes,
    },
    anomalies_by_code: byCode,
    client_names: aggregates.clientNames,
    credentials: aggregates.credentialList,
    messages: aggregates.messageList,
    sessions: aggregates.sessionList,
    filter_rules: aggregates.filterRules,
    mailbox_events: Object.fromEntries(Object.entries(aggregates.mailboxEvents).sort()),
    run: {
      started: started.toISOString(),
      duration_seconds: Math.round(seconds * 1000) / 1000,
      mib_per_second: seconds > 0 ? Math.round((info.bytesRead / 1048576 / seconds) * 10) / 10 : 0,
      node: process.version,
      limits,
    },
  };
  if (writer) writer.close(info.sha256, summary);
  if (memory) {
    memory.fillCaptureHash(info.sha256);
    summary.records = memory.records;
  }
  return summary;
  }
}

/** The message worker failed (a file it could not write): the run cannot produce a complete case. */
function throwIfWorkerFailed(worker: MessageWorkerClient): void {
  const err = worker.error;
  if (!err) return;
  if (worker.errorIsOutput) throw new MailsleuthError('OUTPUT_UNWRITABLE', err.message, { cause: err });
  throw new Error(`message worker failed: ${err.message}`, { cause: err });
}

/** A background write of the case folder failed: the run cannot produce a complete case. */
function throwIfWriteFailed(queue: FileWriteQueue): void {
  const err = queue.error;
  if (err) throw new MailsleuthError('OUTPUT_UNWRITABLE', err.message, { cause: err });
}

/** Builds the TLS key store from --keylog / --rsa-key files. Unreadable files are usage errors. */
function loadKeys(options: AnalyzeOptions): TlsKeyStore & { loaded: { bad: number; source: string }[] } {
  const keys = Object.assign(new TlsKeyStore(), { loaded: [] as { bad: number; source: string }[] });
  for (const f of options.keyLogFiles ?? []) {
    let text: string;
    try {
      text = readFileSync(f, 'latin1');
    } catch (e) {
      throw new MailsleuthError('USAGE', `cannot read key log file ${f}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    const r = keys.addKeyLog(text, f);
    keys.loaded.push({ bad: r.bad, source: f });
  }
  for (const f of options.rsaKeyFiles ?? []) {
    let pem: string;
    try {
      pem = readFileSync(f, 'latin1');
    } catch (e) {
      throw new MailsleuthError('USAGE', `cannot read RSA key file ${f}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    keys.addRsaPrivateKeyPem(pem, f);
  }
  return keys;
}

