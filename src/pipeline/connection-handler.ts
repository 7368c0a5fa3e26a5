import type { At, Side } from '../core/types.js';
import { isoTime } from '../core/types.js';
import type { Limits } from '../core/limits.js';
import type { SessionRecord } from '../core/records.js';
import type { CloseReason, ConnectionInfo, StreamHandler, StreamHandlerFactory } from '../reassembly/stream-handler.js';
import type { ProtocolAnalyzer, ProtocolSpec } from '../protocols/analyzer.js';
import type { TlsKeyStore } from '../tls/key-store.js';
import { proxyPreambleLength } from './proxy-preamble.js';
import type { RecordSink } from '../output/case-writer.js';
import type { Aggregates } from './aggregates.js';
import { pushCapped } from './aggregates.js';
import type { PipelineAnomaly } from './session-context.js';
import { SessionContext } from './session-context.js';
import { sessionNote } from './session-note.js';
import type { MessageWorkerClient } from './message-worker-client.js';

interface Shared {
  protocols: readonly ProtocolSpec[];
  limits: Limits;
  sink: RecordSink;
  aggregates: Aggregates;
  anomaly: PipelineAnomaly;
  keys: TlsKeyStore;
  /** Messages are built on this worker (null/absent: inline). */
  messageWorker?: MessageWorkerClient | null;
}

type Buffered = { side: Side; bytes: Uint8Array | null; gap: number; at: At };

const EMPTY = new Uint8Array(0);

/**
 * One per TCP connection: identifies the protocol (by port, else by content from the first
 * bytes of each side, bounded by maxSniffBytes), then hands bytes to the protocol analyzer.
 * Connections that are not mail are marked ignored at once so the reassembler stops copying.
 */
export class ConnectionHandler implements StreamHandler {
  ignored = false;
  readonly conn: ConnectionInfo;
  #shared: Shared;
  #analyzer: ProtocolAnalyzer | null = null;
  #ctx: SessionContext | null = null;
  #identifiedBy: SessionRecord['identified_by'] = 'port';
  #pending: Buffered[] | null = null;
  #pendingBytes = { client: 0, server: 0 };
  #candidates: ProtocolSpec[] = [];
  #last: At;
  #gaps = 0;
  #gapBytes = 0;
  #failed = false;
  /** Implicit TLS port: every byte goes to the TLS layer; plaintext (with a key) to the analyzer. */
  #implicitTls = false;
  /**
   * Mid-stream capture whose role guess was backwards (the "client" spoke like the server):
   * sides are flipped on delivery and the session's endpoints swapped.
   */
  #swapped = false;
  /** The connection as the session sees it (roles corrected by content when needed). */
  #info: ConnectionInfo;
  /** Bytes of a proxy preamble (SOCKS5, HTTP CONNECT) still to skip per side before the protocol starts. */
  #skip = { client: 0, server: 0 };

  constructor(conn: ConnectionInfo, shared: Shared) {
    this.conn = conn;
    this.#info = conn;
    this.#shared = shared;
    this.#last = conn.start;
    const port = conn.server.port;
    for (const spec of shared.protocols) {
      if (spec.ports.includes(port)) {
        this.#start(spec, 'port', false);
        return;
      }
      if (spec.tlsPorts.includes(port)) {
        this.#start(spec, 'port', true);
        return;
      }
    }
    this.#pending = [];
    this.#candidates = [...shared.protocols];
  }

  #start(spec: ProtocolSpec, by: SessionRecord['identified_by'], encrypted: boolean): void {
    const s = this.#shared;
    const ctx = new SessionContext({
      conn: this.#info,
      protocol: spec.name,
      limits: s.limits,
      sink: s.sink,
      aggregates: s.aggregates,
      anomaly: s.anomaly,
      keys: s.keys,
      messageWorker: s.messageWorker ?? null,
    });
    this.#ctx = ctx;
    this.#identifiedBy = by;
    this.#implicitTls = encrypted;
    try {
      this.#analyzer = spec.create(ctx);
      ctx.attach(this.#analyzer, encrypted);
      if (encrypted) ctx.markEncrypted(this.conn.start);
    } catch (e) {
      this.#fail(e, this.conn.start);
    }
  }

  onData(side: Side, bytes: Uint8Array, at: At): void {
    this.#last = at;
    if (this.#swapped) side = side === 'client' ? 'server' : 'client';
    this.#deliver(side, bytes, at);
  }

  /** `side` is as the session sees it (after any role correction). */
  #deliver(side: Side, bytes: Uint8Array, at: At): void {
    if (this.#analyzer) {
      if (this.#failed) return;
      try {
        if (this.#skip[side] > 0) {
          const n = Math.min(this.#skip[side], bytes.length);
          this.#skip[side] -= n;
          if (n === bytes.length) return;
          bytes = bytes.subarray(n);
        }
        if (this.#implicitTls) this.#ctx!.encryptedData(side, bytes, at);
        else this.#analyzer.onData(side, bytes, at);
      } catch (e) {
        this.#fail(e, at);
      }
      return;
    }
    if (!this.#pending) return;
    this.#pending.push({ side, bytes: bytes.slice(), gap: 0, at });
    this.#pendingBytes[side] += bytes.length;
    this.#sniff(at);
  }

  onGap(side: Side, length: number, at: At): void {
    this.#last = at;
    if (this.#swapped) side = side === 'client' ? 'server' : 'client';
    this.#gapAt(side, length, at);
  }

  #gapAt(side: Side, length: number, at: At): void {
    this.#gaps++;
    this.#gapBytes += length;
    if (this.#analyzer) {
      if (this.#failed) return;
      try {
        if (this.#implicitTls) this.#ctx!.encryptedGap(side, length, at);
        else this.#analyzer.onGap(side, length, at);
      } catch (e) {
        this.#fail(e, at);
      }
      return;
    }
    if (this.#pending) this.#pending.push({ side, bytes: null, gap: length, at });
  }

  onSideEnd(side: Side, reason: 'fin' | 'rst', at: At): void {
    this.#last = at;
    if (this.#swapped) side = side === 'client' ? 'server' : 'client';
    if (this.#analyzer && !this.#failed && this.#analyzer.onSideEnd) {
      try {
        this.#analyzer.onSideEnd(side, reason, at);
      } catch (e) {
        this.#fail(e, at);
      }
    }
  }

  #sniff(at: At): void {
    const pending = this.#pending!;
    let client = concatSide(pending, 'client');
    let server = concatSide(pending, 'server');
    // A proxy handshake (SOCKS5, HTTP CONNECT) may come first: sniff what follows it.
    const pre = proxyPreambleLength(client, server);
    if (pre === 'maybe') {
      if (this.#pendingBytes.client < this.#shared.limits.maxSniffBytes && this.#pendingBytes.server < this.#shared.limits.maxSniffBytes) return;
    } else if (pre) {
      client = client.subarray(pre.client);
      server = server.subarray(pre.server);
    }
    const still: ProtocolSpec[] = [];
    for (const spec of this.#candidates) {
      let verdict: 'yes' | 'no' | 'maybe';
      let reversed = false;
      try {
        verdict = spec.sniff(client, server);
        // No handshake seen: the port guess may be backwards; the content decides (issue 2).
        if (verdict !== 'yes' && !this.conn.sawHandshake && spec.sniff(server, client) === 'yes') {
          verdict = 'yes';
          reversed = true;
        }
      } catch {
        verdict = 'no';
      }
      if (verdict === 'yes') {
        this.#pending = null;
        if (reversed) {
          this.#swapped = true;
          this.#info = { ...this.conn, client: this.conn.server, server: this.conn.client, roleBy: 'content' };
          this.#shared.anomaly('roles_by_content', `no handshake; ${spec.name.toUpperCase()} content shows ${this.conn.client.ip}:${this.conn.client.port} is the server`, at, this.conn.id);
        }
        this.#start(spec, 'content', false);
        if (pre && pre !== 'maybe') {
          this.#skip = { client: pre.client, server: pre.server };
          this.#shared.anomaly('proxy_tunnel', `${pre.kind} handshake before ${spec.name.toUpperCase()}: ${pre.detail}`, at, this.conn.id);
        }
        for (const b of pending) {
          if (b.bytes) this.onData(b.side, b.bytes, b.at);
          else this.onGap(b.side, b.gap, b.at);
        }
        return;
      }
      if (verdict === 'maybe') still.push(spec);
    }
    this.#candidates = still;
    const max = this.#shared.limits.maxSniffBytes;
    const full = this.#pendingBytes.client >= max || this.#pendingBytes.server >= max;
    if (still.length === 0 || full || pending.length > 64) {
      void at;
      this.#pending = null;
      this.ignored = true;
    }
  }

  #fail(e: unknown, at: At): void {
    this.#failed = true;
    const msg = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    this.#shared.anomaly('internal_error', `analyzer stopped on this connection: ${msg}`, at, this.conn.id);
    this.ignored = true;
  }

  onClose(reason: CloseReason, at: At): void {
    if (at.frame > this.#last.frame) this.#last = at;
    const analyzer = this.#analyzer;
    const ctx = this.#ctx;
    this.#pending = null;
    if (!analyzer || !ctx) return;
    let summary: ReturnType<ProtocolAnalyzer['summary']> | null = null;
    if (!this.#failed) {
      try {
        analyzer.onClose(reason, at);
      } catch (e) {
        this.#fail(e, at);
      }
    }
    ctx.endTls(at);
    for (const open of [...ctx.openSinks]) open.close({ note: 'session ended before the message was finished' }, this.#last);
    try {
      summary = analyzer.summary();
    } catch (e) {
      this.#fail(e, at);
    }
    const agg = this.#shared.aggregates;
    agg.sessions[analyzer.protocol] = (agg.sessions[analyzer.protocol] ?? 0) + 1;
    const transport = this.#implicitTls ? 'tls' : (summary?.transport ?? 'cleartext');
    const tls = ctx.tlsInfo();
    if (transport !== 'cleartext') agg.sessionsEncrypted++;
    const rec: SessionRecord = {
      session_id: ctx.sessionId,
      conn_id: this.conn.id,
      protocol: analyzer.protocol,
      client: ctx.client,
      server: ctx.server,
      identified_by: this.#identifiedBy,
      transport,
      midstream: !this.conn.sawHandshake,
      close_reason: this.#failed ? `${reason} (analyzer error)` : reason,
      commands: summary?.commands ?? 0,
      replies: summary?.replies ?? 0,
      gaps: this.#gaps,
      gap_bytes: this.#gapBytes,
      frame_first: this.conn.firstFrame,
      frame_last: this.#last.frame,
      ts_first: isoTime(this.conn.start.ts),
      ts_last: isoTime(this.#last.ts),
      ...(summary?.facts ?? {}),
      ...(tls ? { tls } : {}),
    };
    if (tls?.decryption === 'decrypted') agg.sessionsDecrypted++;
    collectClientNames(rec, agg);
    agg.clients.session(rec.client.ip, rec.protocol, rec.conn_id, `${rec.server.ip}:${rec.server.port}`,
      { frame: rec.frame_first, ts: this.conn.start.ts }, this.#last, summary?.facts ?? {});
    pushCapped(agg.sessionList, {
      id: rec.session_id,
      protocol: rec.protocol,
      client: `${rec.client.ip}:${rec.client.port}`,
      server: `${rec.server.ip}:${rec.server.port}`,
      transport,
      frames: `${rec.frame_first}-${rec.frame_last}`,
      note: sessionNote(rec),
    });
    this.#shared.sink.session(rec);
  }
}

function concatSide(list: Buffered[], side: Side): Uint8Array {
  let n = 0;
  for (const b of list) if (b.side === side && b.bytes) n += b.bytes.length;
  if (n === 0) return EMPTY;
  const out = new Uint8Array(n);
  let o = 0;
  for (const b of list) {
    if (b.side !== side) continue;
    if (!b.bytes) break; // stop at a gap: content after it is not contiguous
    out.set(b.bytes, o);
    o += b.bytes.length;
  }
  return o === n ? out : out.subarray(0, o);
}

function collectClientNames(rec: SessionRecord, agg: Aggregates): void {
  const add = (name: string, source: string): void => {
    if (!agg.clientNames.some((c) => c.name === name && c.client_ip === rec.client.ip && c.source === source)) {
      pushCapped(agg.clientNames, { name, source, client_ip: rec.client.ip, first_frame: rec.frame_first });
    }
  };
  const smtp = rec.smtp;
  if (smtp) for (const name of smtp.helo_names) add(name, smtp.helo_command ?? 'HELO');
  const imap = rec.imap as { client_id?: Record<string, string> | null } | undefined;
  if (imap?.client_id) {
    const id = imap.client_id;
    const text = ['name', 'version', 'os', 'os-version', 'vendor']
      .map((k) => id[k] ?? id[k.toUpperCase()])
      .filter(Boolean)
      .join(' ');
    if (text) add(text, 'IMAP ID');
  }
}

/** Factory handed to the reassembler. */
export class ConnectionHandlerFactory implements StreamHandlerFactory {
  #shared: Shared;
  constructor(shared: Shared) {
    this.#shared = shared;
  }
  create(conn: ConnectionInfo): StreamHandler {
    this.#shared.aggregates.connections++;
    return new ConnectionHandler(conn, this.#shared);
  }
}
