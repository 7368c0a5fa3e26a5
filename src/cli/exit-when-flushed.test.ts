import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const moduleFile = fileURLToPath(new URL('./exit-when-flushed.js', import.meta.url));

test('exitWhenFlushed: output queued for a slow pipe reader arrives whole, then the process exits with the code', async () => {
  // 4 MiB to stdout and 1 MiB to stderr, far more than a pipe holds: the writes are still
  // queued when exitWhenFlushed is called, and the reader only starts reading after 300 ms.
  const script = `
    import { exitWhenFlushed } from ${JSON.stringify(moduleFile)};
    process.stdout.write(Buffer.alloc(4 * 1024 * 1024, 0x61));
    process.stderr.write(Buffer.alloc(1024 * 1024, 0x62));
    exitWhenFlushed(3);
    setTimeout(() => process.stdout.write('too late'), 60000).unref();`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  const closed = new Promise<number | null>((r) => child.on('close', (c) => r(c)));
  child.stdout.pause();
  child.stderr.pause();
  await new Promise((r) => setTimeout(r, 300));
  let out = 0;
  let err = 0;
  let bad = 0;
  child.stdout.on('data', (d: Buffer) => {
    out += d.length;
    if (d.some((b) => b !== 0x61)) bad++;
  });
  child.stderr.on('data', (d: Buffer) => {
    err += d.length;
    if (d.some((b) => b !== 0x62)) bad++;
  });
  child.stdout.resume();
  child.stderr.resume();
  const code = await closed;
  assert.equal(code, 3);
  assert.equal(out, 4 * 1024 * 1024);
  assert.equal(err, 1024 * 1024);
  assert.equal(bad, 0);
});
