import type { Connection } from './connection.js';

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
