import type { At, Side } from '../core/types.js';
import type { Connection } from './connection.js';
import type { ReassemblyContext } from './reassembly-context.js';

const DATA = 0;
const GAP = 1;
const END = 2;

/** Something one side handed to the connection and the handler has not received yet. */
interface Held {
  readonly kind: 0 | 1 | 2;
  /** DATA: an owned copy. */
  readonly bytes: Uint8Array | null;
  /** GAP: missing byte count. */
  readonly len: number;
  readonly at: At;
  /** Peer stream offset that must be handed first (the segment's ACK), or -1. */
  readonly need: number;
  /** This side's stream offset after the item (END: Infinity). */
  readonly end: number;
}

class HeldQueue {
  items: Held[] = [];
  head = 0;
  bytes = 0;

  get empty(): boolean {
    return this.head === this.items.length;
  }

  peek(): Held | undefined {
    return this.items[this.head];
  }

  shift(): Held {
    const h = this.items[this.head++] as Held;
    if (h.bytes !== null) this.bytes -= h.bytes.length;
    if (this.head === this.items.length) {
      this.items.length = 0;
      this.head = 0;
    } else if (this.head >= 64 && this.head * 2 >= this.items.length) {
      this.items.splice(0, this.head);
      this.head = 0;
    }
    return h;
  }
}

/**
 * Delivery order across the two directions of one connection.
 *
 * Each direction is reassembled on its own, in its own sequence space, so the handler used to
 * receive the two sides in capture order. When the two directions were captured apart (a tap's
 * two ports, or two interfaces, merged by timestamp; a SPAN port's queues), a reply can come
 * before the command it answers. A segment's ACK says which of the peer's bytes its sender had
 * received when it sent it (RFC 9293 §3.4): its bytes are handed to the handler only after the
 * peer's bytes up to that ACK. Until then they are held here (copied), and handed in the order the
 * ACKs prove as soon as the peer's bytes arrive, or the peer's missing bytes become a gap (the
 * "ACK above hole" rules of HalfStream: data beyond the hole, one second of capture time, or the
 * end of the connection).
 *
 * Neither tshark nor Zeek does this: both hand each direction on in capture order.
 *
 * - In the usual case (nothing held, the ACK at or below what the peer has handed) an item goes
 *   straight through: one comparison.
 * - Each side's items keep their order; a gap or FIN waits behind that side's held data.
 * - Both sides' next items waiting for each other cannot happen in honest traffic (each would have
 *   been sent after the other was received); a retransmission carries the ACK of its own time,
 *   though, not that of the original the capture missed. Then the later-captured one (the likely
 *   retransmission) goes first.
 * - Held bytes count against `maxBufferedBytesPerStream` (per side, with that side's out-of-order
 *   buffer) and `maxBufferedBytesTotal` (other buffers are relieved first, as for out-of-order
 *   data): past either, everything held for the connection is handed in capture order and
 *   `tcp_reorder_overflow` is reported (once per connection).
 */
export class DirectionOrder {
  readonly #conn: Connection;
  readonly #ctx: ReassemblyContext;
  /** Stream offset up to which each side's items were handed to the handler. */
  #clientHanded = 0;
  #serverHanded = 0;
  #client: HeldQueue | null = null;
  #server: HeldQueue | null = null;
  #overflowReported = false;

  constructor(conn: Connection, ctx: ReassemblyContext) {
    this.#conn = conn;
    this.#ctx = ctx;
  }

  /** Bytes held for both sides. */
  get bufferedBytes(): number {
    return (this.#client === null ? 0 : this.#client.bytes) + (this.#server === null ? 0 : this.#server.bytes);
  }

  /** Bytes held for one side. */
  heldBytes(side: Side): number {
    const q = side === 'client' ? this.#client : this.#server;
    return q === null ? 0 : q.bytes;
  }

  /** Data from `side` (borrowed), ending at that side's stream offset `end`, sent after the peer's offset `need` (-1: unknown). */
  data(side: Side, bytes: Uint8Array, at: At, need: number, end: number): void {
    if (side === 'client') {
      if (this.#client === null && (need < 0 || need <= this.#serverHanded)) {
        this.#clientHanded = end;
        this.#handData(side, bytes, at);
        return;
      }
    } else if (this.#server === null && (need < 0 || need <= this.#clientHanded)) {
      this.#serverHanded = end;
      this.#handData(side, bytes, at);
      return;
    }
    this.#hold(side, { kind: DATA, bytes: bytes.slice(), len: bytes.length, at, need, end });
  }

  /** `len` bytes of `side` are missing, up to its offset `end`. */
  gap(side: Side, len: number, at: At, end: number): void {
    if ((side === 'client' ? this.#client : this.#server) === null) {
      this.#setHanded(side, end);
      const h = this.#conn.handler;
      h.onGap(side, len, at);
      this.#after();
      return;
    }
    this.#hold(side, { kind: GAP, bytes: null, len, at, need: -1, end });
  }

  /** `side` sent FIN (after everything it handed before). */
  end(side: Side, at: At): void {
    if ((side === 'client' ? this.#client : this.#server) === null) {
      this.#setHanded(side, Infinity);
      const h = this.#conn.handler;
      if (h.onSideEnd !== undefined) h.onSideEnd(side, 'fin', at);
      this.#after();
      return;
    }
    this.#hold(side, { kind: END, bytes: null, len: 0, at, need: -1, end: Infinity });
  }

  /** The connection ends: hands everything held, in the order the ACKs allow, then the rest in capture order. */
  flush(): void {
    this.#pump();
    while (!this.#conn.ignored) {
      const c = this.#client;
      const s = this.#server;
      if (c === null && s === null) return;
      if (c !== null && s !== null) this.#handHead((c.peek() as Held).at.frame >= (s.peek() as Held).at.frame ? 'client' : 'server');
      else this.#handHead(c !== null ? 'client' : 'server');
      this.#pump();
    }
  }

  /** Total-buffer relief (ReassemblyContext.relieveTotal): hands everything held now. */
  flushBuffered(): void {
    this.#overflow(this.#firstHeldAt());
  }

  /** Drops what is held (the connection is ignored or over). */
  release(): void {
    const ctx = this.#ctx;
    ctx.bufferedTotal -= this.bufferedBytes;
    this.#client = null;
    this.#server = null;
    ctx.buffering.delete(this);
  }

  #setHanded(side: Side, end: number): void {
    if (side === 'client') this.#clientHanded = end;
    else this.#serverHanded = end;
  }

  #handData(side: Side, bytes: Uint8Array, at: At): void {
    const h = this.#conn.handler;
    h.onData(side, bytes, at);
    this.#after();
  }

  /** After a handler call: it may have asked to be ignored; the peer's held items may be due. */
  #after(): void {
    if (this.#conn.handler.ignored === true) {
      this.#conn.markIgnored();
      return;
    }
    if (this.#client !== null || this.#server !== null) this.#pump();
  }

  #hold(side: Side, item: Held): void {
    const ctx = this.#ctx;
    const n = item.bytes === null ? 0 : item.bytes.length;
    if (n > 0) {
      const lim = ctx.limits;
      const half = side === 'client' ? this.#conn.client : this.#conn.server;
      if (ctx.bufferedTotal + n > lim.maxBufferedBytesTotal) {
        // Other connections' buffers first, as for out-of-order data (this one's may be among them).
        // If that handed the peer's bytes this item waits for, the #pump below hands it at once.
        ctx.relieveTotal(this, n);
        if (this.#conn.ignored) return;
      }
      if (this.heldBytes(side) + half.bufferedBytes + n > lim.maxBufferedBytesPerStream || ctx.bufferedTotal + n > lim.maxBufferedBytesTotal) {
        this.#overflow(item.at);
        if (this.#conn.ignored) return;
        // Nothing is held any more: this item goes through in capture order.
        this.#setHanded(side, item.end);
        this.#handData(side, item.bytes as Uint8Array, item.at);
        return;
      }
    }
    let q = side === 'client' ? this.#client : this.#server;
    if (q === null) {
      q = new HeldQueue();
      if (side === 'client') this.#client = q;
      else this.#server = q;
    }
    q.items.push(item);
    q.bytes += n;
    ctx.bufferedTotal += n;
    ctx.buffering.add(this);
    this.#pump();
  }

  /** Hands what is due; when both sides wait for each other, the later-captured item goes first. */
  #pump(): void {
    while (!this.#conn.ignored) {
      const c = this.#client === null ? undefined : this.#client.peek();
      const s = this.#server === null ? undefined : this.#server.peek();
      if (c !== undefined && (c.need < 0 || c.need <= this.#serverHanded)) this.#handHead('client');
      else if (s !== undefined && (s.need < 0 || s.need <= this.#clientHanded)) this.#handHead('server');
      else if (c !== undefined && s !== undefined) this.#handHead(c.at.frame >= s.at.frame ? 'client' : 'server');
      else return;
    }
  }

  #handHead(side: Side): void {
    const client = side === 'client';
    const q = (client ? this.#client : this.#server) as HeldQueue;
    const item = q.shift();
    if (q.empty) {
      if (client) this.#client = null;
      else this.#server = null;
      if (this.#client === null && this.#server === null) this.#ctx.buffering.delete(this);
    }
    if (item.bytes !== null) this.#ctx.bufferedTotal -= item.bytes.length;
    this.#setHanded(side, item.end);
    const h = this.#conn.handler;
    if (item.kind === DATA) h.onData(side, item.bytes as Uint8Array, item.at);
    else if (item.kind === GAP) h.onGap(side, item.len, item.at);
    else if (h.onSideEnd !== undefined) h.onSideEnd(side, 'fin', item.at);
    if (h.ignored === true) this.#conn.markIgnored();
  }

  #firstHeldAt(): At {
    const c = this.#client === null ? undefined : this.#client.peek();
    const s = this.#server === null ? undefined : this.#server.peek();
    if (c === undefined) return (s as Held).at;
    if (s === undefined) return c.at;
    return c.at.frame <= s.at.frame ? c.at : s.at;
  }

  /** A limit was reached: everything held is handed now, in capture order. */
  #overflow(at: At): void {
    if (!this.#overflowReported) {
      this.#overflowReported = true;
      this.#ctx.anomaly(
        'tcp_reorder_overflow',
        this.#conn.info.id,
        at,
        `${this.bufferedBytes} byte(s) held for the order of the two directions reached a buffer limit; handed in capture order`,
      );
    }
    while (!this.#conn.ignored) {
      const c = this.#client === null ? undefined : this.#client.peek();
      const s = this.#server === null ? undefined : this.#server.peek();
      if (c === undefined && s === undefined) return;
      this.#handHead(s === undefined || (c !== undefined && c.at.frame <= s.at.frame) ? 'client' : 'server');
    }
  }
}
