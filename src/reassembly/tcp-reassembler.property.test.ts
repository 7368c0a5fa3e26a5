import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { resolveLimits } from '../core/limits.js';
import type { Limits } from '../core/limits.js';
import { TcpReassembler } from './tcp-reassembler.js';
import { RecordingFactory, tcpPacket } from './recording-handler.js';
import type { SegmentSpec } from './recording-handler.js';

/** A piece of the client stream: [start, end) at stream offsets, maybe carrying the FIN. */
interface Piece {
  start: number;
  end: number;
  fin: boolean;
}

interface Scenario {
  data: Uint8Array;
  isn: number;
  /** Base segmentation (covers the whole stream), plus overlapping retransmissions. */
  base: Piece[];
  extras: Piece[];
}

const isnArb = fc.oneof(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0xffffff00, max: 0xffffffff }));

const scenarioArb: fc.Arbitrary<Scenario> = fc
  .record({
    data: fc.uint8Array({ minLength: 0, maxLength: 1500 }),
    isn: isnArb,
    cuts: fc.uniqueArray(fc.integer({ min: 1, max: 1499 }), { maxLength: 25 }),
    extras: fc.array(fc.tuple(fc.nat({ max: 1500 }), fc.integer({ min: 1, max: 400 })), { maxLength: 12 }),
  })
  .map(({ data, isn, cuts, extras }) => {
    const n = data.length;
    const points = [0, ...cuts.filter((c) => c < n).sort((a, b) => a - b), n];
    const base: Piece[] = [];
    for (let i = 0; i + 1 < points.length; i++) base.push({ start: points[i], end: points[i + 1], fin: false });
    // The FIN rides on its own empty segment at the end (never dropped: it fixes the length).
    base.push({ start: n, end: n, fin: true });
    const ex: Piece[] = [];
    for (const [s, len] of extras) {
      if (n === 0) break;
      const start = s % n;
      ex.push({ start, end: Math.min(n, start + len), fin: false });
    }
    return { data, isn, base, extras: ex };
  });

function toSpec(sc: Scenario, p: Piece, frame: number): SegmentSpec {
  return {
    frame,
    from: 'c',
    seq: (sc.isn + 1 + p.start) % 2 ** 32,
    data: sc.data.subarray(p.start, p.end),
    flags: p.fin ? 'F' : '',
  };
}

/**
 * Feeds SYN + the given pieces (in the given order) and checks the reassembled client stream:
 * every delivered byte equals the original at its offset, and data + gaps cover exactly the
 * stream, ending with the FIN. Returns the gap byte count.
 */
function check(sc: Scenario, pieces: Piece[], limits?: Partial<Limits>): number {
  const rec = new RecordingFactory();
  const lim = resolveLimits(limits);
  const r = new TcpReassembler({ factory: rec, limits: lim, report: rec.report });
  r.add(tcpPacket({ frame: 1, from: 'c', seq: sc.isn, flags: 'S' }));
  let frame = 2;
  for (const p of pieces) {
    r.add(tcpPacket(toSpec(sc, p, frame++)));
    assert.ok(r.stats.bufferedBytes <= Math.min(lim.maxBufferedBytesPerStream, lim.maxBufferedBytesTotal), 'buffer bounded');
  }
  r.flushAll();
  let off = 0;
  let gapBytes = 0;
  let ended = false;
  for (const e of rec.events) {
    if (e.kind === 'close') continue;
    assert.equal(e.side, 'client');
    assert.ok(!ended, 'nothing after the FIN');
    if (e.kind === 'data') {
      assert.ok(e.bytes.length > 0);
      assert.deepEqual(e.bytes, sc.data.subarray(off, off + e.bytes.length), `bytes at offset ${off}`);
      off += e.bytes.length;
    } else if (e.kind === 'gap') {
      assert.ok(e.length > 0);
      off += e.length;
      gapBytes += e.length;
    } else {
      assert.equal(e.reason, 'fin');
      ended = true;
    }
  }
  assert.ok(ended, 'FIN delivered');
  assert.equal(off, sc.data.length, 'data + gaps account exactly for the stream');
  assert.equal(r.stats.gapBytes, gapBytes);
  assert.equal(r.stats.conflictingOverlaps, 0);
  assert.equal(r.stats.bufferedBytes, 0);
  return gapBytes;
}

test('property: any permutation/duplication of the segments delivers exactly the stream, no gaps', () => {
  fc.assert(
    fc.property(
      scenarioArb.chain((sc) => {
        const all = [...sc.base, ...sc.extras];
        return fc.tuple(fc.constant(sc), fc.shuffledSubarray(all, { minLength: all.length, maxLength: all.length }));
      }),
      ([sc, order]) => {
        assert.equal(check(sc, order), 0);
      },
    ),
    { numRuns: 300 },
  );
});

test('property: with random drops, delivered bytes + gaps account exactly for the stream', () => {
  fc.assert(
    fc.property(
      scenarioArb.chain((sc) => {
        const all = [...sc.base, ...sc.extras];
        return fc.tuple(
          fc.constant(sc),
          fc.shuffledSubarray(all, { minLength: all.length, maxLength: all.length }),
          fc.array(fc.boolean(), { minLength: all.length, maxLength: all.length }),
        );
      }),
      ([sc, order, drop]) => {
        const kept = order.filter((p, i) => p.fin || !drop[i]);
        check(sc, kept);
      },
    ),
    { numRuns: 300 },
  );
});

test('property: tiny buffer limits never break the accounting and keep memory bounded', () => {
  fc.assert(
    fc.property(
      scenarioArb.chain((sc) => {
        const all = [...sc.base, ...sc.extras];
        return fc.tuple(
          fc.constant(sc),
          fc.shuffledSubarray(all, { minLength: all.length, maxLength: all.length }),
          fc.integer({ min: 0, max: 600 }),
          fc.integer({ min: 0, max: 600 }),
        );
      }),
      ([sc, order, perStream, total]) => {
        check(sc, order, { maxBufferedBytesPerStream: perStream, maxBufferedBytesTotal: total });
      },
    ),
    { numRuns: 200 },
  );
});
