import type { Anomaly } from '../core/anomaly.js';
import type { At, Side, TcpPacket } from '../core/types.js';
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN } from '../core/types.js';
import type { CloseReason, ConnectionInfo, StreamHandler, StreamHandlerFactory } from './stream-handler.js';

/**
 * Test support (also useful to pipeline tests): a StreamHandlerFactory that records every
 * callback, and a compact TcpPacket builder.
 */

/** One recorded handler call. Data bytes are copied (the originals are borrowed). */
export type RecordedEvent =
  | { readonly kind: 'data'; readonly conn: string; readonly side: Side; readonly bytes: Uint8Array; readonly view: Uint8Array; readonly at: At }
  | { readonly kind: 'gap'; readonly conn: string; readonly side: Side; readonly length: number; readonly at: At }
  | { readonly kind: 'end'; readonly conn: string; readonly side: Side; readonly reason: 'fin' | 'rst'; readonly at: At }
  | { readonly kind: 'close'; readonly conn: string; readonly reason: CloseReason; readonly at: At };

/** Options of {@link RecordingFactory}. */
export interface RecordingOptions {
  /** Mark a connection ignored after this many onData calls (0: at creation). */
  readonly ignoreAfterData?: number;
}

class RecordingHandler implements StreamHandler {
  ignored = false;
  #dataCalls = 0;
  readonly #id: string;
  readonly #events: RecordedEvent[];
  readonly #ignoreAfter: number;

  constructor(id: string, events: RecordedEvent[], ignoreAfter: number) {
    this.#id = id;
    this.#events = events;
    this.#ignoreAfter = ignoreAfter;
    if (ignoreAfter === 0) this.ignored = true;
  }

  onData(side: Side, bytes: Uint8Array, at: At): void {
    this.#events.push({ kind: 'data', conn: this.#id, side, bytes: bytes.slice(), view: bytes, at });
    if (++this.#dataCalls >= this.#ignoreAfter) this.ignored = true;
  }
  onGap(side: Side, length: number, at: At): void {
    this.#events.push({ kind: 'gap', conn: this.#id, side, length, at });
  }
  onSideEnd(side: Side, reason: 'fin' | 'rst', at: At): void {
    this.#events.push({ kind: 'end', conn: this.#id, side, reason, at });
  }
  onClose(reason: CloseReason, at: At): void {
    this.#events.push({ kind: 'close', conn: this.#id, reason, at });
  }
}

/** Records every call of every connection, in call order. */
export class RecordingFactory implements StreamHandlerFactory {
  readonly events: RecordedEvent[] = [];
  readonly connections: ConnectionInfo[] = [];
  readonly anomalies: Anomaly[] = [];
  readonly #opts: RecordingOptions;

  constructor(opts: RecordingOptions = {}) {
    this.#opts = opts;
  }

  /** Pass as the reassembler's `report`. */
  readonly report = (a: Anomaly): void => {
    this.anomalies.push(a);
  };

  create(conn: ConnectionInfo): StreamHandler {
    this.connections.push(conn);
    return new RecordingHandler(conn.id, this.events, this.#opts.ignoreAfterData ?? Infinity);
  }

  /**
   * One side of a connection as text: data as latin1, gaps as `[n]`, ends as `<fin>`/`<rst>`.
   */
  transcript(conn: string, side: Side): string {
    let s = '';
    for (const e of this.events) {
      if (e.conn !== conn || e.kind === 'close' || e.side !== side) continue;
      if (e.kind === 'data') s += Buffer.from(e.bytes).toString('latin1');
      else if (e.kind === 'gap') s += `[${e.length}]`;
      else s += `<${e.reason}>`;
    }
    return s;
  }

  /** Close reasons, in order, as `id:reason`. */
  closes(): string[] {
    const out: string[] = [];
    for (const e of this.events) if (e.kind === 'close') out.push(`${e.conn}:${e.reason}`);
    return out;
  }

  anomalyCodes(): string[] {
    return this.anomalies.map((a) => a.code);
  }
}

/** Endpoints of a test connection. */
export interface TestEndpoints {
  readonly client: { readonly ip: string; readonly port: number };
  readonly server: { readonly ip: string; readonly port: number };
}

export const DEFAULT_ENDPOINTS: TestEndpoints = {
  client: { ip: '10.0.0.1', port: 40000 },
  server: { ip: '10.0.0.2', port: 25 },
};

/** Compact description of a segment for tests. */
export interface SegmentSpec {
  readonly frame: number;
  readonly from: 'c' | 's';
  readonly seq: number;
  /** Sets the ACK flag and number. */
  readonly ack?: number;
  /** Letters: S(YN) F(IN) R(ST) P(SH). ACK comes from `ack`. */
  readonly flags?: string;
  readonly data?: string | Uint8Array;
  readonly missing?: number;
  /** Capture time in seconds (default: the frame number). */
  readonly t?: number;
  readonly endpoints?: TestEndpoints;
  readonly ipVersion?: 4 | 6;
}

/** Builds a TcpPacket from a {@link SegmentSpec}. */
export function tcpPacket(s: SegmentSpec): TcpPacket {
  const ep = s.endpoints ?? DEFAULT_ENDPOINTS;
  const [src, dst] = s.from === 'c' ? [ep.client, ep.server] : [ep.server, ep.client];
  let flags = s.ack !== undefined ? TCP_ACK : 0;
  const f = s.flags ?? '';
  if (f.includes('S')) flags |= TCP_SYN;
  if (f.includes('F')) flags |= TCP_FIN;
  if (f.includes('R')) flags |= TCP_RST;
  if (f.includes('P')) flags |= TCP_PSH;
  const data = s.data ?? '';
  const payload = typeof data === 'string' ? new Uint8Array(Buffer.from(data, 'latin1')) : data;
  const t = s.t ?? s.frame;
  const sec = Math.floor(t);
  return {
    frame: s.frame,
    ts: { sec, nsec: Math.round((t - sec) * 1e9) },
    ipVersion: s.ipVersion ?? 4,
    src: src.ip,
    dst: dst.ip,
    srcPort: src.port,
    dstPort: dst.port,
    seq: s.seq >>> 0,
    ack: (s.ack ?? 0) >>> 0,
    flags,
    window: 65535,
    payload,
    missingPayload: s.missing ?? 0,
  };
}
