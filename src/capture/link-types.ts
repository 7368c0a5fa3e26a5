/**
 * LINKTYPE_* values as stored in pcap/pcapng headers (https://www.tcpdump.org/linktypes.html).
 * Only the values the decoder understands, plus a few common ones for naming.
 */
export const LINKTYPE_NULL = 0;
export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_IEEE802_5 = 6;
export const LINKTYPE_PPP = 9;
/** DLT_RAW on most platforms before LINKTYPE_RAW existed. */
export const LINKTYPE_RAW_12 = 12;
/** DLT_RAW on OpenBSD. */
export const LINKTYPE_RAW_14 = 14;
export const LINKTYPE_RAW = 101;
export const LINKTYPE_IEEE802_11 = 105;
export const LINKTYPE_LOOP = 108;
export const LINKTYPE_LINUX_SLL = 113;
export const LINKTYPE_IEEE802_11_RADIOTAP = 127;
export const LINKTYPE_IPV4 = 228;
export const LINKTYPE_IPV6 = 229;
export const LINKTYPE_LINUX_SLL2 = 276;

const NAMES: ReadonlyMap<number, string> = new Map([
  [LINKTYPE_NULL, 'NULL'],
  [LINKTYPE_ETHERNET, 'ETHERNET'],
  [LINKTYPE_IEEE802_5, 'IEEE802_5'],
  [LINKTYPE_PPP, 'PPP'],
  [LINKTYPE_RAW_12, 'RAW (12)'],
  [LINKTYPE_RAW_14, 'RAW (14)'],
  [LINKTYPE_RAW, 'RAW'],
  [LINKTYPE_IEEE802_11, 'IEEE802_11'],
  [LINKTYPE_LOOP, 'LOOP'],
  [LINKTYPE_LINUX_SLL, 'LINUX_SLL'],
  [LINKTYPE_IEEE802_11_RADIOTAP, 'IEEE802_11_RADIOTAP'],
  [LINKTYPE_IPV4, 'IPV4'],
  [LINKTYPE_IPV6, 'IPV6'],
  [LINKTYPE_LINUX_SLL2, 'LINUX_SLL2'],
]);

/** Human name of a link type, e.g. `ETHERNET`; unknown values give `LINKTYPE_<n>`. */
export function linkTypeName(linkType: number): string {
  return NAMES.get(linkType) ?? `LINKTYPE_${linkType}`;
}

/** True when PacketDecoder can decode frames of this link type down to IP. */
export function isSupportedLinkType(linkType: number): boolean {
  switch (linkType) {
    case LINKTYPE_NULL:
    case LINKTYPE_ETHERNET:
    case LINKTYPE_RAW_12:
    case LINKTYPE_RAW_14:
    case LINKTYPE_RAW:
    case LINKTYPE_LOOP:
    case LINKTYPE_LINUX_SLL:
    case LINKTYPE_IPV4:
    case LINKTYPE_IPV6:
    case LINKTYPE_LINUX_SLL2:
      return true;
    default:
      return false;
  }
}
