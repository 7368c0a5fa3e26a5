// Bundles the compiled CLI (dist/src/cli/main.js) and the message worker into one file each:
// dist/mailsleuth.mjs (the `mailsleuth` command) and dist/message-worker.js (which the bundle
// starts from the same folder). Loading ~100 separate modules costs ~0.15 s at every start, in
// the main thread and again in the worker (docs/performance.md). The library (dist/src) stays
// unbundled.
import { build } from 'esbuild';
import { chmodSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// CommonJS dependencies (commander, libmime, iconv-lite) call require() inside the ES module.
const banner = "import { createRequire as __msCreateRequire } from 'node:module'; const require = __msCreateRequire(import.meta.url);";
const common = { bundle: true, platform: 'node', format: 'esm', target: 'node20', banner: { js: banner }, logLevel: 'warning' };
await build({ ...common, entryPoints: [join(root, 'dist/src/cli/main.js')], outfile: join(root, 'dist/mailsleuth.mjs') });
await build({ ...common, entryPoints: [join(root, 'dist/src/pipeline/message-worker.js')], outfile: join(root, 'dist/message-worker.js') });
chmodSync(join(root, 'dist/mailsleuth.mjs'), 0o755);
