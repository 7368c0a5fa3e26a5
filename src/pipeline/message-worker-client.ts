import { Worker, type ResourceLimits } from 'node:worker_threads';
import type { ChunkHasher } from '../capture/capture-source.js';
import type { MessageExcerpt } from '../core/types.js';
import type { MessageBuildResult } from '../message/message-builder-types.js';
import type { FromMessageWorker, MessageWorkerInit, ToMessageWorker } from './message-worker-protocol.js';
import { MESSAGE_WORKER_RESOURCE_LIMITS, OP, OP_WORDS, PRESTARTED_MESSAGE_WORKER, type PrestartedWorker } from './message-worker-protocol.js';

/** Size of one arena (bytes). Arenas are reused: after warm-up no memory is freshly faulted. */
const ARENA_BYTES = 1024 * 1024;
/** Ops on the tape before it grows (it grows by doubling, and is reused). */
const TAPE_INITIAL_OPS = 4096;

/** Options of a {@link MessageWorkerClient}. */
export interface MessageWorkerClientOptions extends MessageWorkerInit {
  /** Bytes of arenas sent and not yet acknowledged above which {@link MessageWorkerClient.overloaded} is true. */
  maxBacklogBytes: number;
}

/**
 * The pipeline side of the message worker (message-worker.ts). Synchronous calls queue ops
 * (message bytes copied into reused arenas); flush() posts them once per capture batch. Results
 * come back asynchronously and are handed to the `onResult` callbacks in the order the callbacks
 * were registered (close() order), so records stay deterministic.
 */
export class MessageWorkerClient {
  readonly #worker: Worker;
  readonly #maxBacklog: number;
  /** Free arenas (reused). */
  readonly #free: ArrayBuffer[] = [];
  #arenas: ArrayBuffer[] = [];
  #cur: Uint8Array | null = null;
  #curOff = 0;
  #tape = new Float64Array(TAPE_INITIAL_OPS * OP_WORDS);
  #tapeLen = 0;
  #opens: (string | null)[] = [];
  #nextSlot = 1;
  #backlog = 0;
  readonly #results = new Map<number, MessageBuildResult>();
  /** Registered consumers, in order: [slot, callback]. */
  readonly #waiting: { slot: number; cb: (r: MessageBuildResult) => void }[] = [];
  #waitingHead = 0;
  #wakers: (() => void)[] = [];
  #done: (() => void) | null = null;
  #error: Error | null = null;
  #errorIsOutput = false;
  #terminated = false;
  /** Why the worker can no longer answer (it failed or exited, or was stopped), or null. */
  #gone: Error | null = null;
  /** The capture hashing done on the worker (see chunkHasher()). */
  #hashReturn: ((buf: ArrayBuffer) => void) | null = null;
  #hashWaiters: (() => void)[] = [];
  #digest: { resolve: (hex: string) => void; reject: (e: Error) => void } | null = null;

  constructor(opts: MessageWorkerClientOptions) {
    this.#maxBacklog = opts.maxBacklogBytes;
    const init: MessageWorkerInit = {
      attachmentsDir: opts.attachmentsDir,
      limits: opts.limits,
      maxPendingWriteBytes: opts.maxPendingWriteBytes,
    };
    const g = globalThis as { [PRESTARTED_MESSAGE_WORKER]?: PrestartedWorker };
    const prestarted = g[PRESTARTED_MESSAGE_WORKER];
    delete g[PRESTARTED_MESSAGE_WORKER];
    if (prestarted && !prestarted.exited) {
      // Started by the command while it loaded (so its start-up overlapped ours): adopt it once.
      this.#worker = prestarted;
      this.#worker.ref();
      this.#worker.postMessage({ t: 'init', init } satisfies ToMessageWorker);
    } else if (import.meta.url.endsWith('.ts')) {
      // Under tsx (tests run from src/): register its loader in the worker, then load the .ts entry.
      const entry = JSON.stringify(new URL('./message-worker.ts', import.meta.url).href);
      const boot = `import('tsx/esm/api').then((m) => { m.register(); return import(${entry}); })`;
      this.#worker = new Worker(boot, { eval: true, workerData: init, resourceLimits: { ...MESSAGE_WORKER_RESOURCE_LIMITS } });
    } else {
      this.#worker = new Worker(new URL('./message-worker.js', import.meta.url), { workerData: init, resourceLimits: { ...MESSAGE_WORKER_RESOURCE_LIMITS } });
    }
    this.#worker.on('message', (m: FromMessageWorker) => this.#onMessage(m));
    this.#worker.on('error', (e) => this.#fail(e));
    this.#worker.on('exit', () => this.#fail(new Error('message worker exited')));
  }

  /** The V8 resource limits the worker runs with (MESSAGE_WORKER_RESOURCE_LIMITS, as V8 applied them). */
  get workerResourceLimits(): ResourceLimits | undefined {
    return this.#worker.resourceLimits;
  }

  /** The first failure of the worker, or null. */
  get error(): Error | null {
    return this.#error;
  }

  /**
   * True when that failure is a file the worker could not write (the case folder is at fault);
   * false when the worker itself failed (could not start, crashed): an internal error.
   */
  get errorIsOutput(): boolean {
    return this.#errorIsOutput;
  }

  /** True while more than maxBacklogBytes of arenas wait for acknowledgement: await {@link relieved}. */
  get overloaded(): boolean {
    return this.#backlog > this.#maxBacklog;
  }

  /** Resolves once the backlog is at most a quarter of the bound (or the worker failed). */
  relieved(): Promise<void> {
    if (this.#backlog <= this.#maxBacklog / 4 || this.#error) return Promise.resolve();
    return new Promise((resolve) => this.#wakers.push(resolve));
  }

  /** Starts a message whose .eml goes to `emlPath` (null: none); returns its slot. */
  open(emlPath: string | null): number {
    const slot = this.#nextSlot++;
    this.#opens.push(emlPath);
    this.#op(OP.open, slot, this.#opens.length - 1, 0, 0);
    return slot;
  }

  /** Message bytes (borrowed: copied now). */
  write(slot: number, bytes: Uint8Array): void {
    this.#copy(OP.write, slot, bytes);
  }

  gap(slot: number, length: number): void {
    this.#op(OP.gap, slot, length, 0, 0);
  }

  end(slot: number, complete: boolean, excerpt?: MessageExcerpt): void {
    this.#op(OP.end, slot, complete ? 1 : 0, excerpt === 'head' ? 1 : excerpt === 'content' ? 2 : 0, 0);
  }

  /**
   * Calls `cb` with the result of `slot` (ended before, or to be ended) once it arrived and once
   * every callback registered earlier was called.
   */
  onResult(slot: number, cb: (r: MessageBuildResult) => void): void {
    this.#waiting.push({ slot, cb });
    this.#deliver();
  }

  /** Posts the ops queued since the last flush (one message). */
  flush(): void {
    if (this.#tapeLen === 0 || this.#terminated) return;
    const tape = this.#tape.slice(0, this.#tapeLen);
    const arenas = this.#arenas;
    this.#backlog += arenas.length * ARENA_BYTES;
    const m: ToMessageWorker = { t: 'batch', tape, opens: this.#opens, arenas };
    this.#worker.postMessage(m, [tape.buffer, ...arenas]);
    this.#tapeLen = 0;
    // postMessage has copied both lists: emptied and reused, they keep their elements kind (a
    // fresh [] would start as small integers and deoptimise the code that pushes to it).
    this.#opens.length = 0;
    this.#arenas.length = 0;
    this.#cur = null;
    this.#curOff = 0;
  }

  /**
   * Flushes, waits for every result and for the files to be written, and stops the worker.
   * Throws the worker's failure.
   */
  async finish(): Promise<void> {
    this.flush();
    if (this.#error) throw this.#error;
    const done = new Promise<void>((resolve) => (this.#done = resolve));
    this.#worker.postMessage({ t: 'end' } satisfies ToMessageWorker);
    await done;
    await this.terminate();
    if (this.#error) throw this.#error;
  }

  /** Stops the worker (idempotent). */
  async terminate(): Promise<void> {
    if (this.#terminated) return;
    this.#terminated = true;
    this.#gone ??= new Error('message worker stopped');
    this.#worker.removeAllListeners('exit');
    await this.#worker.terminate();
    this.#wake();
    this.#wakeHash();
    const dg = this.#digest;
    this.#digest = null;
    dg?.reject(this.#gone);
  }

  #op(kind: number, slot: number, a: number, b: number, c: number): void {
    let t = this.#tape;
    const i = this.#tapeLen;
    if (i + OP_WORDS > t.length) {
      const grown = new Float64Array(t.length * 2);
      grown.set(t);
      t = this.#tape = grown;
    }
    t[i] = kind;
    t[i + 1] = slot;
    t[i + 2] = a;
    t[i + 3] = b;
    t[i + 4] = c;
    this.#tapeLen = i + OP_WORDS;
  }

  #copy(kind: number, slot: number, bytes: Uint8Array): void {
    const n = bytes.length;
    let off = 0;
    while (off < n) {
      let cur = this.#cur;
      if (cur === null || this.#curOff === cur.length) {
        const ab = this.#free.pop() ?? new ArrayBuffer(ARENA_BYTES);
        this.#arenas.push(ab);
        cur = this.#cur = new Uint8Array(ab);
        this.#curOff = 0;
      }
      const take = Math.min(n - off, cur.length - this.#curOff);
      cur.set(off === 0 && take === n ? bytes : bytes.subarray(off, off + take), this.#curOff);
      const arena = this.#arenas.length - 1;
      // Consecutive bytes of the same message in the same arena: extend the previous op.
      const t = this.#tape;
      const p = this.#tapeLen - OP_WORDS;
      if (p >= 0 && t[p] === kind && t[p + 1] === slot && t[p + 2] === arena && t[p + 3]! + t[p + 4]! === this.#curOff) {
        t[p + 4] = t[p + 4]! + take;
      } else {
        this.#op(kind, slot, arena, this.#curOff, take);
      }
      this.#curOff += take;
      off += take;
    }
  }

  /**
   * The worker as the capture reader's hashing thread (instead of a hash worker of its own):
   * read buffers are transferred to it, hashed at once and sent back.
   */
  chunkHasher(): ChunkHasher {
    return {
      onReturn: (fn) => {
        this.#hashReturn = fn;
      },
      hash: (buf, off, n) => {
        // Once stopped, the buffer is dropped: returned() and digest() reject from then on.
        if (this.#terminated) return;
        this.#worker.postMessage({ t: 'hash', buf, off, n } satisfies ToMessageWorker, [buf]);
      },
      // A file the worker could not write (an output error, reported by the pipeline) does not
      // stop it hashing: only a worker that is gone fails the capture reader.
      returned: async () => {
        if (!this.#gone) await new Promise<void>((resolve) => this.#hashWaiters.push(resolve));
        if (this.#gone) throw this.#gone;
      },
      digest: () =>
        new Promise<string>((resolve, reject) => {
          if (this.#gone) return reject(this.#gone);
          this.#digest = { resolve, reject };
          this.#worker.postMessage({ t: 'hashEnd' } satisfies ToMessageWorker);
        }),
      close: async () => {
        this.#hashReturn = null;
        this.#wakeHash();
      },
    };
  }

  #wakeHash(): void {
    const ws = this.#hashWaiters;
    this.#hashWaiters = [];
    for (const w of ws) w();
  }

  #onMessage(m: FromMessageWorker): void {
    if (m.t === 'hashed') {
      this.#hashReturn?.(m.buf);
      this.#wakeHash();
      return;
    }
    if (m.t === 'digest') {
      const d = this.#digest;
      this.#digest = null;
      d?.resolve(m.hex);
      return;
    }
    if (m.error && !this.#error) {
      this.#error = new Error(m.error);
      this.#errorIsOutput = true;
    }
    if (m.t === 'ack') {
      this.#backlog -= m.arenas.length * ARENA_BYTES;
      // Keep enough arenas for the backlog bound plus a batch; the rest is garbage.
      for (const ab of m.arenas) {
        if ((this.#free.length + 1) * ARENA_BYTES <= this.#maxBacklog + 8 * ARENA_BYTES) this.#free.push(ab);
      }
      for (const [slot, r] of m.results) this.#results.set(slot, r);
      this.#deliver();
      if (this.#backlog <= this.#maxBacklog / 4) this.#wake();
    } else {
      const d = this.#done;
      this.#done = null;
      d?.();
    }
    if (this.#error) this.#wake();
  }

  #deliver(): void {
    const w = this.#waiting;
    while (this.#waitingHead < w.length) {
      const next = w[this.#waitingHead]!;
      const r = this.#results.get(next.slot);
      if (r === undefined) break;
      this.#results.delete(next.slot);
      w[this.#waitingHead++] = undefined as never;
      next.cb(r);
    }
    if (this.#waitingHead > 1024 && this.#waitingHead * 2 > w.length) {
      w.splice(0, this.#waitingHead);
      this.#waitingHead = 0;
    }
  }

  #wake(): void {
    const ws = this.#wakers;
    this.#wakers = [];
    for (const w of ws) w();
  }

  #fail(e: Error): void {
    this.#error ??= e;
    this.#gone ??= e;
    this.#wake();
    this.#wakeHash();
    const dg = this.#digest;
    this.#digest = null;
    dg?.reject(this.#gone);
    const d = this.#done;
    this.#done = null;
    d?.();
  }
}
