/**
 * TCP sequence-number arithmetic modulo 2^32 (RFC 9293 §3.4, "Sequence Numbers"; gopacket
 * `Sequence.Difference`). Sequence numbers are unsigned 32-bit values carried in JS numbers.
 */

/** 2^32, the size of the sequence space. */
export const SEQ_SPACE = 4294967296;

/**
 * Largest forward distance accepted between the expected sequence number and a segment or an
 * ACK: 2^30, the largest window with window scaling (RFC 7323 §2.3, shift ≤ 14). Anything
 * further ahead is not part of this stream.
 */
export const MAX_SEQ_WINDOW = 1 << 30;

/**
 * Signed distance `a - b` in the sequence space, in [-2^31, 2^31).
 * Positive when `a` is after `b`, including across the 2^32 wrap (seqDiff(5, 0xfffffffb) === 10).
 */
export function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}

/** `seq + n` wrapped to 32 bits (n may be any safe integer, including negative). */
export function seqAdd(seq: number, n: number): number {
  const r = (seq + n) % SEQ_SPACE;
  return r < 0 ? r + SEQ_SPACE : r;
}
