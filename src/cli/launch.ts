#!/usr/bin/env node
/**
 * Entry point of the bundled `mailsleuth` command (dist/mailsleuth.mjs). For `analyze`, it starts
 * the message worker before the rest of the command is evaluated, so the worker's start-up
 * (a Node thread and its own bundle, ~0.1 s of CPU) overlaps the command's instead of competing
 * with the analysis later (docs/performance.md). The worker is adopted by MessageWorkerClient,
 * which sends it its settings; if the command does not get that far (usage error, unreadable
 * capture) the unreferenced worker never keeps the process alive.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { MESSAGE_WORKER_RESOURCE_LIMITS, PRESTARTED_MESSAGE_WORKER, type PrestartedWorker } from '../pipeline/message-worker-protocol.js';
import { applyScavengePolicy } from './scavenge-policy.js';

function prestartMessageWorker(args: readonly string[]): void {
  if (args[0] !== 'analyze' || args.includes('--no-message-worker') || args.includes('-h') || args.includes('--help')) return;
  // Only where the bundled worker lies beside this file (the shipped command), not from dist/src.
  const url = new URL('./message-worker.js', import.meta.url);
  if (!existsSync(fileURLToPath(url))) return;
  try {
    const w = new Worker(url, { resourceLimits: { ...MESSAGE_WORKER_RESOURCE_LIMITS } }) as PrestartedWorker;
    w.on('error', () => undefined); // the client sees a dead worker (exited) and starts its own
    w.once('exit', () => {
      w.exited = true;
    });
    w.unref();
    (globalThis as { [PRESTARTED_MESSAGE_WORKER]?: PrestartedWorker })[PRESTARTED_MESSAGE_WORKER] = w;
  } catch {
    // No worker threads here: the client starts (or does without) its own.
  }
}

// Before the first scavenge of either thread (scavenge-policy.ts).
applyScavengePolicy();
prestartMessageWorker(process.argv.slice(2));
await import('./main.js');
