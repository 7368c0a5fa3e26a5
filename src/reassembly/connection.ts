import type { At, Side, Timestamp } from '../core/types.js';
import { DirectionOrder } from './direction-order.js';
import { HalfStream } from './half-stream.js';
import type { ReassemblyContext } from './reassembly-context.js';
import type { ConnectionInfo, StreamHandler } from './stream-handler.js';

/**
 * One tracked TCP connection: its handler, its two directions, and its place in the
 * connection table's recency lists (intrusive links, so touching it allocates nothing).
 */
export class Connection {
  readonly key: string;
  readonly info: ConnectionInfo;
  readonly handler: StreamHandler;
  /** Client endpoint, to tell the direction of a packet with two comparisons. */
  readonly clientIp: string;
  readonly clientPort: number;
  readonly serverIp: string;
  readonly serverPort: number;
  /** Numeric lookup key (ConnectionTable fast path), or -1 when the packets carried no ids. */
  fastKey = -1;
  /** IPv4 client and server addresses as 32-bit numbers (-1: not IPv4 or unknown). */
  v4Client = -1;
  v4Server = -1;
  readonly client: HalfStream;
  readonly server: HalfStream;
  /** Hands both sides' bytes to the handler in the order their ACKs prove. */
  readonly order: DirectionOrder;
  /** The handler asked to stop receiving payload (`StreamHandler.ignored`). */
  ignored = false;
  /** onClose was called. A closed connection stays in the table until timeWaitSeconds pass. */
  closed = false;
  /** `tcp_midstream_start` is still to be reported (on the first payload). */
  midstreamPending: boolean;
  /** `tcp_data_after_close` was reported. */
  afterCloseReported = false;
  /**
   * An RST was seen and the connection closes once the peer's packets captured just after it
   * stop (TcpReassembler, RST_GRACE_SECONDS): the RST's frame and sender, or null.
   */
  resetAt: At | null = null;
  resetSide: Side | null = null;
  lastTs: Timestamp;
  lastFrame: number;
  /** Recency list links (owned by ConnectionTable). */
  prev: Connection | null = null;
  next: Connection | null = null;

  constructor(key: string, info: ConnectionInfo, handler: StreamHandler, ctx: ReassemblyContext) {
    this.key = key;
    this.info = info;
    this.handler = handler;
    this.clientIp = info.client.ip;
    this.clientPort = info.client.port;
    this.serverIp = info.server.ip;
    this.serverPort = info.server.port;
    this.client = new HalfStream('client', this, ctx);
    this.server = new HalfStream('server', this, ctx);
    this.order = new DirectionOrder(this, ctx);
    this.midstreamPending = !info.sawHandshake;
    this.lastTs = info.start.ts;
    this.lastFrame = info.start.frame;
    if (handler.ignored === true) this.ignored = true;
  }

  /** The handler set `ignored`: drop all payload state now; only FIN/RST/idle are tracked after. */
  markIgnored(): void {
    if (this.ignored) return;
    this.ignored = true;
    this.client.release();
    this.server.release();
    this.order.release();
  }
}
