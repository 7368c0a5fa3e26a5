/**
 * Test support (not used by the product): builds TLS traffic on loopback with node:tls and
 * records both directions' ciphertext in arrival order through a TCP proxy.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, connect as netConnect, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import type { At } from '../core/types.js';

export interface TestCert {
  readonly key: string;
  readonly cert: string;
}

/** A self-signed RSA certificate made with the openssl CLI, or null (with the reason) when it is missing. */
export function makeSelfSignedCert(cn = 'mail.test.local', bits = 2048): TestCert | string {
  const dir = mkdtempSync(join(tmpdir(), 'mailsleuth-tls-'));
  try {
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', `rsa:${bits}`, '-nodes', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem'), '-subj', `/O=Mailsleuth Test/CN=${cn}`, '-addext', `subjectAltName=DNS:${cn}`, '-days', '2'],
      { stdio: 'ignore' },
    );
    return { key: readFileSync(join(dir, 'k.pem'), 'utf8'), cert: readFileSync(join(dir, 'c.pem'), 'utf8') };
  } catch (e) {
    return `openssl is not usable (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface RecordedTls {
  /** Both directions' raw bytes, in the order the proxy received them. */
  readonly events: { side: 'client' | 'server'; bytes: Uint8Array }[];
  /** Key log lines emitted by the client (NSS format). */
  readonly keylog: string;
  readonly cipher: string;
  readonly protocol: string | null;
  readonly session: Buffer | undefined;
  /** What the server received (plaintext), for cross-checks. */
  readonly serverGot: Buffer;
}

export interface TlsExchange {
  readonly server: tls.TlsOptions;
  readonly client: tls.ConnectionOptions;
  /** Server speaks first (as SMTP does), then the client sends, then both close. */
  readonly serverSends: readonly Uint8Array[];
  readonly clientSends: readonly Uint8Array[];
}

function listen(s: Server): Promise<number> {
  return new Promise((res, rej) => {
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => res((s.address() as AddressInfo).port));
  });
}

/** Runs one TLS exchange through a recording proxy. */
export async function recordTls(x: TlsExchange): Promise<RecordedTls> {
  const events: { side: 'client' | 'server'; bytes: Uint8Array }[] = [];
  const serverChunks: Buffer[] = [];
  const srv = tls.createServer({ ...x.server, allowHalfOpen: true }, (s) => {
    for (const c of x.serverSends) s.write(c);
    s.on('data', (d: Buffer) => serverChunks.push(d));
    s.on('end', () => s.end());
    s.on('error', () => undefined);
  });
  const srvPort = await listen(srv);
  const sockets: Socket[] = [];
  const proxy = createServer({ allowHalfOpen: true }, (down) => {
    const up = netConnect({ port: srvPort, host: '127.0.0.1', allowHalfOpen: true });
    sockets.push(down, up);
    down.on('data', (d: Buffer) => {
      events.push({ side: 'client', bytes: Uint8Array.from(d) });
      up.write(d);
    });
    up.on('data', (d: Buffer) => {
      events.push({ side: 'server', bytes: Uint8Array.from(d) });
      down.write(d);
    });
    down.on('end', () => up.end());
    up.on('end', () => down.end());
    down.on('error', () => up.destroy());
    up.on('error', () => down.destroy());
  });
  const proxyPort = await listen(proxy);
  const expected = x.serverSends.reduce((n, c) => n + c.length, 0);
  const keylog: string[] = [];
  try {
    return await new Promise<RecordedTls>((resolve, reject) => {
      const c = tls.connect({ ...x.client, port: proxyPort, host: '127.0.0.1', rejectUnauthorized: false });
      let session: Buffer | undefined;
      c.on('keylog', (line: Buffer) => keylog.push(line.toString('latin1')));
      c.on('session', (s: Buffer) => (session = s));
      let got = 0;
      let sent = false;
      const send = (): void => {
        if (sent) return;
        sent = true;
        for (const d of x.clientSends) c.write(d);
        c.end();
      };
      c.on('data', (d: Buffer) => {
        got += d.length;
        if (got >= expected) send();
      });
      let cipher = '';
      let protocol: string | null = null;
      c.on('secureConnect', () => {
        cipher = c.getCipher()?.standardName ?? '';
        protocol = c.getProtocol();
        if (expected === 0) send();
      });
      c.on('error', reject);
      c.on('close', () => {
        // let the proxy flush the last segments
        setTimeout(
          () =>
            resolve({
              events,
              keylog: keylog.join(''),
              cipher,
              protocol,
              session,
              serverGot: Buffer.concat(serverChunks),
            }),
          30,
        );
      });
    });
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => proxy.close(() => r()));
    await new Promise<void>((r) => srv.close(() => r()));
  }
}

/** A deterministic payload of n bytes (text-like, with CRLF lines). */
export function payload(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = i % 78 === 76 ? 13 : i % 78 === 77 ? 10 : 0x20 + ((x >>> 16) % 95);
  }
  return out;
}

/** At value for synthetic pushes. */
export function atFrame(frame: number): At {
  return { frame, ts: { sec: 1_700_000_000 + frame, nsec: 0 } };
}
