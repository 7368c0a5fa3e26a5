import type { ProtocolName } from '../core/records.js';
import { ClientIdentities } from './client-identities.js';
import type { ClientNameRow, CredentialRow, FilterRuleRow, MessageRow, SessionRow } from '../output/case-summary.js';

/** Small running totals for summary.json and the terminal summary. Bounded: lists are capped. */
export interface Aggregates {
  connections: number;
  sessions: Record<string, number>;
  sessionsEncrypted: number;
  sessionsDecrypted: number;
  transcriptEntries: number;
  messages: number;
  messagesPartial: number;
  /** Of those, partial only because the client asked for part of the message. */
  messagesExcerpt: number;
  messageBytes: number;
  attachments: number;
  credentials: number;
  credentialsSuccess: number;
  credentialsFailure: number;
  anomaliesByCode: Record<string, number>;
  /** First N credentials, for people. */
  credentialList: CredentialRow[];
  /** Client names leaked by EHLO/HELO (and later IMAP ID), with the address that used them. */
  clientNames: ClientNameRow[];
  /** First N messages, for people. */
  messageList: MessageRow[];
  filterRules: FilterRuleRow[];
  mailboxEvents: Record<string, number>;
  /** Per client address: names, IMAP ID, user agents, accounts. */
  clients: ClientIdentities;
  sessionList: SessionRow[];
}

export const LIST_CAP = 200;

export function newAggregates(): Aggregates {
  return {
    connections: 0,
    sessions: {},
    sessionsEncrypted: 0,
    sessionsDecrypted: 0,
    transcriptEntries: 0,
    messages: 0,
    messagesPartial: 0,
    messagesExcerpt: 0,
    messageBytes: 0,
    attachments: 0,
    credentials: 0,
    credentialsSuccess: 0,
    credentialsFailure: 0,
    anomaliesByCode: {},
    credentialList: [],
    clientNames: [],
    messageList: [],
    sessionList: [],
    clients: new ClientIdentities(),
    filterRules: [],
    mailboxEvents: {},
  };
}

export function pushCapped<T>(list: T[], item: T): void {
  if (list.length < LIST_CAP) list.push(item);
}
