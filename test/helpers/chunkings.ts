import type { At, Side } from '../../src/core/types.js';
import type { CloseReason } from '../../src/reassembly/stream-handler.js';

/** Deterministic PRNG (mulberry32): same seed, same sequence. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Splits bytes into pieces; pieces are views of the input. */
export type Splitter = (bytes: Uint8Array) => Uint8Array[];

export const splitWhole: Splitter = (b) => [b];

export const splitBytes: Splitter = (b) => {
  const out: Uint8Array[] = [];
  for (let i = 0; i < b.length; i++) out.push(b.subarray(i, i + 1));
  return out;
};

/** Random split points from a seeded PRNG; pieces of 1..maxPiece bytes. */
export function splitRandom(seed: number, maxPiece = 17): Splitter {
  return (b) => {
    const rnd = mulberry32(seed ^ b.length);
    const out: Uint8Array[] = [];
    let i = 0;
    while (i < b.length) {
      const n = 1 + Math.floor(rnd() * maxPiece);
      out.push(b.subarray(i, i + n));
      i += n;
    }
    return out;
  };
}

/** The standard set every framer/analyzer test runs: whole, byte by byte, three random seeds. */
export const CHUNKINGS: readonly { name: string; split: Splitter }[] = [
  { name: 'whole', split: splitWhole },
  { name: 'byte-by-byte', split: splitBytes },
  { name: 'random-1', split: splitRandom(1) },
  { name: 'random-2', split: splitRandom(2, 5) },
  { name: 'random-3', split: splitRandom(3, 300) },
];

/** One step of a scripted dialogue: bytes from one side, or a gap of n bytes on one side. */
export type DialogueStep = readonly [Side, string | Uint8Array] | readonly ['gap', Side, number];

/** What runDialogue drives: any protocol analyzer (or StreamHandler). */
export interface DialogueTarget {
  onData(side: Side, bytes: Uint8Array, at: At): void;
  onGap(side: Side, length: number, at: At): void;
  onClose(reason: CloseReason, at: At): void;
}

/** The At given to step `i` (0-based): frame i + 2 (frame 1 is the SYN), one second apart. */
export function stepAt(i: number): At {
  return { frame: i + 2, ts: { sec: 1_700_000_000 + i, nsec: 0 } };
}

/**
 * Plays a dialogue into a target. Step i gets frame i + 2; every piece of a step shares its At,
 * so any chunking of the same dialogue must give identical results. String data is latin1.
 * Ends with onClose('fin') at the frame after the last step unless `close` is false.
 */
export function runDialogue(
  target: DialogueTarget,
  steps: readonly DialogueStep[],
  split: Splitter = splitWhole,
  opts: { close?: boolean } = {},
): void {
  steps.forEach((step, i) => {
    const at = stepAt(i);
    if (step[0] === 'gap') {
      target.onGap(step[1], step[2], at);
      return;
    }
    const data = step[1];
    const bytes = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
    for (const piece of split(bytes)) target.onData(step[0], piece, at);
  });
  if (opts.close !== false) target.onClose('fin', stepAt(steps.length));
}
