import { availableParallelism } from 'node:os';
import { setFlagsFromString } from 'node:v8';

/**
 * Machines with at most this many cores scavenge (collect the young generation) on the
 * collecting thread alone.
 */
export const SERIAL_SCAVENGE_MAX_CORES = 2;

/** Whether a machine with `cores` cores should scavenge serially (see {@link applyScavengePolicy}). */
export function serialScavengeWanted(cores: number): boolean {
  return cores <= SERIAL_SCAVENGE_MAX_CORES;
}

/**
 * On a machine with at most two cores, makes V8 scavenge on the collecting thread alone. V8 splits
 * each scavenge into up to (its worker threads + 1) parallel tasks, 5 with Node's default pool of
 * 4, and the collecting thread waits for all of them. The analysis already keeps two cores busy
 * (the pipeline and the message worker), so the helper tasks wait for a core and each scavenge
 * pauses its thread for longer. Measured on the 1 GiB bench file (docs/performance.md): about
 * 600 fewer involuntary context switches, wall time -0.04 s (median of 12 paired runs, 10 won).
 *
 * V8 reads this flag at each scavenge (`ScavengerCollector::NumberOfScavengeTasks`), so it is
 * safe to set while running; it applies to this process and its worker threads. Call it before
 * the analysis starts. Returns whether the flag was set.
 */
export function applyScavengePolicy(cores: number = availableParallelism()): boolean {
  if (!serialScavengeWanted(cores)) return false;
  setFlagsFromString('--no-parallel-scavenge');
  return true;
}
