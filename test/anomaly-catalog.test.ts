// Every anomaly code the source can emit has a catalog entry (severity + description), so
// summary.json and docs/anomalies.md never say "(no description)".
import test from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { repoRoot } from './helpers/paths.js';
import { ANOMALY_CATALOG } from '../src/pipeline/anomaly-catalog.js';

function files(dir: string, out: string[] = []): string[] {
  for (const n of readdirSync(dir)) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) files(p, out);
    else if (n.endsWith('.ts') && !n.endsWith('.test.ts') && !n.includes('test-support')) out.push(p);
  }
  return out;
}

test('every anomaly code emitted in src/ is in the catalog', () => {
  const known = new Set(ANOMALY_CATALOG.flatMap((l) => l.codes.map((c) => c.code)));
  const missing: string[] = [];
  // Calls like anomaly('code', ...), onAnomaly('code'), report({ code: 'code' }), a('code').
  const re = /(?:\b(?:anomaly|onAnomaly|report|weird)\(\s*|\bcode:\s*)'([a-z][a-z0-9_]+)'/g;
  for (const f of files(join(repoRoot, 'src'))) {
    if (f.endsWith('anomaly-codes.ts') || f.endsWith('anomaly-catalog.ts')) continue;
    // The line framer's 'bare_lf' is renamed by every analyzer (FramerAnomalies: smtp_bare_lf ...).
    const renamed = f.endsWith('line-framer.ts') ? new Set(['bare_lf']) : new Set<string>();
    for (const m of readFileSync(f, 'utf8').matchAll(re)) {
      if (!known.has(m[1]!) && !renamed.has(m[1]!)) missing.push(`${relative(repoRoot, f)}: ${m[1]}`);
    }
  }
  assert.deepEqual([...new Set(missing)], []);
});

test('catalog codes are unique, snake_case, with a severity and a description', () => {
  const seen = new Map<string, string>();
  for (const layer of ANOMALY_CATALOG) {
    for (const c of layer.codes) {
      assert.match(c.code, /^[a-z][a-z0-9_]*$/);
      assert.ok(['info', 'warning', 'error'].includes(c.severity), c.code);
      assert.ok(c.description.length > 10, c.code);
      assert.ok(!seen.has(c.code), `${c.code} in ${layer.layer} and ${seen.get(c.code)}`);
      seen.set(c.code, layer.layer);
    }
  }
});
