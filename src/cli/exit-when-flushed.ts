/**
 * Exits with `code` as soon as stdout and stderr have written everything queued (writes to a
 * pipe are asynchronous on POSIX, so exiting at once could cut the output short). The command
 * calls it once its work is done: the case folder is complete by then, and Node's own teardown
 * (stopping the message worker's isolate, freeing both heaps) is skipped: 17 ms instead of 25 ms
 * from the exit event to the end of the process on the benchmark VM, -10 to -25 ms of wall time
 * on the 64 MiB head of the bench file (paired runs, docs/performance.md).
 */
export function exitWhenFlushed(code: number): void {
  process.exitCode = code;
  let pending = 2;
  const done = (): void => {
    if (--pending === 0) process.exit(code);
  };
  process.stdout.write('', done);
  process.stderr.write('', done);
}
