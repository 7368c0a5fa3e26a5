import type { AnomalyReporter } from '../core/anomaly.js';
import type { Limits } from '../core/limits.js';
import { TCP_FIN, TCP_RST, TCP_SYN, type CaptureFrame, type TcpPacket, type Timestamp, type UdpPacket } from '../core/types.js';
import {
  LINKTYPE_ETHERNET,
  LINKTYPE_IPV4,
  LINKTYPE_IPV6,
  LINKTYPE_LINUX_SLL,
  LINKTYPE_LINUX_SLL2,
  LINKTYPE_LOOP,
  LINKTYPE_NULL,
  LINKTYPE_RAW,
  LINKTYPE_RAW_12,
  LINKTYPE_RAW_14,
  linkTypeName,
} from '../capture/link-types.js';
import type { DecodeResult, TcpEarlyFilter } from './decoded.js';
import { formatIpv4, formatIpv6 } from './ip-address.js';
import { IpDefragmenter, type ReassembledDatagram } from './ip-defrag.js';

const ETH_IPV4 = 0x0800;
const ETH_IPV6 = 0x86dd;
const ETH_VLAN = 0x8100; // IEEE 802.1Q
const ETH_QINQ = 0x88a8; // IEEE 802.1ad
const ETH_QINQ_OLD = 0x9100;
const ETH_QINQ_OLD2 = 0x9200;
const ETH_PPPOE_SESSION = 0x8864;
const ETH_MPLS = 0x8847;
const ETH_MPLS_MC = 0x8848;
const MAX_TAGS = 8;

const PROTO_TCP = 6;
const PROTO_UDP = 17;

const OTHER: DecodeResult = Object.freeze({ kind: 'other' });
/** Entries of the IPv4 string cache before it is cleared (bounded memory). */
const V4_CACHE_MAX = 65536;
/** Entries of the IPv6 string cache before it is cleared (bounded memory). */
const V6_CACHE_MAX = 16384;

/**
 * Decodes frames down to TCP/UDP: link layer (Ethernet with 802.1Q/802.1ad stacks, PPPoE,
 * MPLS, Linux SLL/SLL2, BSD NULL/LOOP, raw IP), IPv4 (options), IPv6 (extension headers),
 * IP fragment reassembly, TCP and UDP headers. Synchronous; never throws on frame bytes.
 *
 * Payloads are borrowed views into the frame (or into a reassembled datagram): valid as long
 * as the frame's data is. Non-TCP/UDP frames allocate nothing.
 */
export class PacketDecoder {
  private readonly report: AnomalyReporter;
  private readonly defrag: IpDefragmenter;
  private readonly unsupportedSeen = new Set<number>();
  private readonly v4Cache = new Map<number, string>();
  private readonly v6Cache = new Map<number, { bytes: Uint8Array; text: string }>();
  private tsoReported = false;
  /** See {@link TcpEarlyFilter}; null: every TCP segment becomes a packet. */
  earlyFilter: TcpEarlyFilter | null = null;
  /** Index of the last frame consumeIgnoredRecord() offered to the early filter in vain. */
  private offeredFrame = -1;

  constructor(opts: { report: AnomalyReporter; limits: Limits }) {
    this.report = opts.report;
    this.defrag = new IpDefragmenter(opts.report, opts.limits.maxFragmentBytes, opts.limits.fragmentTimeoutSeconds);
  }

  /** Decodes one frame. The result's payload borrows from `frame.data`. */
  decode(frame: CaptureFrame): DecodeResult {
    const d = frame.data;
    const len = d.length;
    switch (frame.linkType) {
      case LINKTYPE_ETHERNET: {
        if (len < 14) return this.anomaly(frame, 'link_truncated', `Ethernet frame of ${len} bytes`);
        return this.etherType(frame, d, 14, (d[12]! << 8) | d[13]!);
      }
      case LINKTYPE_LINUX_SLL: {
        // https://www.tcpdump.org/linktypes/LINKTYPE_LINUX_SLL.html: protocol type at 14.
        if (len < 16) return this.anomaly(frame, 'link_truncated', `SLL frame of ${len} bytes`);
        return this.etherType(frame, d, 16, (d[14]! << 8) | d[15]!);
      }
      case LINKTYPE_LINUX_SLL2: {
        // https://www.tcpdump.org/linktypes/LINKTYPE_LINUX_SLL2.html: protocol type at 0, 20-byte header.
        if (len < 20) return this.anomaly(frame, 'link_truncated', `SLL2 frame of ${len} bytes`);
        return this.etherType(frame, d, 20, (d[0]! << 8) | d[1]!);
      }
      case LINKTYPE_NULL:
      case LINKTYPE_LOOP: {
        // 4-byte address family (host order for NULL, network order for LOOP); AF_INET is 2 and
        // AF_INET6 is 10/24/28/30 depending on the OS, so the IP version nibble decides.
        if (len < 4) return this.anomaly(frame, 'link_truncated', `loopback frame of ${len} bytes`);
        return this.rawIp(frame, d, 4);
      }
      case LINKTYPE_RAW:
      case LINKTYPE_RAW_12:
      case LINKTYPE_RAW_14:
        return this.rawIp(frame, d, 0);
      case LINKTYPE_IPV4:
        return this.ipv4(frame, d, 0);
      case LINKTYPE_IPV6:
        return this.ipv6(frame, d, 0);
      default:
        if (!this.unsupportedSeen.has(frame.linkType)) {
          this.unsupportedSeen.add(frame.linkType);
          this.anomaly(frame, 'link_unsupported', `link type ${linkTypeName(frame.linkType)} (${frame.linkType}); its frames are skipped`);
        }
        return OTHER;
    }
  }

  /**
   * The early filter at the record level, before a frame object exists: an Ethernet frame
   * (untagged, or with up to two VLAN tags) carrying an unfragmented IPv4 TCP segment, well
   * formed (as decode() would find it, with no anomaly to report) and without SYN, FIN or RST,
   * is offered to {@link PacketDecoder.earlyFilter}. True when it consumed the segment; false:
   * decode the frame as usual (anything else, including every malformed frame, takes that path).
   */
  consumeIgnoredRecord(b: Uint8Array, o: number, caplen: number, linkType: number, index: number, ts: Timestamp): boolean {
    const f = this.earlyFilter;
    if (f === null || linkType !== LINKTYPE_ETHERNET || caplen < 54) return false;
    let ip = o + 14;
    let type = (b[o + 12]! << 8) | b[o + 13]!;
    // Up to two VLAN tags (802.1Q, 802.1ad, QinQ), as etherType() walks them.
    for (let tags = 0; type === ETH_VLAN || type === ETH_QINQ || type === ETH_QINQ_OLD || type === ETH_QINQ_OLD2; tags++) {
      if (tags === 2) return false;
      type = (b[ip + 2]! << 8) | b[ip + 3]!;
      ip += 4;
    }
    if (type !== ETH_IPV4) return false;
    const link = ip - o;
    if (caplen < link + 40) return false;
    const vihl = b[ip]!;
    const ihl = (vihl & 15) << 2;
    if (vihl >> 4 !== 4 || ihl < 20) return false;
    const total = (b[ip + 2]! << 8) | b[ip + 3]!;
    // Not past the frame (ip_length_exceeds_frame) and not 0 (TSO): those are decode()'s cases.
    if (total < ihl + 20 || total > caplen - link) return false;
    if (b[ip + 9] !== PROTO_TCP || (((b[ip + 6]! << 8) | b[ip + 7]!) & 0x3fff) !== 0) return false;
    const t = ip + ihl;
    if (!plainSegment(b, t, ip + total)) return false;
    const src = ((b[ip + 12]! << 24) | (b[ip + 13]! << 16) | (b[ip + 14]! << 8) | b[ip + 15]!) >>> 0;
    const dst = ((b[ip + 16]! << 24) | (b[ip + 17]! << 16) | (b[ip + 18]! << 8) | b[ip + 19]!) >>> 0;
    if (f.consumeIgnoredV4(src, (b[t]! << 8) | b[t + 1]!, dst, (b[t + 2]! << 8) | b[t + 3]!, index, ts)) return true;
    // Not consumed: decode() need not offer this frame again.
    this.offeredFrame = index;
    return false;
  }

  /** Drops incomplete fragmented datagrams older than limits.fragmentTimeoutSeconds. */
  flushExpired(now: Timestamp): void {
    this.defrag.flushExpired(now);
  }

  private etherType(frame: CaptureFrame, d: Uint8Array, off: number, type: number): DecodeResult {
    const len = d.length;
    // 802.1Q / 802.1ad / QinQ tag stacks: TPID already read, 2-byte TCI then the next type.
    for (let tags = 0; type === ETH_VLAN || type === ETH_QINQ || type === ETH_QINQ_OLD || type === ETH_QINQ_OLD2; tags++) {
      if (off + 4 > len || tags === MAX_TAGS) return this.anomaly(frame, 'link_truncated', `VLAN tag stack at offset ${off}`);
      type = (d[off + 2]! << 8) | d[off + 3]!;
      off += 4;
    }
    if (type === ETH_IPV4) return this.ipv4(frame, d, off);
    if (type === ETH_IPV6) return this.ipv6(frame, d, off);
    if (type === ETH_PPPOE_SESSION) {
      // RFC 2516 §4: 6-byte PPPoE header, then the 2-byte PPP protocol (0x0021 IPv4, 0x0057 IPv6).
      if (off + 8 > len) return this.anomaly(frame, 'link_truncated', 'PPPoE header');
      const ppp = (d[off + 6]! << 8) | d[off + 7]!;
      if (ppp === 0x0021) return this.ipv4(frame, d, off + 8);
      if (ppp === 0x0057) return this.ipv6(frame, d, off + 8);
      return OTHER;
    }
    if (type === ETH_MPLS || type === ETH_MPLS_MC) {
      // RFC 3032: 4-byte label entries until the bottom-of-stack bit, then (usually) IP.
      for (let i = 0; i < 16; i++) {
        if (off + 4 > len) return this.anomaly(frame, 'link_truncated', 'MPLS label stack');
        const bos = d[off + 2]! & 1;
        off += 4;
        if (bos) return off < len && (d[off]! >> 4 === 4 || d[off]! >> 4 === 6) ? this.rawIp(frame, d, off) : OTHER;
      }
      return this.anomaly(frame, 'link_truncated', 'MPLS label stack too deep');
    }
    return OTHER; // ARP, LLDP, 802.3 length field, ...
  }

  private rawIp(frame: CaptureFrame, d: Uint8Array, off: number): DecodeResult {
    if (off >= d.length) return this.anomaly(frame, 'ip_header_truncated', 'no IP header');
    const v = d[off]! >> 4;
    if (v === 4) return this.ipv4(frame, d, off);
    if (v === 6) return this.ipv6(frame, d, off);
    return this.anomaly(frame, 'ip_bad_version', `IP version ${v}`);
  }

  /** IPv4, RFC 791 §3.1. */
  private ipv4(frame: CaptureFrame, d: Uint8Array, off: number): DecodeResult {
    const len = d.length;
    const avail = len - off;
    if (avail < 20) return this.anomaly(frame, 'ip_header_truncated', `${avail} bytes of IPv4 header`);
    const vihl = d[off]!;
    if (vihl >> 4 !== 4) return this.anomaly(frame, 'ip_bad_version', `version ${vihl >> 4} in an IPv4 packet`);
    const ihl = (vihl & 15) << 2;
    if (ihl < 20) return this.anomaly(frame, 'ip_bad_header_length', `IHL ${ihl} bytes`);
    if (ihl > avail) return this.anomaly(frame, 'ip_header_truncated', `IHL ${ihl} bytes, ${avail} captured`);
    let total = (d[off + 2]! << 8) | d[off + 3]!;
    if (total === 0) {
      // TCP segmentation offload: the capturing host saw the segment before the NIC filled the length.
      total = avail;
      if (!this.tsoReported) {
        this.tsoReported = true;
        this.anomaly(frame, 'ip_total_length_zero', 'IPv4 total length 0; using the frame length (reported once)');
      }
    }
    if (total < ihl) return this.anomaly(frame, 'ip_bad_total_length', `total length ${total} < header ${ihl}`);
    const proto = d[off + 9]!;
    const frag = (d[off + 6]! << 8) | d[off + 7]!;
    const mf = (frag & 0x2000) !== 0;
    const fragOffset = (frag & 0x1fff) << 3;
    if (!mf && fragOffset === 0 && proto !== PROTO_TCP && proto !== PROTO_UDP) return OTHER;
    // Trust the IP length, not the frame length: Ethernet padding and FCS follow the datagram.
    const end = off + total;
    let dataEnd = end;
    let missing = 0;
    if (end > len) {
      dataEnd = len;
      missing = end - len;
      if (frame.capturedLength >= frame.originalLength) {
        this.anomaly(frame, 'ip_length_exceeds_frame', `IPv4 total length ${total}, ${avail} bytes in the frame`);
      }
    }
    if (mf || fragOffset !== 0) {
      const src = this.v4(d, off + 12);
      const dst = this.v4(d, off + 16);
      const id = (d[off + 4]! << 8) | d[off + 5]!;
      const r = this.defrag.add({
        frame: frame.index,
        ts: frame.ts,
        ipVersion: 4,
        key: `4 ${src} ${dst} ${proto} ${id}`,
        protocol: proto,
        src,
        dst,
        offset: fragOffset,
        moreFragments: mf,
        data: new Uint8Array(d.buffer, d.byteOffset + off + ihl, dataEnd - off - ihl),
        missing,
      });
      return r === null ? OTHER : this.reassembled(frame, r);
    }
    return this.transport(frame, 4, d, off + 12, proto, off + ihl, dataEnd, missing);
  }

  /** IPv6, RFC 8200 §3-4: walks the extension header chain to the upper-layer header. */
  private ipv6(frame: CaptureFrame, d: Uint8Array, off: number): DecodeResult {
    const len = d.length;
    const avail = len - off;
    if (avail < 40) return this.anomaly(frame, 'ip_header_truncated', `${avail} bytes of IPv6 header`);
    if (d[off]! >> 4 !== 6) return this.anomaly(frame, 'ip_bad_version', `version ${d[off]! >> 4} in an IPv6 packet`);
    const plen = (d[off + 4]! << 8) | d[off + 5]!;
    let nh = d[off + 6]!;
    let end = off + 40 + plen;
    if (plen === 0 && nh === 0) end = len; // Jumbo payload option (RFC 2675): take what is there.
    let dataEnd = end;
    let missing = 0;
    if (end > len) {
      dataEnd = len;
      missing = end - len;
      if (frame.capturedLength >= frame.originalLength) {
        this.anomaly(frame, 'ip_length_exceeds_frame', `IPv6 payload length ${plen}, ${avail - 40} bytes in the frame`);
      }
    }
    let p = off + 40;
    for (let n = 0; ; n++) {
      if (nh === PROTO_TCP || nh === PROTO_UDP) break;
      if (n === 32) return this.anomaly(frame, 'ipv6_bad_extension_header', 'more than 32 extension headers');
      switch (nh) {
        case 0: // Hop-by-Hop Options
        case 43: // Routing
        case 60: // Destination Options
        case 135: // Mobility
        case 139: // HIP
        case 140: {
          // Shim6
          if (p + 8 > dataEnd) return this.extTruncated(frame, missing, nh);
          const next = d[p]!;
          p += (d[p + 1]! + 1) << 3;
          nh = next;
          break;
        }
        case 51: {
          // Authentication Header, RFC 4302 §2.2: length in 4-byte units minus 2.
          if (p + 8 > dataEnd) return this.extTruncated(frame, missing, nh);
          const next = d[p]!;
          p += (d[p + 1]! + 2) << 2;
          nh = next;
          break;
        }
        case 44: {
          // Fragment header, RFC 8200 §4.5.
          if (p + 8 > dataEnd) return this.extTruncated(frame, missing, nh);
          const next = d[p]!;
          const offField = (d[p + 2]! << 8) | d[p + 3]!;
          const fragOffset = offField & 0xfff8;
          const mf = (offField & 1) !== 0;
          p += 8;
          if (fragOffset === 0 && !mf) {
            nh = next; // atomic fragment (RFC 6946): not fragmented at all
            break;
          }
          if (p > dataEnd) return this.extTruncated(frame, missing, nh);
          const id = ((d[p - 4]! << 24) | (d[p - 3]! << 16) | (d[p - 2]! << 8) | d[p - 1]!) >>> 0;
          const src = formatIpv6(d, off + 8);
          const dst = formatIpv6(d, off + 24);
          const r = this.defrag.add({
            frame: frame.index,
            ts: frame.ts,
            ipVersion: 6,
            key: `6 ${src} ${dst} ${id}`,
            protocol: next,
            src,
            dst,
            offset: fragOffset,
            moreFragments: mf,
            data: new Uint8Array(d.buffer, d.byteOffset + p, dataEnd - p),
            missing,
          });
          return r === null ? OTHER : this.reassembled(frame, r);
        }
        default:
          return OTHER; // ESP (50), No Next Header (59), ICMPv6, ...
      }
      if (p > dataEnd) return this.extTruncated(frame, missing, nh);
    }
    return this.transport(frame, 6, d, off + 8, nh, p, dataEnd, missing);
  }

  private extTruncated(frame: CaptureFrame, missing: number, nh: number): DecodeResult {
    if (missing > 0) return OTHER; // snaplen cut inside the extension headers: nothing to decode, not an anomaly
    return this.anomaly(frame, 'ipv6_bad_extension_header', `extension header ${nh} runs past the packet`);
  }

  /** A datagram rebuilt from fragments: walk IPv6 extension headers left in it, then TCP/UDP. */
  private reassembled(frame: CaptureFrame, r: ReassembledDatagram): DecodeResult {
    const d = r.data;
    let nh = r.protocol;
    let p = 0;
    if (r.ipVersion === 6) {
      for (let n = 0; nh !== PROTO_TCP && nh !== PROTO_UDP; n++) {
        if (n === 32 || !(nh === 0 || nh === 43 || nh === 60 || nh === 51 || nh === 135 || nh === 139 || nh === 140)) return OTHER;
        if (p + 8 > d.length) return this.anomaly(frame, 'ipv6_bad_extension_header', `extension header ${nh} runs past the datagram`);
        const next = d[p]!;
        p += nh === 51 ? (d[p + 1]! + 2) << 2 : (d[p + 1]! + 1) << 3;
        nh = next;
      }
    }
    if (nh !== PROTO_TCP && nh !== PROTO_UDP) return OTHER;
    return this.transportAt(frame, r.ipVersion, r.src, r.dst, d, nh, p, d.length, 0);
  }

  private transport(
    frame: CaptureFrame,
    ipVersion: 4 | 6,
    d: Uint8Array,
    addrOff: number,
    proto: number,
    p: number,
    end: number,
    missing: number,
  ): DecodeResult {
    if (proto !== PROTO_TCP && proto !== PROTO_UDP) return OTHER;
    let src: string;
    let dst: string;
    let srcId: number;
    let dstId: number;
    if (ipVersion === 4) {
      srcId = ((d[addrOff]! << 24) | (d[addrOff + 1]! << 16) | (d[addrOff + 2]! << 8) | d[addrOff + 3]!) >>> 0;
      dstId = ((d[addrOff + 4]! << 24) | (d[addrOff + 5]! << 16) | (d[addrOff + 6]! << 8) | d[addrOff + 7]!) >>> 0;
      const f = this.earlyFilter;
      // A well-formed segment without SYN/FIN/RST (header checks as in transportAt, which
      // reports the malformed ones) may belong to an ignored connection: consumed here.
      if (
        f !== null &&
        proto === PROTO_TCP &&
        frame.index !== this.offeredFrame &&
        plainSegment(d, p, end) &&
        f.consumeIgnoredV4(srcId, (d[p]! << 8) | d[p + 1]!, dstId, (d[p + 2]! << 8) | d[p + 3]!, frame.index, frame.ts)
      ) {
        return OTHER;
      }
      src = this.v4(d, addrOff);
      dst = this.v4(d, addrOff + 4);
    } else {
      srcId = fnv16(d, addrOff);
      dstId = fnv16(d, addrOff + 16);
      src = this.v6(d, addrOff, srcId);
      dst = this.v6(d, addrOff + 16, dstId);
      const f = this.earlyFilter;
      // As for IPv4 above (the address strings come from the cache: nothing is allocated).
      if (
        f !== null &&
        proto === PROTO_TCP &&
        plainSegment(d, p, end) &&
        f.consumeIgnoredV6(srcId, (d[p]! << 8) | d[p + 1]!, dstId, (d[p + 2]! << 8) | d[p + 3]!, src, dst, frame.index, frame.ts)
      ) {
        return OTHER;
      }
    }
    return this.transportAt(frame, ipVersion, src, dst, d, proto, p, end, missing, srcId, dstId);
  }

  private transportAt(
    frame: CaptureFrame,
    ipVersion: 4 | 6,
    src: string,
    dst: string,
    d: Uint8Array,
    proto: number,
    p: number,
    end: number,
    missing: number,
    srcId?: number,
    dstId?: number,
  ): DecodeResult {
    const avail = end - p;
    if (proto === PROTO_TCP) {
      // TCP header, RFC 9293 §3.1.
      if (avail < 20) return this.anomaly(frame, 'tcp_header_truncated', `${avail} bytes of TCP header`);
      const hlen = (d[p + 12]! >> 4) << 2;
      if (hlen < 20) return this.anomaly(frame, 'tcp_bad_header_length', `data offset ${hlen} bytes`);
      if (hlen > avail) {
        return missing > 0
          ? this.anomaly(frame, 'tcp_header_truncated', `TCP header of ${hlen} bytes, ${avail} captured`)
          : this.anomaly(frame, 'tcp_bad_header_length', `data offset ${hlen} bytes beyond the ${avail}-byte segment`);
      }
      const packet: TcpPacket = {
        frame: frame.index,
        ts: frame.ts,
        ipVersion,
        src,
        dst,
        srcPort: (d[p]! << 8) | d[p + 1]!,
        dstPort: (d[p + 2]! << 8) | d[p + 3]!,
        seq: ((d[p + 4]! << 24) | (d[p + 5]! << 16) | (d[p + 6]! << 8) | d[p + 7]!) >>> 0,
        ack: ((d[p + 8]! << 24) | (d[p + 9]! << 16) | (d[p + 10]! << 8) | d[p + 11]!) >>> 0,
        flags: d[p + 13]!,
        window: (d[p + 14]! << 8) | d[p + 15]!,
        // subarray, not new Uint8Array(d.buffer, ...): the `buffer` getter is a C++ call.
        payload: d.subarray(p + hlen, end),
        missingPayload: missing,
        srcId,
        dstId,
      };
      return { kind: 'tcp', packet };
    }
    // UDP, RFC 768.
    if (avail < 8) return this.anomaly(frame, 'udp_header_truncated', `${avail} bytes of UDP header`);
    const ulen = (d[p + 4]! << 8) | d[p + 5]!;
    let pend = end;
    if (ulen < 8 || ulen > avail + missing) {
      if (!(ulen === 0 && ipVersion === 6)) this.anomaly(frame, 'udp_bad_length', `UDP length ${ulen}, IP payload ${avail + missing}`);
    } else if (p + ulen < end) pend = p + ulen;
    const packet: UdpPacket = {
      frame: frame.index,
      ts: frame.ts,
      ipVersion,
      src,
      dst,
      srcPort: (d[p]! << 8) | d[p + 1]!,
      dstPort: (d[p + 2]! << 8) | d[p + 3]!,
      payload: d.subarray(p + 8, pend),
    };
    return { kind: 'udp', packet };
  }

  /** IPv4 address string, cached (bounded) so repeated addresses share one string. */
  private v4(d: Uint8Array, o: number): string {
    const key = ((d[o]! << 24) | (d[o + 1]! << 16) | (d[o + 2]! << 8) | d[o + 3]!) >>> 0;
    let s = this.v4Cache.get(key);
    if (s === undefined) {
      if (this.v4Cache.size >= V4_CACHE_MAX) this.v4Cache.clear();
      s = formatIpv4(d, o);
      this.v4Cache.set(key, s);
    }
    return s;
  }

  /** IPv6 address string, cached by its FNV id (bytes compared, so a collision only misses). */
  private v6(d: Uint8Array, o: number, id: number): string {
    const hit = this.v6Cache.get(id);
    if (hit !== undefined) {
      const b = hit.bytes;
      let i = 0;
      while (i < 16 && b[i] === d[o + i]) i++;
      if (i === 16) return hit.text;
    }
    if (this.v6Cache.size >= V6_CACHE_MAX) this.v6Cache.clear();
    const text = formatIpv6(d, o);
    this.v6Cache.set(id, { bytes: d.slice(o, o + 16), text });
    return text;
  }

  private anomaly(frame: CaptureFrame, code: string, detail: string): DecodeResult {
    this.report({ code, detail: `frame ${frame.index}: ${detail}`, at: { frame: frame.index, ts: frame.ts } });
    return OTHER;
  }
}

/**
 * A well-formed TCP header at d[p, end) (20 bytes at least, data offset within the segment)
 * without SYN, FIN or RST: a segment an early filter may consume.
 */
function plainSegment(d: Uint8Array, p: number, end: number): boolean {
  if (end - p < 20) return false;
  const hlen = (d[p + 12]! >> 4) << 2;
  return hlen >= 20 && hlen <= end - p && (d[p + 13]! & (TCP_SYN | TCP_FIN | TCP_RST)) === 0;
}

/** FNV-1a over the 16 bytes of an IPv6 address: a 32-bit id for the reassembler's fast lookup. */
function fnv16(d: Uint8Array, o: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < 16; i++) h = Math.imul(h ^ d[o + i]!, 0x01000193);
  return h >>> 0;
}
