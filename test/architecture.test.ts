// The layout shows the pipeline, and imports only go one way along it (README "Layout").
import test from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';
import { repoRoot } from './helpers/paths.js';

const ORDER = ['core', 'capture', 'decode', 'reassembly', 'tls', 'protocols', 'message', 'output', 'pipeline', 'cli'];

function files(dir: string, out: string[] = []): string[] {
  for (const n of readdirSync(dir)) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) files(p, out);
    else if (n.endsWith('.ts') && !n.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

test('src/ imports go one way: core -> capture -> decode -> reassembly -> tls -> protocols -> message -> output -> pipeline -> cli', () => {
  const src = join(repoRoot, 'src');
  const bad: string[] = [];
  for (const f of files(src)) {
    const layer = relative(src, f).split('/')[0];
    const li = ORDER.indexOf(layer);
    if (li < 0) continue; // src/index.ts: the public barrel may import anything
    const text = readFileSync(f, 'utf8');
    for (const m of text.matchAll(/from\s+'(\.[^']+)'/g)) {
      const target = relative(src, resolve(dirname(f), m[1])).split('/')[0];
      const ti = ORDER.indexOf(target);
      if (ti > li) bad.push(`${relative(repoRoot, f)} imports ${m[1]} (${target} is downstream of ${layer})`);
    }
  }
  assert.deepEqual(bad, []);
});
