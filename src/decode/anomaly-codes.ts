import type { AnomalyCodeInfo } from '../core/anomaly.js';

/** Every anomaly code the packet decoder (src/decode/) emits. */
export const DECODE_ANOMALIES: readonly AnomalyCodeInfo[] = Object.freeze([
  { code: 'link_unsupported', severity: 'warning', description: 'Frames of a link type the decoder does not understand are skipped (reported once per link type).' },
  { code: 'link_truncated', severity: 'warning', description: 'A frame is shorter than its link-layer header (Ethernet, VLAN tag, SLL, loopback, PPPoE, MPLS); skipped.' },
  { code: 'ip_bad_version', severity: 'warning', description: 'The IP version nibble does not match the link layer (or is neither 4 nor 6 on raw-IP links); skipped.' },
  { code: 'ip_header_truncated', severity: 'warning', description: 'The frame ends inside the IPv4/IPv6 header; skipped.' },
  { code: 'ip_bad_header_length', severity: 'warning', description: 'IPv4 header length (IHL) below 20 bytes; skipped.' },
  { code: 'ip_bad_total_length', severity: 'warning', description: 'IPv4 total length smaller than its header; skipped.' },
  { code: 'ip_total_length_zero', severity: 'info', description: 'IPv4 total length 0 (typical of TCP segmentation offload on the capturing host); the frame length is used (reported once).' },
  { code: 'ip_length_exceeds_frame', severity: 'warning', description: 'The IP length announces more bytes than the frame holds although the frame was not cut by the snaplen; the missing bytes are treated as not captured.' },
  { code: 'ipv6_bad_extension_header', severity: 'warning', description: 'An IPv6 extension header runs past the packet, or the chain is too long; skipped.' },
  { code: 'ip_fragment_overlap', severity: 'warning', description: 'IP fragments overlap (or disagree about the datagram end): IPv4 keeps the bytes that arrived first, IPv6 drops the datagram (RFC 5722).' },
  { code: 'ip_fragment_bad_length', severity: 'warning', description: 'A non-final IP fragment whose length is not a multiple of 8; the fragment is ignored.' },
  { code: 'ip_fragment_too_large', severity: 'warning', description: 'IP fragments describe a datagram longer than 65535 bytes; the datagram is dropped.' },
  { code: 'ip_fragment_truncated', severity: 'warning', description: 'An IP fragment was cut by the snaplen, so its datagram cannot be rebuilt; dropped.' },
  { code: 'ip_fragment_buffer_full', severity: 'warning', description: 'limits.maxFragmentBytes reached: the oldest incomplete datagram was dropped.' },
  { code: 'ip_fragment_timeout', severity: 'info', description: 'An incomplete fragmented datagram was dropped after limits.fragmentTimeoutSeconds of capture time.' },
  { code: 'tcp_header_truncated', severity: 'warning', description: 'The captured bytes end inside the TCP header (snaplen or a short IP length); skipped.' },
  { code: 'tcp_bad_header_length', severity: 'warning', description: 'TCP data offset below 5 words or beyond the segment; skipped.' },
  { code: 'udp_header_truncated', severity: 'warning', description: 'The captured bytes end inside the UDP header; skipped.' },
  { code: 'udp_bad_length', severity: 'warning', description: 'UDP length field below 8 or beyond the IP payload; the IP payload length is used.' },
] satisfies AnomalyCodeInfo[]);
