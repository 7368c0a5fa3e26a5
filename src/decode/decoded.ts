import type { TcpPacket, Timestamp, UdpPacket } from '../core/types.js';

/** Result of decoding one frame down to the transport layer. */
export type DecodeResult =
  | { readonly kind: 'tcp'; readonly packet: TcpPacket }
  | { readonly kind: 'udp'; readonly packet: UdpPacket }
  /**
   * Not TCP/UDP (ARP, ICMP, ...), a fragment still waiting for its siblings, undecodable (an
   * anomaly was reported), or a segment the {@link TcpEarlyFilter} consumed.
   */
  | { readonly kind: 'other' };

/**
 * Lets a later stage consume TCP segments of connections it ignores (not mail) before a packet
 * object, its payload view and its address strings are built: most traffic in a capture is not
 * mail, and this is the cheapest place to drop it.
 */
export interface TcpEarlyFilter {
  /**
   * An IPv4 TCP segment with a valid header and none of SYN, FIN, RST (addresses as 32-bit
   * numbers). True when it was consumed; false to decode it normally.
   */
  consumeIgnoredV4(srcAddr: number, srcPort: number, dstAddr: number, dstPort: number, frame: number, ts: Timestamp): boolean;
  /** The same for IPv6: address ids as in TcpPacket.srcId/dstId, and the address strings. */
  consumeIgnoredV6(srcId: number, srcPort: number, dstId: number, dstPort: number, src: string, dst: string, frame: number, ts: Timestamp): boolean;
}
