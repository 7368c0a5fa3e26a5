import type { AnomalyCodeInfo } from '../core/anomaly.js';

/** Every anomaly code the TCP reassembler reports (catalog for docs/anomalies.md). */
export const REASSEMBLY_ANOMALIES: readonly AnomalyCodeInfo[] = [
  {
    code: 'tcp_midstream_start',
    severity: 'info',
    description: 'Connection picked up without its handshake (capture started mid-stream); client/server roles were inferred from ports.',
  },
  {
    code: 'tcp_content_gap',
    severity: 'warning',
    description: 'Bytes of a TCP stream were never captured (hole filled by nothing before FIN/RST/end of capture/idle/limit, or acknowledged by the peer: such a hole becomes a gap once its side has sent data beyond it, a second of capture time after the first ACK, or when the connection ends, since a capture of the two directions merged by timestamp can show an ACK before its data); reported to the analyzer as a gap.',
  },
  {
    code: 'tcp_payload_truncated',
    severity: 'warning',
    description: 'Segments of this connection were cut by the capture snaplen; the missing bytes are delivered as gaps (reported once per direction).',
  },
  {
    code: 'tcp_conflicting_overlap',
    severity: 'warning',
    description: 'A retransmitted or overlapping segment carried bytes that differ from the bytes first seen at the same sequence numbers; the first-seen bytes were kept.',
  },
  {
    code: 'tcp_buffer_overflow',
    severity: 'warning',
    description: 'Out-of-order data of one direction exceeded maxBufferedBytesPerStream; the hole was declared a gap and delivery skipped ahead.',
  },
  {
    code: 'tcp_total_buffer_overflow',
    severity: 'warning',
    description: 'Out-of-order data over all connections exceeded maxBufferedBytesTotal; the largest buffer was flushed with its holes as gaps.',
  },
  {
    code: 'tcp_reorder_overflow',
    severity: 'warning',
    description: 'Bytes held so that the two directions reach the analyzer in the order their ACKs prove (a reply after the command it acknowledges) exceeded maxBufferedBytesPerStream (with that direction\'s out-of-order data) or maxBufferedBytesTotal; everything held for the connection was handed on in capture order (reported once per connection).',
  },
  {
    code: 'tcp_connection_evicted',
    severity: 'warning',
    description: 'maxConnections was reached; the least recently active connection was closed early (reason "evicted").',
  },
  {
    code: 'tcp_port_reuse',
    severity: 'info',
    description: 'A SYN with a new initial sequence number arrived on an open connection; the old connection was closed ("evicted") and a new one started.',
  },
  {
    code: 'tcp_segment_out_of_window',
    severity: 'warning',
    description: 'A segment started more than 2^30 bytes after the expected sequence number; it cannot belong to the stream and was dropped.',
  },
  {
    code: 'tcp_data_after_fin',
    severity: 'warning',
    description: 'Data was seen beyond the sequence number of the FIN of the same direction; it was dropped.',
  },
  {
    code: 'tcp_data_after_close',
    severity: 'info',
    description: 'Data arrived on a connection already closed by FIN or RST (reported once per connection; after an RST, the peer\'s packets of the next second are still taken); it was dropped.',
  },
];
