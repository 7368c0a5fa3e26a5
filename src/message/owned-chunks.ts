/** First block of an {@link OwnedChunks} (bytes): small messages and parts stay small. */
const FIRST_BLOCK = 16 * 1024;
/** Every later block (bytes); these are recycled through a pool. */
const BLOCK = 256 * 1024;
/** Default bytes of free blocks kept for reuse (see recycleOwnedChunks, setOwnedChunksPoolBytes). */
const POOL_MAX_BYTES = 16 * 1024 * 1024;
let poolMaxBytes = POOL_MAX_BYTES;

/**
 * Sets how many bytes of free blocks this thread keeps for reuse (default 16 MiB). A thread whose
 * blocks wait in a file-write queue sizes it to that queue's bound, so blocks are recycled, not
 * freshly faulted. Blocks beyond a lowered bound are dropped.
 */
export function setOwnedChunksPoolBytes(bytes: number): void {
  poolMaxBytes = Math.max(0, bytes);
  while (pooledBytes > poolMaxBytes && pool.length > 0) {
    pool.pop();
    pooledBytes -= BLOCK;
  }
  while (pooledBytes > poolMaxBytes && smallPool.length > 0) {
    smallPool.pop();
    pooledBytes -= FIRST_BLOCK;
  }
}

/**
 * Free blocks by size (FIRST_BLOCK, BLOCK). Fresh memory costs a page fault per 4 KiB on first
 * touch (10-20 µs each on the benchmark VM, far more than the copy); reused blocks are mapped.
 */
const smallPool: Buffer[] = [];
const pool: Buffer[] = [];
let pooledBytes = 0;
/**
 * The ArrayBuffers of blocks this module handed out and not yet got back: only those are taken
 * into the pool, once (a second recycle of the same block is ignored).
 */
const lent = new WeakSet<ArrayBufferLike>();

function newBlock(size: typeof FIRST_BLOCK | typeof BLOCK): Buffer {
  const free = size === BLOCK ? pool : smallPool;
  let b = free.pop();
  if (b) pooledBytes -= size;
  else b = Buffer.allocUnsafeSlow(size);
  lent.add(b.buffer);
  return b;
}

/**
 * Gives blocks handed out by {@link OwnedChunks.take} back for reuse once nobody reads them any
 * more (after they are written). Chunks that are not whole-buffer views of this module's blocks
 * are ignored; at most the pool bound (setOwnedChunksPoolBytes) is kept. The caller must not touch the chunks afterwards.
 */
export function recycleOwnedChunks(chunks: readonly Uint8Array[]): void {
  for (const c of chunks) {
    const ab = c.buffer;
    const size = ab.byteLength;
    if (c.byteOffset !== 0 || (size !== BLOCK && size !== FIRST_BLOCK) || !lent.has(ab)) continue;
    lent.delete(ab);
    if (pooledBytes + size > poolMaxBytes) continue;
    pooledBytes += size;
    (size === BLOCK ? pool : smallPool).push(Buffer.from(ab, 0, size));
  }
}

/**
 * Bytes copied out of borrowed chunks into owned blocks (one of 16 KiB, then 256 KiB ones, reused
 * through a pool), so they can be handed to another owner (a file-write queue) without re-copying or
 * growing one doubled buffer. Memory held is `length` rounded up to a block, plus the first block.
 */
export class OwnedChunks {
  private blocks: Buffer[] = [];
  private cur: Buffer | null = null;
  private curLen = 0;
  private len = 0;

  /** Bytes held. */
  get length(): number {
    return this.len;
  }

  /** Copies `bytes` (borrowed) in. */
  append(bytes: Uint8Array): void {
    const n = bytes.length;
    const cur = this.cur;
    // Hot path (one call per segment or line): no view is created.
    if (cur !== null && cur.length - this.curLen >= n) {
      cur.set(bytes, this.curLen);
      this.curLen += n;
      this.len += n;
      return;
    }
    this.appendSlow(bytes);
  }

  private appendSlow(bytes: Uint8Array): void {
    const n = bytes.length;
    let off = 0;
    while (off < n) {
      let cur = this.cur;
      if (cur === null || this.curLen === cur.length) {
        if (cur !== null) this.blocks.push(cur);
        cur = this.cur = newBlock(cur === null ? FIRST_BLOCK : BLOCK);
        this.curLen = 0;
      }
      const take = Math.min(n - off, cur.length - this.curLen);
      cur.set(off === 0 && take === n ? bytes : bytes.subarray(off, off + take), this.curLen);
      this.curLen += take;
      off += take;
    }
    this.len += n;
  }

  /**
   * Hands the bytes over (in order; owned by the caller from now on, who may give them back with
   * recycleOwnedChunks once done) and empties this list.
   */
  take(): Uint8Array[] {
    const out: Uint8Array[] = this.blocks;
    if (this.cur !== null) {
      if (this.curLen > 0) out.push(this.cur.length === this.curLen ? this.cur : this.cur.subarray(0, this.curLen));
      else recycleOwnedChunks([this.cur]);
    }
    this.blocks = [];
    this.cur = null;
    this.curLen = 0;
    this.len = 0;
    return out;
  }
}
