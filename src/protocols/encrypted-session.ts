import type { At, Side } from '../core/types.js';
import type { ProtocolName } from '../core/records.js';
import type { AnalyzerContext, ProtocolAnalyzer } from './analyzer.js';

/**
 * Stands in for a protocol analyzer on an implicit-TLS port (465, 993, 995) when there is no key:
 * it records that the session is encrypted and counts bytes per side. Decryption is a later stage.
 */
export class EncryptedSession implements ProtocolAnalyzer {
  readonly protocol: ProtocolName;
  #ctx: AnalyzerContext;
  #bytes = { client: 0, server: 0 };
  #noted = false;

  constructor(protocol: ProtocolName, ctx: AnalyzerContext) {
    this.protocol = protocol;
    this.#ctx = ctx;
  }

  onData(side: Side, bytes: Uint8Array, at: At): void {
    if (!this.#noted) {
      this.#noted = true;
      this.#ctx.markEncrypted(at);
      this.#ctx.transcript({ side, kind: 'tls', lines: ['implicit TLS: encrypted, no key'] }, at, at);
    }
    this.#bytes[side] += bytes.length;
  }

  onGap(): void {}

  onClose(): void {}

  summary() {
    return {
      commands: 0,
      replies: 0,
      transport: 'tls' as const,
      facts: { encrypted: { client_bytes: this.#bytes.client, server_bytes: this.#bytes.server, key: 'none' } },
    };
  }
}
