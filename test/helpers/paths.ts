import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(start: string): string {
  let dir = start;
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'tsconfig.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('repository root not found');
    dir = up;
  }
}

/** The repository root (works from src/ under tsx and from dist/ after tsc). */
export const repoRoot = findRoot(dirname(fileURLToPath(import.meta.url)));

/** `../shared` beside the clone, or null when it is not there (tests then skip, saying so). */
export const sharedDir: string | null = (() => {
  const p = resolve(repoRoot, '..', 'shared');
  return existsSync(join(p, 'corpus')) ? p : null;
})();

export const SHARED_SKIP_REASON = '../shared is not beside the clone (corpus suites need it)';

/** A path under test/fixtures. */
export function fixture(...parts: string[]): string {
  return join(repoRoot, 'test', 'fixtures', ...parts);
}
