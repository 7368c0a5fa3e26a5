import type { At } from '../core/types.js';
import { isoTime } from '../core/types.js';
import type { ProtocolName } from '../core/records.js';

/** Most distinct values kept per list of a client record (names, agents, accounts...). */
const MAX_VALUES = 50;
/** Most clients tracked; past it new clients are counted only (`clients_limit` anomaly). */
export const MAX_CLIENTS = 100_000;

/** One record per client address in clients.jsonl (docs/case-folder.md). */
export interface ClientRecord {
  client_ip: string;
  conn_ids: string[];
  sessions: Record<string, number>;
  /** Names the client gave itself in EHLO/HELO/LHLO (machine names leak here). */
  helo_names: string[];
  /** IMAP ID fields it sent (name, version, os, vendor ...), one object per distinct ID. */
  imap_id: Record<string, string>[];
  /** X-Mailer / User-Agent of messages it sent (SMTP) or uploaded (IMAP APPEND). */
  user_agents: string[];
  /** Accounts it authenticated as (or tried), with outcomes. */
  accounts: { protocol: ProtocolName; username: string; mechanism: string; outcome: string; frame: number }[];
  servers: string[];
  frame_first: number;
  frame_last: number;
  ts_first: string;
  ts_last: string;
}

interface Entry {
  rec: ClientRecord;
  firstAt: At;
  lastAt: At;
}

function addUnique<T>(list: T[], v: T, same: (a: T, b: T) => boolean = (a, b) => a === b): void {
  if (list.length >= MAX_VALUES) return;
  if (!list.some((x) => same(x, v))) list.push(v);
}

/** Gathers what each client address revealed about itself across sessions. Bounded. */
export class ClientIdentities {
  #by = new Map<string, Entry>();
  dropped = 0;

  #get(ip: string, at: At): Entry | null {
    let e = this.#by.get(ip);
    if (!e) {
      if (this.#by.size >= MAX_CLIENTS) {
        this.dropped++;
        return null;
      }
      e = {
        rec: {
          client_ip: ip,
          conn_ids: [],
          sessions: {},
          helo_names: [],
          imap_id: [],
          user_agents: [],
          accounts: [],
          servers: [],
          frame_first: at.frame,
          frame_last: at.frame,
          ts_first: '',
          ts_last: '',
        },
        firstAt: at,
        lastAt: at,
      };
      this.#by.set(ip, e);
    }
    if (at.frame < e.firstAt.frame) e.firstAt = at;
    if (at.frame > e.lastAt.frame) e.lastAt = at;
    return e;
  }

  session(ip: string, protocol: ProtocolName, connId: string, server: string, first: At, last: At, facts: Record<string, unknown>): void {
    const e = this.#get(ip, first);
    if (!e) return;
    this.#get(ip, last);
    const r = e.rec;
    r.sessions[protocol] = (r.sessions[protocol] ?? 0) + 1;
    addUnique(r.conn_ids, connId);
    addUnique(r.servers, server);
    const smtp = facts.smtp as { helo_names?: string[] } | undefined;
    for (const n of smtp?.helo_names ?? []) addUnique(r.helo_names, n);
    const imap = facts.imap as { client_id?: Record<string, string> | null } | undefined;
    if (imap?.client_id && Object.keys(imap.client_id).length > 0) {
      addUnique(r.imap_id, imap.client_id, (a, b) => JSON.stringify(a) === JSON.stringify(b));
    }
  }

  account(ip: string, protocol: ProtocolName, username: string | null, mechanism: string, outcome: string, at: At): void {
    if (!username) return;
    const e = this.#get(ip, at);
    if (!e) return;
    const list = e.rec.accounts;
    const same = list.find((a) => a.protocol === protocol && a.username === username && a.outcome === outcome);
    if (!same && list.length < MAX_VALUES) list.push({ protocol, username, mechanism, outcome, frame: at.frame });
  }

  userAgent(ip: string, agent: string | null, at: At): void {
    if (!agent) return;
    const e = this.#get(ip, at);
    if (e) addUnique(e.rec.user_agents, agent);
  }

  /** Records in order of first appearance. */
  records(): ClientRecord[] {
    const out: ClientRecord[] = [];
    for (const e of this.#by.values()) {
      e.rec.frame_first = e.firstAt.frame;
      e.rec.frame_last = e.lastAt.frame;
      e.rec.ts_first = isoTime(e.firstAt.ts);
      e.rec.ts_last = isoTime(e.lastAt.ts);
      out.push(e.rec);
    }
    return out.sort((a, b) => a.frame_first - b.frame_first);
  }
}
