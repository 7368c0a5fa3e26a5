// Bundles the compiled CLI (dist/src/cli/launch.js, which starts the message worker early, then
// main.js) and the message worker into one file each:
// dist/mailsleuth.mjs (the `mailsleuth` command) and dist/message-worker.js (which the bundle
// starts from the same folder). Loading ~100 separate modules costs ~0.15 s at every start, in
// the main thread and again in the worker (docs/performance.md). The library (dist/src) stays
// unbundled.
import { build } from 'esbuild';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// CommonJS dependencies (commander, libmime, iconv-lite) call require() inside the ES module.
const banner = "import { createRequire as __msCreateRequire } from 'node:module'; const require = __msCreateRequire(import.meta.url);";
// libmime's charset module builds iconv-lite's whole GBK codec when it loads, only to learn which
// class decodes double-byte charsets (about 30 ms at every start, in the main thread and again in
// the worker, plus JIT compilations of the table builders). The same class is on iconv-lite's
// DBCS codec prototype, which costs nothing to reach; GBK is then built only if a message needs it.
const LIBMIME_DBCS = "const DBCS_DECODER = iconv.getCodec('gbk').decoder;";
const LIBMIME_DBCS_LAZY =
  "const DBCS_DECODER = (iconv.encodings ?? (iconv.getCodec('utf8'), iconv.encodings))?._dbcs?.prototype?.decoder ?? iconv.getCodec('gbk').decoder;";
const lazyDbcs = {
  name: 'libmime-lazy-dbcs',
  setup(b) {
    b.onLoad({ filter: /libmime[\\/]dist[\\/]esm[\\/]charset\.js$/ }, (args) => {
      const src = readFileSync(args.path, 'utf8');
      if (!src.includes(LIBMIME_DBCS)) throw new Error(`libmime changed: "${LIBMIME_DBCS}" not found in ${args.path}; update scripts/bundle.mjs`);
      return { contents: src.replace(LIBMIME_DBCS, LIBMIME_DBCS_LAZY), loader: 'js' };
    });
  },
};
const common = { bundle: true, platform: 'node', format: 'esm', target: 'node20', banner: { js: banner }, logLevel: 'warning', plugins: [lazyDbcs] };
await build({ ...common, entryPoints: [join(root, 'dist/src/cli/launch.js')], outfile: join(root, 'dist/mailsleuth.mjs') });
await build({ ...common, entryPoints: [join(root, 'dist/src/pipeline/message-worker.js')], outfile: join(root, 'dist/message-worker.js') });

// esbuild escapes every non-ASCII character of the code (its default `charset: 'ascii'`), but
// not of the comments it keeps (section signs, arrows, accented names in our JSDoc). One such
// character makes Node decode the whole 1.7 MB file through the UTF-8 decoder into a two-byte
// string, which V8 then parses: ~5 ms more per start (40 paired runs of --version) and ~1 MB more
// memory. As everything outside comments is already ASCII, each remaining character is written
// as a \u escape, which is plain text in a comment (and would mean the same character in a
// string, regular expression or identifier).
for (const file of ['dist/mailsleuth.mjs', 'dist/message-worker.js']) {
  const path = join(root, file);
  const text = readFileSync(path, 'utf8');
  // A raw line or paragraph separator ends a // comment: escaped, it would not.
  if (/[\u2028\u2029]/u.test(text)) throw new Error(`${file}: a raw U+2028/U+2029; escape it in the source`);
  const ascii = text.replace(/[^\x00-\x7f]/gu, (c) => {
    const cp = c.codePointAt(0);
    return cp > 0xffff ? `\\u{${cp.toString(16)}}` : `\\u${cp.toString(16).padStart(4, '0')}`;
  });
  if (ascii !== text) writeFileSync(path, ascii);
}
chmodSync(join(root, 'dist/mailsleuth.mjs'), 0o755);
