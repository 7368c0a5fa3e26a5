import type { AnomalyReporter } from '../core/anomaly.js';
import type { Limits } from '../core/limits.js';
import type { At, Side, TcpPacket, Timestamp } from '../core/types.js';
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, tsDiff } from '../core/types.js';
import { Connection } from './connection.js';
import { ConnectionTable, connectionKey, fastKey, fastKeyOf } from './connection-table.js';
import { DEFAULT_SERVER_PORTS, decideRoles } from './decide-roles.js';
import type { GapCause } from './half-stream.js';
import { ReassemblyContext } from './reassembly-context.js';
import { MAX_SEQ_WINDOW, seqAdd, seqDiff } from './sequence.js';
import type { CloseReason, ConnectionInfo, StreamHandlerFactory } from './stream-handler.js';

/** Construction options of {@link TcpReassembler}. */
export interface TcpReassemblerOptions {
  readonly factory: StreamHandlerFactory;
  readonly limits: Limits;
  readonly report: AnomalyReporter;
  /** Ports that mark the server when the handshake was not seen (default {@link DEFAULT_SERVER_PORTS}). */
  readonly serverPorts?: ReadonlySet<number>;
}

/** Counters of one reassembler. */
export interface ReassemblyStats {
  /** Connections created so far. */
  readonly connections: number;
  /** Connections open now. */
  readonly activeConnections: number;
  /** Out-of-order bytes buffered now. */
  readonly bufferedBytes: number;
  readonly gaps: number;
  readonly gapBytes: number;
  readonly conflictingOverlaps: number;
  /** Segments (or buffered duplicates) carrying only bytes already delivered/buffered. */
  readonly retransmissions: number;
}

/**
 * Capture seconds after an RST during which the peer's packets are still taken (see #packet): data
 * the peer sent before the RST reached it, or captured after the RST because the two directions
 * were captured apart.
 */
const RST_GRACE_SECONDS = 1;

const CAUSE: Record<CloseReason, GapCause> = {
  fin: 'fin',
  rst: 'rst',
  idle_timeout: 'idle_timeout',
  end_of_capture: 'end_of_capture',
  evicted: 'evicted',
};

/**
 * TCP stream reassembly (gopacket `Assembler`, Zeek `TCP_Reassembler`). Synchronous: the
 * pipeline calls `add()` for every decoded TCP segment in capture order, and each connection's
 * {@link StreamHandler} receives its bytes in stream order, gaps where bytes are missing, and
 * its end. Policies (overlaps, gaps, roles, limits) are in README.md.
 *
 * Never throws on packet content; exceptions thrown by handlers propagate to the caller.
 */
export class TcpReassembler {
  readonly #factory: StreamHandlerFactory;
  readonly #ctx: ReassemblyContext;
  readonly #limits: Limits;
  readonly #serverPorts: ReadonlySet<number>;
  readonly #table = new ConnectionTable();
  /** Connections with an RST whose close waits for the peer's late packets (RST_GRACE_SECONDS). */
  readonly #resetting = new Set<Connection>();
  #created = 0;
  #nextCheckSec = -Infinity;
  /** Calls of #tick that run advanceTime whatever the time (see #tick). */
  #warmTicks = 256;
  #lastFrame = 0;
  #lastTs: Timestamp = { sec: 0, nsec: 0 };

  constructor(opts: TcpReassemblerOptions) {
    this.#factory = opts.factory;
    this.#limits = opts.limits;
    this.#ctx = new ReassemblyContext(opts.limits, opts.report);
    this.#serverPorts = opts.serverPorts ?? DEFAULT_SERVER_PORTS;
  }

  /**
   * One TCP segment, in capture order. `p.payload` is borrowed: in-order bytes are passed on as
   * this same view during the call; only out-of-order bytes are copied. Also runs idle expiry
   * (at most once per capture second).
   */
  add(p: TcpPacket): void {
    const ts = p.ts;
    this.#tick(ts);
    this.#lastFrame = p.frame;
    this.#lastTs = ts;
    const fk = fastKey(p);
    let conn = this.#table.lookupFast(p, fk);
    if (conn === undefined) {
      const key = connectionKey(p.src, p.srcPort, p.dst, p.dstPort);
      conn = this.#table.get(key);
      if (conn === undefined) conn = this.#open(key, p);
      else if ((p.flags & TCP_SYN) !== 0) {
        const c = this.#onSyn(conn, key, p);
        if (c === null) return;
        conn = c;
      } else if (conn.closed) {
        this.#afterClose(conn, p);
        return;
      }
      this.#table.bindFast(conn, fk);
    } else if ((p.flags & TCP_SYN) !== 0) {
      const c = this.#onSyn(conn, conn.key, p);
      if (c === null) return;
      conn = c;
      this.#table.bindFast(conn, fk);
    } else if (conn.closed) {
      this.#afterClose(conn, p);
      return;
    }
    if (conn.resetAt !== null && !this.#lateAfterReset(conn, p)) {
      this.#close(conn, 'rst', conn.resetAt, conn.resetSide);
      this.#afterClose(conn, p);
      return;
    }
    conn.lastTs = ts;
    conn.lastFrame = p.frame;
    this.#table.touch(conn);
    const fromClient = p.srcPort === conn.clientPort && p.src === conn.clientIp;
    if (conn.ignored) this.#ignoredPacket(conn, p, fromClient);
    else this.#packet(conn, p, fromClient);
  }

  /**
   * The decoder's early filter (TcpEarlyFilter): an IPv4 segment without SYN/FIN/RST of an
   * ignored connection changes nothing but the connection's last activity, so it is consumed
   * here, before a packet is built, with exactly the effect add() would have. False when the
   * connection is unknown, not ignored, or the endpoints do not match exactly.
   */
  consumeIgnoredV4(srcAddr: number, srcPort: number, dstAddr: number, dstPort: number, frame: number, ts: Timestamp): boolean {
    // As in add(): idle expiry first (it may close or forget this very connection).
    this.#tick(ts);
    const conn = this.#table.fastGet(fastKeyOf(srcAddr, srcPort, dstAddr, dstPort));
    if (conn === undefined || !conn.ignored || conn.v4Client < 0) return false;
    const fromClient = srcPort === conn.clientPort && srcAddr === conn.v4Client;
    const fromServer = srcPort === conn.serverPort && srcAddr === conn.v4Server;
    if (!(fromClient ? dstPort === conn.serverPort && dstAddr === conn.v4Server : fromServer && dstPort === conn.clientPort && dstAddr === conn.v4Client)) {
      return false;
    }
    return this.#consumeIgnored(conn, frame, ts);
  }

  /**
   * The same for an IPv6 segment: `srcId`/`dstId` are the packet's address ids (as in
   * TcpPacket), `src`/`dst` its address strings, which are compared with the connection's.
   */
  consumeIgnoredV6(srcId: number, srcPort: number, dstId: number, dstPort: number, src: string, dst: string, frame: number, ts: Timestamp): boolean {
    this.#tick(ts);
    const conn = this.#table.fastGet(fastKeyOf(srcId, srcPort, dstId, dstPort));
    if (conn === undefined || !conn.ignored || conn.v4Client >= 0) return false;
    const fromClient = srcPort === conn.clientPort && src === conn.clientIp;
    const fromServer = srcPort === conn.serverPort && src === conn.serverIp;
    if (!(fromClient ? dstPort === conn.serverPort && dst === conn.serverIp : fromServer && dstPort === conn.clientPort && dst === conn.clientIp)) {
      return false;
    }
    return this.#consumeIgnored(conn, frame, ts);
  }

  #consumeIgnored(conn: Connection, frame: number, ts: Timestamp): true {
    this.#lastFrame = frame;
    this.#lastTs = ts;
    // Closed (FIN/RST earlier, or idle expiry just now): add() would drop it silently too.
    if (conn.closed) return true;
    conn.lastTs = ts;
    conn.lastFrame = frame;
    this.#table.touch(conn);
    return true;
  }

  /**
   * advanceTime() once a capture second, and on each of the first calls: those run while V8
   * still collects type feedback (a call first met in optimised code deoptimises it and the
   * frame path is compiled again; advanceTime returns at once when the second has not changed).
   * One method for every caller, so they share that feedback.
   */
  #tick(ts: Timestamp): void {
    if (ts.sec >= this.#nextCheckSec || this.#warmTicks > 0) {
      this.#warmTicks--;
      this.advanceTime(ts);
    }
  }

  /**
   * Closes connections idle for more than `idleTimeoutSeconds` of capture time
   * (onClose('idle_timeout'), stamped with the connection's last packet) and forgets closed
   * ones older than `timeWaitSeconds`. Cheap: does the work at most once per capture second.
   */
  advanceTime(now: Timestamp): void {
    if (now.sec < this.#nextCheckSec) return;
    this.#nextCheckSec = now.sec + 1;
    if (this.#resetting.size > 0) {
      for (const c of [...this.#resetting]) {
        if (c.resetAt !== null && tsDiff(c.resetAt.ts, now) >= RST_GRACE_SECONDS) this.#close(c, 'rst', c.resetAt, c.resetSide);
      }
    }
    const idle = this.#limits.idleTimeoutSeconds;
    for (let c = this.#table.oldestOpen(); c !== null && tsDiff(c.lastTs, now) > idle; c = this.#table.oldestOpen()) {
      this.#close(c, 'idle_timeout', { frame: c.lastFrame, ts: c.lastTs }, null);
    }
    const linger = this.#limits.timeWaitSeconds;
    for (let c = this.#table.oldestClosed(); c !== null && tsDiff(c.lastTs, now) > linger; c = this.#table.oldestClosed()) {
      this.#table.remove(c);
    }
  }

  /**
   * End of capture: every open connection delivers what it buffered, reports its remaining
   * holes as gaps and gets onClose('end_of_capture'), in order of first frame. `at` defaults
   * to the last packet seen.
   */
  flushAll(at?: At): void {
    const end: At = at ?? { frame: this.#lastFrame, ts: this.#lastTs };
    const open = this.#table.openConnections();
    open.sort((a, b) => a.info.firstFrame - b.info.firstFrame);
    for (const c of open) this.#close(c, 'end_of_capture', end, null);
    this.#table.clear();
  }

  get stats(): ReassemblyStats {
    const ctx = this.#ctx;
    return {
      connections: this.#created,
      activeConnections: this.#table.openCount,
      bufferedBytes: ctx.bufferedTotal,
      gaps: ctx.gaps,
      gapBytes: ctx.gapBytes,
      conflictingOverlaps: ctx.conflictingOverlaps,
      retransmissions: ctx.retransmissions,
    };
  }

  #open(key: string, p: TcpPacket): Connection {
    const at: At = { frame: p.frame, ts: p.ts };
    const table = this.#table;
    const max = this.#limits.maxConnections;
    while (table.size >= max && table.size > 0) {
      const closed = table.oldestClosed();
      if (closed !== null) {
        table.remove(closed);
        continue;
      }
      const victim = table.oldestOpen() as Connection;
      this.#ctx.anomaly('tcp_connection_evicted', victim.info.id, at, `maxConnections (${max}) reached`);
      this.#close(victim, 'evicted', at, null);
    }
    const roles = decideRoles(p, this.#serverPorts);
    const src = { ip: p.src, port: p.srcPort };
    const dst = { ip: p.dst, port: p.dstPort };
    const info: ConnectionInfo = {
      id: `C${p.frame}`,
      client: roles.sourceIsClient ? src : dst,
      server: roles.sourceIsClient ? dst : src,
      ipVersion: p.ipVersion,
      firstFrame: p.frame,
      start: at,
      sawHandshake: roles.sawHandshake,
      roleBy: roles.roleBy,
    };
    const handler = this.#factory.create(info);
    const conn = new Connection(key, info, handler, this.#ctx);
    if (p.ipVersion === 4 && p.srcId !== undefined && p.dstId !== undefined) {
      conn.v4Client = roles.sourceIsClient ? p.srcId : p.dstId;
      conn.v4Server = roles.sourceIsClient ? p.dstId : p.srcId;
    }
    this.#created++;
    table.add(conn);
    return conn;
  }

  /** A SYN or SYN-ACK on a known key: same connection, a retransmission, or port reuse. */
  #onSyn(conn: Connection, key: string, p: TcpPacket): Connection | null {
    const fromClient = p.srcPort === conn.clientPort && p.src === conn.clientIp;
    const half = fromClient ? conn.client : conn.server;
    if (conn.closed) {
      // TIME_WAIT: the old connection's own SYN again is dropped; a new ISN is a new connection.
      if (half.sawSyn && half.isn === p.seq) return null;
      this.#table.remove(conn);
      return this.#open(key, p);
    }
    if (half.sawSyn) {
      if (half.isn === p.seq) return conn;
    } else if (!half.initialized) {
      return conn; // first SYN of this side (handled with the segment)
    } else if ((p.flags & TCP_ACK) !== 0) {
      return conn;
    } else {
      // This side started mid-stream; a SYN just before its first byte is its own, seen late.
      const d = seqDiff(half.base, seqAdd(p.seq, 1));
      if (d >= 0 && d <= MAX_SEQ_WINDOW) {
        half.noteLateSyn(p.seq);
        return null;
      }
    }
    if ((p.flags & TCP_ACK) !== 0) return null; // a SYN-ACK with another ISN: not ours to follow
    const at: At = { frame: p.frame, ts: p.ts };
    this.#ctx.anomaly(
      'tcp_port_reuse',
      conn.info.id,
      at,
      `new SYN (ISN ${p.seq}) from ${p.src}:${p.srcPort} while the connection was open; new connection C${p.frame}`,
    );
    this.#close(conn, 'evicted', at, null);
    return this.#open(key, p);
  }

  /** Full processing: ACK-driven gap detection for the peer, then this side's segment. */
  #packet(conn: Connection, p: TcpPacket, fromClient: boolean): void {
    const flags = p.flags;
    const half = fromClient ? conn.client : conn.server;
    let at: At | null = null;
    const peer = fromClient ? conn.server : conn.client;
    if ((flags & (TCP_ACK | TCP_RST)) === TCP_ACK) {
      if (peer.ackMatters(p.ack)) {
        at = { frame: p.frame, ts: p.ts };
        peer.onPeerAck(p.ack, at);
        if (conn.ignored) {
          this.#ignoredPacket(conn, p, fromClient);
          return;
        }
      }
    }
    let seq = p.seq;
    if ((flags & TCP_SYN) !== 0) {
      half.initFromSyn(seq);
      // RFC 9293 §3.4: the SYN occupies one sequence number; data on a SYN starts after it.
      seq = seqAdd(seq, 1);
    }
    const payload = p.payload;
    const fin = (flags & TCP_FIN) !== 0;
    if (payload.length !== 0 || p.missingPayload !== 0 || fin) {
      if (at === null) at = { frame: p.frame, ts: p.ts };
      if (conn.midstreamPending && (payload.length !== 0 || p.missingPayload !== 0)) {
        conn.midstreamPending = false;
        const s = conn.info.server;
        this.#ctx.anomaly(
          'tcp_midstream_start',
          conn.info.id,
          at,
          `no handshake seen; server ${s.ip}:${s.port} by ${conn.info.roleBy === 'port' ? 'well-known port' : 'lower port (guess)'}`,
        );
      }
      const need = (flags & TCP_ACK) !== 0 ? peer.offsetOfAck(p.ack) : -1;
      half.segment(seq, payload, p.missingPayload > 0 ? p.missingPayload : 0, fin, at, need);
    }
    if ((flags & TCP_RST) !== 0) {
      const rstAt = at ?? { frame: p.frame, ts: p.ts };
      if (conn.ignored) {
        this.#close(conn, 'rst', rstAt, half.side);
      } else {
        // The close waits for the peer's packets captured just after the RST (#lateAfterReset).
        conn.resetAt = rstAt;
        conn.resetSide = half.side;
        this.#resetting.add(conn);
      }
    } else if (conn.client.finSeen && conn.server.finSeen) {
      this.#close(conn, 'fin', at ?? { frame: p.frame, ts: p.ts }, null);
    }
  }

  /**
   * After an RST from one side, the peer's packets still count for RST_GRACE_SECONDS of capture
   * time: data it sent before the RST reached it, or captured after the RST when the two
   * directions were captured apart (a reply's RST before the command it answers). Anything else
   * (a packet of the resetting side, a SYN or RST, or later) closes the connection first.
   */
  #lateAfterReset(conn: Connection, p: TcpPacket): boolean {
    const at = conn.resetAt as At;
    const fromClient = p.srcPort === conn.clientPort && p.src === conn.clientIp;
    return (fromClient ? 'client' : 'server') !== conn.resetSide && (p.flags & (TCP_SYN | TCP_RST)) === 0 && tsDiff(at.ts, p.ts) < RST_GRACE_SECONDS;
  }

  /** Cheap path for ignored connections: only FIN and RST matter. */
  #ignoredPacket(conn: Connection, p: TcpPacket, fromClient: boolean): void {
    const flags = p.flags;
    if ((flags & (TCP_FIN | TCP_RST)) === 0) return;
    const at: At = { frame: p.frame, ts: p.ts };
    const half = fromClient ? conn.client : conn.server;
    if ((flags & TCP_RST) !== 0) {
      this.#close(conn, 'rst', at, half.side);
      return;
    }
    if (!half.finSeen) {
      half.finSeen = true;
      half.finDelivered = true;
      const h = conn.handler;
      if (h.onSideEnd !== undefined) h.onSideEnd(half.side, 'fin', at);
    }
    if (conn.client.finSeen && conn.server.finSeen) this.#close(conn, 'fin', at, null);
  }

  /** A non-SYN packet for a connection closed by FIN/RST (TIME_WAIT): dropped. */
  #afterClose(conn: Connection, p: TcpPacket): void {
    if (p.payload.length === 0 || conn.ignored || conn.afterCloseReported) return;
    conn.afterCloseReported = true;
    this.#ctx.anomaly('tcp_data_after_close', conn.info.id, { frame: p.frame, ts: p.ts }, `${p.payload.length} byte(s) from ${p.src}:${p.srcPort}`);
  }

  /**
   * Ends a connection: flush both directions (buffered data in order, holes as gaps, pending
   * FINs), then onSideEnd('rst') for the resetting side, then onClose. FIN/RST-closed
   * connections stay in the table for timeWaitSeconds; others are forgotten.
   */
  #close(conn: Connection, reason: CloseReason, at: At, rstSide: Side | null): void {
    if (conn.closed) return;
    if (conn.resetAt !== null) {
      // An RST was seen: the connection ended there, whatever closes it now.
      reason = 'rst';
      at = conn.resetAt;
      rstSide = conn.resetSide;
      conn.resetAt = null;
      this.#resetting.delete(conn);
    }
    const cause = CAUSE[reason];
    if (!conn.ignored) {
      conn.client.finish(cause, at);
      conn.server.finish(cause, at);
      conn.order.flush();
    }
    conn.order.release();
    conn.client.release();
    conn.server.release();
    const h = conn.handler;
    for (const half of [conn.client, conn.server]) {
      if (half.finSeen && !half.finDelivered) {
        half.finDelivered = true;
        if (h.onSideEnd !== undefined) h.onSideEnd(half.side, 'fin', half.finAt ?? at);
      }
    }
    if (rstSide !== null && h.onSideEnd !== undefined) h.onSideEnd(rstSide, 'rst', at);
    h.onClose(reason, at);
    if (reason === 'fin' || reason === 'rst') {
      this.#table.moveToClosed(conn);
    } else {
      this.#table.remove(conn);
      conn.closed = true;
    }
  }
}
