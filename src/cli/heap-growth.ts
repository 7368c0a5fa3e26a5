import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';

/**
 * Old-generation headroom the CLI lets V8 keep between major GCs (see {@link startHeapGrowthPolicy}).
 * 24 MiB: 1 GiB bench, 4 major GCs on the main thread instead of 15; 4 GiB bench, peak RSS
 * 251 MiB (docs/performance.md).
 */
export const HEAP_HEADROOM_BYTES = 24 * 1024 * 1024;
const MIN_PERCENT = 15;
const MAX_PERCENT = 400;

/**
 * The heap growing percent that leaves about `headroom` bytes above `oldSpaceUsed` before the next
 * major GC: 15 % (V8's step for large heaps) at least, 400 % at most.
 */
export function heapGrowingPercent(oldSpaceUsed: number, headroom = HEAP_HEADROOM_BYTES): number {
  const p = Math.round((100 * headroom) / Math.max(oldSpaceUsed, 1));
  return Math.max(MIN_PERCENT, Math.min(MAX_PERCENT, p));
}

/**
 * Keeps V8's heap growth at a fixed headroom instead of a fixed factor. V8's own factor (up to 4x
 * under a high allocation rate) let peak RSS drift up with the capture size; a fixed 15 % keeps it
 * bounded but makes V8 mark the heap almost without pause (it starts marking whenever less than a
 * young generation's worth of space is left, and 15 % of a ~20 MiB heap is less than that),
 * which cost ~0.5 s of CPU per GiB. The percent is recomputed from the old space's size every
 * `intervalMs` (the timer never keeps the process alive). Applies to this process and its worker
 * threads. Returns a function that stops the updates.
 */
export function startHeapGrowthPolicy(intervalMs = 50): () => void {
  let current = -1;
  const update = (): void => {
    let used = 0;
    for (const s of getHeapSpaceStatistics()) if (s.space_name === 'old_space') used = s.space_used_size;
    const p = heapGrowingPercent(used);
    if (p !== current) {
      current = p;
      setFlagsFromString(`--heap-growing-percent=${p}`);
    }
  };
  update();
  const timer = setInterval(update, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
