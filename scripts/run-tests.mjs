#!/usr/bin/env node
// Runs every compiled test file (dist/**/*.test.js) with node:test, one file at a time
// (2-core machines; some suites are memory-heavy), and lists the suites that were skipped
// (for example the corpus suites when ../shared is not beside the clone).
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

function collect(dir, out) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) collect(p, out);
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}
const filter = process.argv.slice(2);
let files = collect('dist', []).sort();
if (filter.length) files = files.filter((f) => filter.some((x) => f.includes(x)));
const setup = pathToFileURL(resolve('test/helpers/fc-setup.mjs')).href;
const res = spawnSync(process.execPath, [`--import=${setup}`, '--test', '--test-concurrency=1', '--test-reporter=spec', ...files], {
  stdio: ['ignore', 'pipe', 'inherit'],
  encoding: 'utf8',
  maxBuffer: 1 << 30,
});
const out = res.stdout ?? '';
process.stdout.write(out);
// The spec reporter marks a skipped test with "﹣ name (time) # reason".
const skipped = out.split('\n').filter((l) => /^\s*﹣ /.test(l) || /# SKIP/.test(l));
if (skipped.length) {
  const reasons = new Map();
  for (const l of skipped) {
    const reason = (/ # (.*)$/.exec(l)?.[1] ?? 'skipped').trim();
    reasons.set(reason, [...(reasons.get(reason) ?? []), l.trim().replace(/^﹣ /, '').replace(/ \([\d.]+ms\).*$/, '')]);
  }
  console.log(`\nSkipped: ${skipped.length} tests`);
  for (const [reason, names] of reasons) {
    console.log(`  ${names.length} because ${reason}:`);
    for (const n of names.slice(0, 100)) console.log(`    - ${n}`);
  }
}
process.exit(res.status ?? 1);
