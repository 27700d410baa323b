import { EventEmitter } from 'node:events';
import { sql, type Kysely } from 'kysely';
import pg from 'pg';
import type { Database } from './schema.js';

export interface Notifier {
  publish(channel: string, payload: unknown): Promise<void>;
  subscribe(channel: string, handler: (payload: unknown) => void): Promise<void>;
  /** Why messages from other instances may be missed just now (the listener is down), or undefined. */
  deaf(): string | undefined;
  /** Runs once listening again after an outage: whatever was published meanwhile was missed. */
  onReconnect(handler: () => void): void;
  close(): Promise<void>;
}

/** One process, one SQLite file: an in-process emitter is every instance there is. */
export function localNotifier(): Notifier {
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);
  return {
    publish: async (channel, payload) => void emitter.emit(channel, payload),
    subscribe: async (channel, handler) => void emitter.on(channel, handler),
    deaf: () => undefined,
    onReconnect: () => undefined,
    close: async () => void emitter.removeAllListeners(),
  };
}

/** The listener's reconnection backoff: quick at first, then once a second for as long as it takes. */
const RELISTEN_FIRST_MS = 100;
const RELISTEN_MAX_MS = 1000;

/**
 * PostgreSQL LISTEN/NOTIFY: a dedicated connection listens; publishing is pg_notify. If the
 * listening connection drops (a failover, a restart), it reconnects and listens again, with a
 * capped backoff, for as long as it takes; then onReconnect handlers re-read what they may have
 * missed, since a message published while nobody listened is gone.
 */
export function postgresNotifier(connection: pg.ClientConfig, db: Kysely<Database>, onError: (err: Error) => void): Notifier {
  const handlers = new Map<string, ((payload: unknown) => void)[]>();
  const reconnected: (() => void)[] = [];
  let client: pg.Client | undefined;
  let down: string | undefined = 'not listening yet';
  let retry: NodeJS.Timeout | undefined;
  let closed = false;

  async function connect(): Promise<void> {
    const next = new pg.Client(connection);
    next.on('notification', (message) => {
      for (const h of handlers.get(message.channel) ?? []) h(JSON.parse(message.payload ?? 'null'));
    });
    next.on('error', (err) => {
      if (next === client) onError(err);
      lost(next, err.message);
    });
    next.on('end', () => lost(next, 'connection ended'));
    try {
      await next.connect();
      for (const channel of handlers.keys()) await next.query(`LISTEN ${next.escapeIdentifier(channel)}`);
    } catch (err) {
      void next.end().catch(() => undefined);
      throw err;
    }
    client = next;
    down = undefined;
  }

  function lost(which: pg.Client, why: string): void {
    if (which !== client || closed) return;
    client = undefined;
    down = why;
    void which.end().catch(() => undefined);
    relisten(RELISTEN_FIRST_MS, true);
  }

  function relisten(delay: number, first: boolean): void {
    retry = setTimeout(() => {
      connect().then(
        () => {
          for (const handler of reconnected) handler();
        },
        (err: Error) => {
          if (closed) return;
          down = err.message;
          // One line when an outage starts, not one a second while it lasts.
          if (first) onError(err);
          relisten(Math.min(delay * 2, RELISTEN_MAX_MS), false);
        },
      );
    }, delay);
    // A command that never closes its store must still be able to exit.
    retry.unref();
  }

  return {
    async publish(channel, payload) {
      await sql`select pg_notify(${channel}, ${JSON.stringify(payload)})`.execute(db);
    },
    async subscribe(channel, handler) {
      const fresh = !handlers.has(channel);
      handlers.set(channel, [...(handlers.get(channel) ?? []), handler]);
      // The first subscription connects, and start-up fails if it cannot; while reconnecting,
      // the new channel is listened to on reconnection.
      if (client) {
        if (fresh) await client.query(`LISTEN ${client.escapeIdentifier(channel)}`);
      } else if (!retry) {
        await connect();
      }
    },
    deaf: () => down,
    onReconnect: (handler) => void reconnected.push(handler),
    async close() {
      closed = true;
      clearTimeout(retry);
      const last = client;
      client = undefined;
      await last?.end().catch(() => undefined);
    },
  };
}
