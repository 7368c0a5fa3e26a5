/**
 * The first `n` bytes of `bytes` as a string, ASCII letters upper-cased, other bytes as Latin-1
 * code points. For protocol sniffing of a stream's first bytes (small n: builds by concatenation).
 */
export function upperAscii(bytes: Uint8Array, n: number): string {
  let s = '';
  for (let i = 0; i < n && i < bytes.length; i++) {
    const c = bytes[i]!;
    s += String.fromCharCode(c >= 0x61 && c <= 0x7a ? c - 0x20 : c);
  }
  return s;
}

/**
 * Whether an upper-cased stream head starts with one of the given four-letter verbs:
 * 'yes' for a verb followed by space, CR or LF; 'maybe' while the head (4 characters or fewer) is
 * still a prefix of one; 'no' otherwise. Used by the SMTP (EHLO/HELO/LHLO) and POP3
 * (USER/CAPA/AUTH/APOP/STLS) client sniffers.
 */
export function sniffHeadVerb(head: string, verbs: readonly string[]): 'yes' | 'no' | 'maybe' {
  for (const v of verbs) {
    if (head.length < 5) {
      if (v.startsWith(head)) return 'maybe';
    } else if (head.startsWith(v) && (head[4] === ' ' || head[4] === '\r' || head[4] === '\n')) {
      return 'yes';
    }
  }
  return 'no';
}
