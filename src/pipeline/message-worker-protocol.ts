import type { ResourceLimits, Worker } from 'node:worker_threads';
import type { MessageBuildResult } from '../message/message-builder-types.js';

/**
 * Messages between the pipeline (PipelineMessageSink, via MessageWorkerClient) and the message
 * worker (message-worker.ts). Bytes travel in arenas (ArrayBuffers transferred both ways and
 * reused); the ops of one capture batch are one Float64Array "tape" of OP_WORDS-number ops.
 */

/** Numbers per op on the tape: [kind, slot, a, b, c]. */
export const OP_WORDS = 5;

/** Op kinds. */
export const OP = {
  /** [OPEN, slot, openIndex]: a new MessageBuilder; its .eml path is `opens[openIndex]`. */
  open: 0,
  /** [WRITE, slot, arena, offset, length]: message bytes (arena = index in the batch's arenas). */
  write: 1,
  /** [GAP, slot, length]: bytes missing. */
  gap: 2,
  /** [END, slot, complete(0/1), excerpt(0 none, 1 head, 2 content)]: end of bytes; the result is posted back. */
  end: 3,
} as const;

/** Worker start-up data (workerData). */
export interface MessageWorkerInit {
  attachmentsDir: string | null;
  limits: {
    maxMessageBytes: number;
    maxInMemoryMessageBytes: number;
    maxMimeDepth: number;
    maxMimeParts: number;
    maxHeaderBytes: number;
  };
  /** FileWriteQueue bound (bytes); the worker holds its ack while more than half of it is pending. */
  maxPendingWriteBytes: number;
}

/**
 * Main -> worker (a worker started without workerData first gets { t: 'init', init }).
 * The worker also hashes the capture file's read buffers for the capture reader (ChunkHasher):
 * `hash` hands one over (transferred; hashed as soon as it arrives, not queued behind batches,
 * and sent back as `hashed`), `hashEnd` asks for the `digest` of them all.
 */
export type ToMessageWorker =
  | { t: 'init'; init: MessageWorkerInit }
  | { t: 'batch'; tape: Float64Array; opens: (string | null)[]; arenas: ArrayBuffer[] }
  | { t: 'end' }
  | { t: 'hash'; buf: ArrayBuffer; off: number; n: number }
  | { t: 'hashEnd' };

/**
 * Where a command that knows early it will run an analysis leaves a message worker it started
 * (without workerData) while the rest of its code loads; MessageWorkerClient adopts it once.
 */
export const PRESTARTED_MESSAGE_WORKER = Symbol.for('mailsleuth.prestartedMessageWorker');

/**
 * V8 limits of the message worker, however it is started. A young generation of 8 MB instead of
 * V8's default (48 MB with 16 MB semi-spaces): the worker's garbage is short-lived (strings of
 * base64 runs, batch records), and a smaller young generation touches less fresh memory, which
 * costs ~12 µs per 4 KiB page on the benchmark VM. 1 GiB bench file, paired runs: ~1,900 fewer
 * page faults, ~0.1 s less CPU; 4 MB was no better (docs/performance.md).
 */
export const MESSAGE_WORKER_RESOURCE_LIMITS: Readonly<ResourceLimits> = Object.freeze({ maxYoungGenerationSizeMb: 8 });

/** A prestarted worker, marked once it exited (then it is not adopted). */
export type PrestartedWorker = Worker & { exited?: boolean };

/** Worker -> main. */
export type FromMessageWorker =
  | {
      t: 'ack';
      /** The batch's arenas, back for reuse. */
      arenas: ArrayBuffer[];
      /** [slot, result] of every message ended in the batch. */
      results: [number, MessageBuildResult][];
      /** First failure (write error, builder error), or null. */
      error: string | null;
    }
  | { t: 'done'; error: string | null }
  | { t: 'hashed'; buf: ArrayBuffer }
  | { t: 'digest'; hex: string };
