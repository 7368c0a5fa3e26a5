import { TCP_ACK, TCP_SYN } from '../core/types.js';
import type { TcpPacket } from '../core/types.js';
import type { ConnectionInfo } from './stream-handler.js';

/**
 * Ports taken as "the server side" when a connection starts without its handshake:
 * mail (SMTP 25/465/587/2525, POP3 110/995, IMAP 143/993, ManageSieve 4190) and the common
 * non-mail services seen beside it (HTTP/HTTPS 80/443/8080, DNS 53).
 */
export const DEFAULT_SERVER_PORTS: ReadonlySet<number> = new Set([
  25, 465, 587, 2525, 110, 995, 143, 993, 4190, 80, 443, 53, 8080,
]);

/** Who is who in a new connection, decided from its first packet. */
export interface RoleDecision {
  /** The first packet was sent by the client. */
  readonly sourceIsClient: boolean;
  readonly roleBy: ConnectionInfo['roleBy'];
  readonly sawHandshake: boolean;
}

/**
 * Decides client/server from the first packet of a connection:
 * SYN without ACK → its sender is the client; SYN-ACK → its sender is the server
 * (RFC 9293 §3.5). Otherwise (capture started mid-stream) the endpoint whose port is in
 * `serverPorts` is the server ('port'); when neither or both are, the lower port is the server,
 * and on equal ports the destination ('guess').
 */
export function decideRoles(p: TcpPacket, serverPorts: ReadonlySet<number>): RoleDecision {
  const f = p.flags;
  if ((f & TCP_SYN) !== 0) {
    return (f & TCP_ACK) === 0
      ? { sourceIsClient: true, roleBy: 'syn', sawHandshake: true }
      : { sourceIsClient: false, roleBy: 'syn-ack', sawHandshake: true };
  }
  const srcIsServerPort = serverPorts.has(p.srcPort);
  const dstIsServerPort = serverPorts.has(p.dstPort);
  if (dstIsServerPort !== srcIsServerPort) {
    return { sourceIsClient: dstIsServerPort, roleBy: 'port', sawHandshake: false };
  }
  return { sourceIsClient: p.dstPort <= p.srcPort, roleBy: 'guess', sawHandshake: false };
}
