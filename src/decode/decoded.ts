import type { TcpPacket, UdpPacket } from '../core/types.js';

/** Result of decoding one frame down to the transport layer. */
export type DecodeResult =
  | { readonly kind: 'tcp'; readonly packet: TcpPacket }
  | { readonly kind: 'udp'; readonly packet: UdpPacket }
  /** Not TCP/UDP (ARP, ICMP, ...), a fragment still waiting for its siblings, or undecodable (an anomaly was reported). */
  | { readonly kind: 'other' };
