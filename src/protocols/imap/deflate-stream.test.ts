import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as zlib from 'node:zlib';
import { randomBytes } from 'node:crypto';
import { DeflateStream } from './deflate-stream.js';
import { SyncDeflater } from './sync-deflater.js';

/** Every test runs on both engines: Node's zlib handle and the pure-JS fallback (pako). */
for (const forceJs of [false, true]) {
const engine = forceJs ? 'js' : 'native';

function inflateAll(chunks: readonly Uint8Array[], max = 1 << 24): { out: Buffer; result: string } {
  const z = new DeflateStream(max, { forceJs });
  assert.equal(z.supported, true);
  assert.equal(z.engine, engine);
  const got: Buffer[] = [];
  let result = 'ok';
  for (const c of chunks) {
    const r = z.push(c, (b) => got.push(Buffer.from(b)));
    if (r !== 'ok') result = r;
  }
  z.close();
  return { out: Buffer.concat(got), result };
}

test(`${engine}: stateful inflate across chunks, any split, output equals input`, () => {
  const parts = ['a1 OK hello\r\n', '* 1 FETCH (BODY[] {5}\r\nhello)\r\n', 'a2 OK done\r\n'];
  // One raw stream, flushed per message: each message inflates completely from its own bytes.
  const def = new SyncDeflater();
  const flushed = parts.map((p) => def.push(p));
  def.close();
  flushed.forEach((c, i) => assert.equal(inflateAll(flushed.slice(0, i + 1)).out.toString('latin1'), parts.slice(0, i + 1).join('')));
  const d = Buffer.concat(flushed);
  for (const step of [1, 3, 7, d.length]) {
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < d.length; i += step) chunks.push(d.subarray(i, i + step));
    const { out, result } = inflateAll(chunks);
    assert.equal(result, 'ok');
    assert.equal(out.toString('latin1'), parts.join(''));
  }
});

test(`${engine}: large incompressible data comes out in several pieces, byte-exact`, () => {
  const data = randomBytes(300_000);
  const d = zlib.deflateRawSync(data, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  const { out } = inflateAll([d.subarray(0, 100_000), d.subarray(100_000)]);
  assert.ok(out.equals(data));
});

test(`${engine}: invalid data: error, then nothing more`, () => {
  const z = new DeflateStream(1 << 20, { forceJs });
  assert.equal(z.push(Buffer.from([0xff, 0xff, 0xff, 0xff]), () => assert.fail('no output')), 'error');
  assert.equal(z.push(Buffer.from([0x00]), () => assert.fail('no output')), 'error');
  assert.ok(z.failure !== null);
});

test(`${engine}: decompression bomb: output per chunk bounded`, () => {
  const bomb = zlib.deflateRawSync(Buffer.alloc(5_000_000), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  assert.ok(bomb.length < 10_000);
  let emitted = 0;
  const z = new DeflateStream(1_000_000, { forceJs });
  assert.equal(z.push(bomb, (b) => (emitted += b.length)), 'bomb');
  assert.ok(emitted <= 1_000_000);
});
}
