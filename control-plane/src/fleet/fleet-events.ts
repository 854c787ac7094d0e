/**
 * Fleet changes between control-plane processes: PostgreSQL LISTEN/NOTIFY on one channel. A writer calls
 * `notify(client, event)` inside its transaction, so the event is delivered on commit and never for a change
 * that rolled back; every process (this one included) hears it on its one listening connection.
 *
 * Every process caches fleet state (agent sessions, desired revisions), so a missed event would leave a
 * cache wrong. While the listener is not connected `connected` is false and caches must not be trusted;
 * after each (re)connect listeners get a `{ kind: 'resync' }` event: whatever happened meanwhile is unknown.
 *
 * The channel is database-wide but the state is per schema (tests run many schemas in one database), so
 * each payload names the schema it was written in and a process hears only its own.
 */
import pg from 'pg';
import type { Logger } from '@sluice/shared/node/logger';

export const FLEET_CHANNEL = 'sluice_fleet';

export type FleetEventKind = 'agent-changed' | 'desired-changed' | 'revision-published' | 'rollout-changed';

export interface FleetEvent {
  kind: FleetEventKind;
  /** The agents it concerns; absent = all. */
  agentIds?: string[] | undefined;
}

export type FleetListener = (event: FleetEvent | { kind: 'resync' }) => void;

const KINDS: ReadonlySet<string> = new Set<FleetEventKind>(['agent-changed', 'desired-changed', 'revision-published', 'rollout-changed']);
/** NOTIFY payloads are limited to 8000 bytes; a longer list of agents becomes "all of them". */
const MAX_PAYLOAD_CHARS = 7900;

export interface FleetEventsOptions {
  logger?: Logger | undefined;
  /** First reconnect delay, doubled up to 10 s (default 200 ms). */
  reconnectMs?: number;
  /** application_name of the listening connection (default sluice-fleet-events), as pg_stat_activity shows it. */
  applicationName?: string;
}

/**
 * Queues the event on `client`'s transaction: delivered to every process when it commits. A function as
 * well as a method, for writers inside other transactions that hold no FleetEvents (assignment.ts).
 */
export async function notifyFleet(client: pg.ClientBase | pg.Pool, event: FleetEvent): Promise<void> {
  let agentIds = event.agentIds;
  if (agentIds !== undefined && JSON.stringify(agentIds).length > MAX_PAYLOAD_CHARS) agentIds = undefined;
  const payload = JSON.stringify({ kind: event.kind, ...(agentIds === undefined ? {} : { agentIds }) });
  await client.query(`SELECT pg_notify($1, json_build_object('schema', current_schema(), 'event', $2::json)::text)`, [FLEET_CHANNEL, payload]);
}

export class FleetEvents {
  readonly #clientConfig: pg.ClientConfig;
  readonly #listeners = new Set<FleetListener>();
  readonly #logger: Logger | undefined;
  readonly #reconnectMs: number;
  #client: pg.Client | undefined;
  #schema: string | undefined;
  #running = false;
  #connected = false;
  #retryTimer: NodeJS.Timeout | undefined;
  #delayMs: number;

  /** Listens on a connection of its own, made with the pool's settings (so in the pool's schema). */
  constructor(pool: pg.Pool, options: FleetEventsOptions = {}) {
    this.#clientConfig = { ...(pool.options as pg.ClientConfig), application_name: options.applicationName ?? 'sluice-fleet-events' };
    this.#logger = options.logger;
    this.#reconnectMs = options.reconnectMs ?? 200;
    this.#delayMs = this.#reconnectMs;
  }

  /** True while events are being received; caches are only trustworthy then. */
  get connected(): boolean {
    return this.#connected;
  }

  on(listener: FleetListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Connects and resolves once listening, or after the first failure (it keeps retrying in the background). */
  async start(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    await this.#connect();
  }

  async stop(): Promise<void> {
    this.#running = false;
    clearTimeout(this.#retryTimer);
    this.#connected = false;
    const client = this.#client;
    this.#client = undefined;
    await client?.end().catch(() => undefined);
  }

  /** Queues the event on `client`'s transaction: delivered to every process when it commits (= notifyFleet). */
  async notify(client: pg.ClientBase, event: FleetEvent): Promise<void> {
    await notifyFleet(client, event);
  }

  async #connect(): Promise<void> {
    const client = new pg.Client(this.#clientConfig);
    client.on('error', () => this.#lost(client));
    client.on('end', () => this.#lost(client));
    client.on('notification', (message) => this.#receive(message));
    try {
      await client.connect();
      const schema = await client.query<{ schema: string }>('SELECT current_schema() AS schema');
      await client.query(`LISTEN ${FLEET_CHANNEL}`);
      if (!this.#running) {
        await client.end();
        return;
      }
      this.#client = client;
      this.#schema = schema.rows[0]?.schema;
      this.#connected = true;
      this.#delayMs = this.#reconnectMs;
      this.#emit({ kind: 'resync' });
    } catch (error) {
      this.#logger?.warn({ err: error }, 'fleet events: cannot listen; retrying');
      await client.end().catch(() => undefined);
      this.#retry();
    }
  }

  #lost(client: pg.Client): void {
    if (client !== this.#client) return;
    this.#client = undefined;
    this.#connected = false;
    client.end().catch(() => undefined);
    if (this.#running) {
      this.#logger?.warn('fleet events: listening connection lost; reconnecting');
      this.#retry();
    }
  }

  #retry(): void {
    if (!this.#running) return;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => void this.#connect(), this.#delayMs);
    this.#retryTimer.unref();
    this.#delayMs = Math.min(this.#delayMs * 2, 10_000);
  }

  #receive(message: pg.Notification): void {
    if (message.channel !== FLEET_CHANNEL || message.payload === undefined) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(message.payload);
    } catch {
      return;
    }
    const { schema, event } = (parsed ?? {}) as { schema?: unknown; event?: { kind?: unknown; agentIds?: unknown } };
    if (schema !== this.#schema || typeof event?.kind !== 'string' || !KINDS.has(event.kind)) return;
    const agentIds = Array.isArray(event.agentIds) ? event.agentIds.filter((id): id is string => typeof id === 'string') : undefined;
    this.#emit({ kind: event.kind as FleetEventKind, ...(agentIds === undefined ? {} : { agentIds }) });
  }

  #emit(event: FleetEvent | { kind: 'resync' }): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (error) {
        this.#logger?.error({ err: error, event: event.kind }, 'fleet event listener failed');
      }
    }
  }
}
