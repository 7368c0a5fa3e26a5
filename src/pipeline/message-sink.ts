import type { At, MessageExcerpt } from '../core/types.js';
import { isoTime } from '../core/types.js';
import type { MessageRecord } from '../core/records.js';
import type { MessageOpen, MessageSink } from '../protocols/analyzer.js';
import type { RecordSink } from '../output/case-writer.js';
import { CASE_FILES } from '../output/case-writer.js';
import { MessageBuilder } from '../message/message-builder.js';
import type { MessageBuildResult } from '../message/message-builder-types.js';
import type { Aggregates } from './aggregates.js';
import { pushCapped } from './aggregates.js';
import type { SessionContext } from './session-context.js';
import type { MessageWorkerClient } from './message-worker-client.js';

/**
 * Connects an analyzer's message bytes to the message module and writes the message record.
 * Inline: a MessageBuilder on this thread; the record is written in close(). With a message
 * worker: bytes are queued to the worker, and the record is written once close() happened and
 * the worker's result arrived, after the records of messages closed earlier (same order).
 */
export class PipelineMessageSink implements MessageSink {
  readonly id: string;
  #ctx: SessionContext;
  #open: MessageOpen;
  #sink: RecordSink;
  #agg: Aggregates;
  #builder: MessageBuilder | null = null;
  #worker: MessageWorkerClient | null;
  #slot = 0;
  /** Bytes ended (inline: #result is set too). */
  #ended = false;
  #result: MessageBuildResult | null = null;
  #last: At;
  #closed = false;
  /** What part of the message the client asked for, when not all of it. */
  #excerpt: MessageExcerpt | undefined = undefined;
  /** The message arrived inside a decrypted TLS session. */
  #decrypted: boolean;
  #onDone: (s: PipelineMessageSink) => void;

  constructor(args: {
    id: string;
    ctx: SessionContext;
    open: MessageOpen;
    sink: RecordSink;
    aggregates: Aggregates;
    onDone: (s: PipelineMessageSink) => void;
    /** Build on the message worker instead of inline. */
    worker?: MessageWorkerClient | null;
  }) {
    this.id = args.id;
    this.#ctx = args.ctx;
    this.#open = args.open;
    this.#sink = args.sink;
    this.#agg = args.aggregates;
    this.#onDone = args.onDone;
    this.#last = args.open.at;
    this.#decrypted = args.ctx.decrypting;
    this.#worker = args.worker ?? null;
    if (this.#worker) {
      this.#slot = this.#worker.open(args.sink.emlPath(args.id));
      return;
    }
    const l = args.ctx.limits;
    this.#builder = new MessageBuilder({
      emlPath: args.sink.emlPath(args.id),
      attachmentsDir: args.sink.attachmentsDir(),
      writer: args.sink.fileWriter?.() ?? null,
      limits: {
        maxMessageBytes: l.maxMessageBytes,
        maxInMemoryMessageBytes: l.maxInMemoryMessageBytes,
        maxMimeDepth: l.maxMimeDepth,
        maxMimeParts: l.maxMimeParts,
        maxHeaderBytes: l.maxHeaderBytes,
      },
    });
  }

  write(bytes: Uint8Array, at: At): void {
    if (this.#ended) return;
    this.#last = at;
    if (this.#worker) this.#worker.write(this.#slot, bytes);
    else this.#builder!.write(bytes);
  }

  gap(length: number, at: At): void {
    if (this.#ended) return;
    this.#last = at;
    if (this.#worker) this.#worker.gap(this.#slot, length);
    else this.#builder!.gap(length);
  }

  endBytes(complete: boolean, at: At, excerpt?: MessageExcerpt): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#excerpt = excerpt;
    this.#last = at;
    if (this.#worker) this.#worker.end(this.#slot, complete, excerpt);
    else this.#result = this.#builder!.end(complete, excerpt);
  }

  close(delivery: Record<string, string | number | boolean | null | string[]>, at: At): void {
    if (this.#closed) return;
    if (!this.#ended) this.endBytes(false, at);
    this.#closed = true;
    this.#last = at;
    if (this.#worker) {
      const last = at;
      this.#worker.onResult(this.#slot, (r) => this.#record(r, delivery, last));
    } else {
      this.#record(this.#result!, delivery, at);
    }
    this.#onDone(this);
  }

  /** Writes the message record and updates the aggregates. */
  #record(r: MessageBuildResult, delivery: Record<string, string | number | boolean | null | string[]>, last: At): void {
    const ctx = this.#ctx;
    const rec: MessageRecord = {
      message_id: this.id,
      session_id: ctx.sessionId,
      conn_id: ctx.conn.id,
      protocol: ctx.protocol,
      transport: this.#open.transport,
      client: ctx.client,
      server: ctx.server,
      envelope: this.#open.envelope,
      delivery,
      size: r.size,
      sha256: r.sha256,
      partial: r.partial,
      missing_bytes: r.missing_bytes,
      eml_path: `${CASE_FILES.messagesDir}/${this.id}.eml`,
      headers: r.headers,
      parts: r.parts,
      attachments: r.attachments,
      anomalies: r.anomalies,
      ...(this.#decrypted ? { decrypted: true } : {}),
      frame_first: this.#open.at.frame,
      frame_last: last.frame,
      ts_first: isoTime(this.#open.at.ts),
      ts_last: isoTime(last.ts),
    };
    for (const code of r.anomalies) ctx.anomaly(code, `message ${this.id}`, last);
    this.#agg.messages++;
    const excerpt = r.partial && this.#excerpt !== undefined && !r.anomalies.includes('message_partial');
    if (r.partial) this.#agg.messagesPartial++;
    if (excerpt) this.#agg.messagesExcerpt++;
    this.#agg.messageBytes += r.size;
    this.#agg.attachments += r.attachments.length;
    const h = r.headers;
    if (this.#open.transport === 'smtp-data' || this.#open.transport === 'smtp-bdat' || this.#open.transport === 'imap-append') {
      this.#agg.clients.userAgent(ctx.client.ip, h.x_mailer ?? h.user_agent, this.#open.at);
    }
    pushCapped(this.#agg.messageList, {
      id: this.id,
      from: h.from.map((a) => a.address || a.name).join(', '),
      to: h.to.map((a) => a.address || a.name).join(', '),
      subject: h.subject ?? '',
      size: r.size,
      attachments: r.attachments.length,
      partial: r.partial,
      excerpt,
      frame: this.#open.at.frame,
    });
    this.#sink.message(rec);
  }
}
