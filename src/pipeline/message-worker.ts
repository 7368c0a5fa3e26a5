/**
 * The message worker (a worker_threads entry point, started by MessageWorkerClient): builds the
 * messages the pipeline streams to it (MIME split, transfer decoding, hashing), writes each .eml
 * straight from the arenas (synchronously, once per batch, before the arenas go back) and the
 * decoded attachments synchronously too, as each message ends (its FileWriteQueue with no
 * pending bytes: blocks go back to the pool at once).
 * Ops are processed strictly in order; each batch is acknowledged (arenas back, results of the
 * messages ended in it) once processed.
 */
import { createHash, type Hash } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import { MessageBuilder } from '../message/message-builder.js';
import type { MessageBuildResult } from '../message/message-builder-types.js';
import { recycleOwnedChunks, setOwnedChunksPoolBytes } from '../message/owned-chunks.js';
import { FileWriteQueue } from '../output/file-write-queue.js';
import type { FromMessageWorker, MessageWorkerInit, ToMessageWorker } from './message-worker-protocol.js';
import { OP, OP_WORDS } from './message-worker-protocol.js';

const port = parentPort!;
// Started with its init data, or (prestarted while the command loads) without: then the first
// message is { t: 'init' } and everything before it waits.
let init = workerData as MessageWorkerInit | null;
let queue: FileWriteQueue = null as unknown as FileWriteQueue;
const builders = new Map<number, MessageBuilder>();
let failure: string | null = null;

function setup(data: MessageWorkerInit): void {
  init = data;
  // Attachments are written at once, synchronously, and their blocks reused while still mapped:
  // queued writes (libuv's pool) kept up to 16 MiB of decoded attachments waiting, in blocks that
  // each had to be freshly faulted (~12 µs per 4 KiB page on the benchmark VM), and cost a thread
  // wake-up per file. Paired runs on the 1 GiB bench file: ~3,200 fewer page faults, ~0.19 s less
  // CPU, -0.15 s of wall time (docs/performance.md).
  setOwnedChunksPoolBytes(2 * data.maxPendingWriteBytes);
  queue = new FileWriteQueue({ maxPendingBytes: 0, recycle: recycleOwnedChunks });
}
if (init) setup(init);

const inbox: Extract<ToMessageWorker, { t: 'batch' | 'end' }>[] = [];
let running = false;
/** SHA-256 of the capture file's read buffers (see ToMessageWorker). */
let captureHash: Hash | null = null;

port.on('message', (m: ToMessageWorker) => {
  if (m.t === 'hash') {
    // At once, not behind queued batches: the capture reader waits for its buffers.
    (captureHash ??= createHash('sha256')).update(new Uint8Array(m.buf, m.off, m.n));
    port.postMessage({ t: 'hashed', buf: m.buf } satisfies FromMessageWorker, [m.buf]);
    return;
  }
  if (m.t === 'hashEnd') {
    const hex = (captureHash ?? createHash('sha256')).digest('hex');
    captureHash = null;
    port.postMessage({ t: 'digest', hex } satisfies FromMessageWorker);
    return;
  }
  if (m.t === 'init') {
    if (!init) setup(m.init);
  } else inbox.push(m);
  if (!running && init) void run();
});

async function run(): Promise<void> {
  running = true;
  try {
    for (let m = inbox.shift(); m !== undefined; m = inbox.shift()) {
      if (m.t === 'batch') {
        // Attachments are written inside processBatch (synchronously): nothing piles up to wait for.
        const results = processBatch(m.tape, m.opens, m.arenas);
        const out: FromMessageWorker = { t: 'ack', arenas: m.arenas, results, error: currentError() };
        port.postMessage(out, m.arenas);
        // Let messages that arrived meanwhile in (capture chunks to hash: the reader waits for them).
        if (inbox.length > 0) await new Promise<void>((resolve) => setImmediate(resolve));
      } else {
        await queue.drain();
        const out: FromMessageWorker = { t: 'done', error: currentError() };
        port.postMessage(out);
      }
    }
  } finally {
    running = false;
  }
}

function currentError(): string | null {
  return failure ?? (queue.error ? queue.error.message : null);
}

function processBatch(tape: Float64Array, opens: (string | null)[], arenas: ArrayBuffer[]): [number, MessageBuildResult][] {
  const results: [number, MessageBuildResult][] = [];
  const views = arenas.map((a) => new Uint8Array(a));
  for (let i = 0; i + OP_WORDS <= tape.length; i += OP_WORDS) {
    const kind = tape[i]!;
    const slot = tape[i + 1]!;
    try {
      if (kind === OP.open) {
        builders.set(
          slot,
          new MessageBuilder({
            emlPath: opens[tape[i + 2]!] ?? null,
            attachmentsDir: init!.attachmentsDir,
            writer: queue,
            emlBorrowedUntilFlush: true,
            limits: init!.limits,
          }),
        );
      } else {
        const b = builders.get(slot);
        if (!b) continue;
        if (kind === OP.write) b.write(views[tape[i + 2]!]!.subarray(tape[i + 3]!, tape[i + 3]! + tape[i + 4]!));
        else if (kind === OP.gap) b.gap(tape[i + 2]!);
        else if (kind === OP.end) {
          builders.delete(slot);
          const ex = tape[i + 3]!;
          results.push([slot, b.end(tape[i + 2]! === 1, ex === 1 ? 'head' : ex === 2 ? 'content' : undefined)]);
        }
      }
    } catch (e) {
      // Only output failures throw (hostile input never does): the run cannot finish its case.
      failure ??= e instanceof Error ? e.message : String(e);
      builders.delete(slot);
    }
  }
  // The arenas go back with the ack: write what the open messages borrowed from them.
  for (const [slot, b] of builders) {
    try {
      b.flush();
    } catch (e) {
      failure ??= e instanceof Error ? e.message : String(e);
      builders.delete(slot);
    }
  }
  return results;
}
