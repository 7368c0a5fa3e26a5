import type { At, Endpoint, Side } from '../core/types.js';

/** A TCP connection as the reassembler sees it. */
export interface ConnectionInfo {
  /** Stable id: 'C' + the frame number of the first packet of the connection (e.g. "C17"). */
  readonly id: string;
  readonly client: Endpoint;
  readonly server: Endpoint;
  readonly ipVersion: 4 | 6;
  readonly firstFrame: number;
  readonly start: At;
  /** True when the three-way handshake (or at least the SYN) was seen. */
  readonly sawHandshake: boolean;
  /**
   * How client/server roles were decided. The reassembler uses the handshake, else ports;
   * 'content' is set by the pipeline when the protocol's first bytes show the guess was backwards.
   */
  readonly roleBy: 'syn' | 'syn-ack' | 'port' | 'guess' | 'content';
}

/** Why a connection ended. */
export type CloseReason = 'fin' | 'rst' | 'idle_timeout' | 'end_of_capture' | 'evicted';

/**
 * Per-connection consumer of reassembled bytes (gopacket Stream, Zeek DeliverStream/Undelivered).
 * All calls are synchronous and in stream order per side; across the two sides, a side's bytes
 * come after the peer's bytes its ACK acknowledged (DirectionOrder), so frames need not rise.
 * Bytes are borrowed. Each onData call carries bytes from exactly one TCP segment, with that
 * segment's frame and time.
 */
export interface StreamHandler {
  onData(side: Side, bytes: Uint8Array, at: At): void;
  /** `length` bytes of this side are missing (never captured, or dropped past a limit). */
  onGap(side: Side, length: number, at: At): void;
  /** This side sent FIN or RST. */
  onSideEnd?(side: Side, reason: 'fin' | 'rst', at: At): void;
  /** The connection is over; no more calls follow. */
  onClose(reason: CloseReason, at: At): void;
  /**
   * Returning true tells the reassembler to stop buffering and delivering payload for this
   * connection (not mail, or nothing more to parse); it still tracks the connection for its end.
   */
  readonly ignored?: boolean;
}

/** Creates a handler for each new connection. */
export interface StreamHandlerFactory {
  create(conn: ConnectionInfo): StreamHandler;
}
