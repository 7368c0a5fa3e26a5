/**
 * IP address formatting without intermediate allocations beyond the result string.
 * IPv4: dotted quad. IPv6: RFC 5952 canonical text (lowercase hex, no leading zeros,
 * the longest run of two or more zero groups compressed to `::`, the first on a tie,
 * IPv4-mapped addresses as `::ffff:a.b.c.d`).
 */

const DEC: readonly string[] = Array.from({ length: 256 }, (_, i) => String(i));
/** Lazily filled 16-bit group → lowercase hex without leading zeros. */
const HEX16: (string | undefined)[] = new Array<string | undefined>(65536);
const groups = new Int32Array(8);

/** Formats the IPv4 address at `b[o..o+4)`. */
export function formatIpv4(b: Uint8Array, o: number): string {
  return DEC[b[o]!]! + '.' + DEC[b[o + 1]!]! + '.' + DEC[b[o + 2]!]! + '.' + DEC[b[o + 3]!]!;
}

function hex16(v: number): string {
  let s = HEX16[v];
  if (s === undefined) {
    s = v.toString(16);
    HEX16[v] = s;
  }
  return s;
}

/** Formats the IPv6 address at `b[o..o+16)` in RFC 5952 §4 canonical form. */
export function formatIpv6(b: Uint8Array, o: number): string {
  let bestStart = -1;
  let bestLen = 0;
  let runStart = -1;
  for (let i = 0; i < 8; i++) {
    const g = (b[o + 2 * i]! << 8) | b[o + 2 * i + 1]!;
    groups[i] = g;
    if (g === 0) {
      if (runStart < 0) runStart = i;
      const l = i - runStart + 1;
      // RFC 5952 §4.2.3: the longest run; the first one when runs are equal.
      if (l > bestLen) {
        bestLen = l;
        bestStart = runStart;
      }
    } else runStart = -1;
  }
  // RFC 5952 §5: IPv4-mapped addresses keep the dotted quad.
  if (bestStart === 0 && bestLen === 5 && groups[5] === 0xffff) {
    return '::ffff:' + formatIpv4(b, o + 12);
  }
  // RFC 5952 §4.2.2: a single 16-bit zero field is not compressed.
  if (bestLen < 2) bestStart = -1;
  let s = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      s += i === 0 ? '::' : ':';
      i += bestLen - 1;
      continue;
    }
    s += hex16(groups[i]!);
    if (i < 7) s += ':';
  }
  return s;
}
