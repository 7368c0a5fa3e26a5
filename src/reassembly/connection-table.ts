import type { TcpPacket } from '../core/types.js';
import type { Connection } from './connection.js';

/**
 * Numeric key of a packet's connection from the decoder's address ids (same value for both
 * directions), or -1 when the packet has none. 30 bits, so a small integer that V8 hashes and
 * stores without boxing; collisions are possible and verified (a connection that loses one
 * takes the string-key path).
 */
export function fastKey(p: TcpPacket): number {
  const s = p.srcId;
  const d = p.dstId;
  if (s === undefined || d === undefined) return -1;
  return fastKeyOf(s, p.srcPort, d, p.dstPort);
}

/** {@link fastKey} from the ids and ports themselves. */
export function fastKeyOf(s: number, sp: number, d: number, dp: number): number {
  let a = s, b = d, pa = sp, pb = dp;
  if (s > d || (s === d && pa > pb)) {
    a = d;
    b = s;
    pa = dp;
    pb = sp;
  }
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b ^ ((pa << 16) | pb), 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
  return (h ^ (h >>> 13)) & 0x3fffffff;
}

/** True when the packet belongs to the connection's endpoints (either direction). */
function sameEndpoints(c: Connection, p: TcpPacket): boolean {
  return p.srcPort === c.clientPort
    ? p.dstPort === c.serverPort && p.src === c.clientIp && p.dst === c.serverIp
    : p.srcPort === c.serverPort && p.dstPort === c.clientPort && p.src === c.serverIp && p.dst === c.clientIp;
}

/**
 * Map key of a connection: both endpoints in canonical order (lower address, then lower port,
 * first), so both directions find the same entry. Works for IPv4 and IPv6 text forms ('|' never
 * occurs in either).
 */
export function connectionKey(src: string, srcPort: number, dst: string, dstPort: number): string {
  return src < dst || (src === dst && srcPort <= dstPort)
    ? `${src}|${srcPort}|${dst}|${dstPort}`
    : `${dst}|${dstPort}|${src}|${srcPort}`;
}

interface List {
  head: Connection | null;
  tail: Connection | null;
  size: number;
}

/**
 * Key → connection, plus two recency lists (open connections; closed ones kept for
 * TIME_WAIT), oldest first. Touching a connection moves it to the tail in O(1) without
 * allocating; idle expiry and eviction read from the head.
 */
export class ConnectionTable {
  readonly #map = new Map<string, Connection>();
  /** Fast path: numeric key → connection (verified against the packet's endpoints). */
  readonly #fast = new Map<number, Connection>();
  readonly #open: List = { head: null, tail: null, size: 0 };
  readonly #closed: List = { head: null, tail: null, size: 0 };

  /** Entries, open and closed. */
  get size(): number {
    return this.#map.size;
  }

  /** Open (not yet closed) connections. */
  get openCount(): number {
    return this.#open.size;
  }

  get(key: string): Connection | undefined {
    return this.#map.get(key);
  }

  /** The packet's connection through the numeric key, without building the string key; undefined when unsure. */
  lookupFast(p: TcpPacket, k: number): Connection | undefined {
    if (k < 0) return undefined;
    const c = this.#fast.get(k);
    return c !== undefined && sameEndpoints(c, p) ? c : undefined;
  }

  /** The connection registered under a numeric key (unverified: the caller checks the endpoints). */
  fastGet(k: number): Connection | undefined {
    return this.#fast.get(k);
  }

  /** Registers a connection under its numeric key (the first one wins a collision). */
  bindFast(conn: Connection, k: number): void {
    if (k < 0 || conn.fastKey === k) return;
    if (!this.#fast.has(k)) {
      this.#fast.set(k, conn);
      conn.fastKey = k;
    }
  }

  /** Adds an open connection (replacing nothing: remove the old entry first). */
  add(conn: Connection): void {
    this.#map.set(conn.key, conn);
    append(this.#open, conn);
  }

  /** Marks activity: moves the connection to the tail of its list. */
  touch(conn: Connection): void {
    const list = conn.closed ? this.#closed : this.#open;
    if (list.tail === conn) return;
    unlink(list, conn);
    append(list, conn);
  }

  /** Moves a connection that was just closed to the closed (TIME_WAIT) list. `conn.closed` must be false. */
  moveToClosed(conn: Connection): void {
    unlink(this.#open, conn);
    conn.closed = true;
    append(this.#closed, conn);
  }

  /** Forgets a connection. */
  remove(conn: Connection): void {
    if (this.#map.get(conn.key) === conn) this.#map.delete(conn.key);
    if (conn.fastKey >= 0 && this.#fast.get(conn.fastKey) === conn) this.#fast.delete(conn.fastKey);
    unlink(conn.closed ? this.#closed : this.#open, conn);
  }

  /** Least recently active open connection. */
  oldestOpen(): Connection | null {
    return this.#open.head;
  }

  /** Least recently active closed connection. */
  oldestClosed(): Connection | null {
    return this.#closed.head;
  }

  /** Open connections, least recently active first (a snapshot array). */
  openConnections(): Connection[] {
    const out: Connection[] = [];
    for (let c = this.#open.head; c !== null; c = c.next) out.push(c);
    return out;
  }

  clear(): void {
    this.#map.clear();
    for (const list of [this.#open, this.#closed]) {
      for (let c = list.head; c !== null; ) {
        const n = c.next;
        c.prev = c.next = null;
        c = n;
      }
      list.head = list.tail = null;
      list.size = 0;
    }
  }
}

function append(list: List, c: Connection): void {
  c.prev = list.tail;
  c.next = null;
  if (list.tail === null) list.head = c;
  else list.tail.next = c;
  list.tail = c;
  list.size++;
}

function unlink(list: List, c: Connection): void {
  if (c.prev === null && list.head !== c) return; // not in this list
  if (c.prev !== null) c.prev.next = c.next;
  else list.head = c.next;
  if (c.next !== null) c.next.prev = c.prev;
  else list.tail = c.prev;
  c.prev = c.next = null;
  list.size--;
}
