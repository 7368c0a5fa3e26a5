import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './helpers/paths.js';
import { anomaliesDoc, limitsDoc } from '../scripts/gen-docs.js';
import { DEFAULT_LIMITS } from '../src/core/limits.js';

test('docs/anomalies.md is generated from the current catalogs (run npm run docs)', () => {
  assert.equal(readFileSync(join(repoRoot, 'docs', 'anomalies.md'), 'utf8'), anomaliesDoc());
});

test('docs/limits.md is generated from src/core/limits.ts and documents every limit', () => {
  const doc = limitsDoc();
  assert.equal(readFileSync(join(repoRoot, 'docs', 'limits.md'), 'utf8'), doc);
  for (const name of Object.keys(DEFAULT_LIMITS)) assert.match(doc, new RegExp(`\`${name}\``), `limit ${name} is documented`);
});
