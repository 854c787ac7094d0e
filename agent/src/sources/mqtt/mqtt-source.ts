/**
 * Subscribes to topic filters on one MQTT broker and commits each message to the outbox before it is
 * acknowledged. With QoS 1 and a persistent session (clean start off, MQTT 5 session expiry), a message the
 * agent has not acknowledged stays with the broker and is sent again after a reconnect: a crash before the
 * commit loses nothing, a crash between commit and PUBACK ships it twice under the same record id
 * (mqtt-records.ts), which every store keeps once.
 *
 *   connection:  connecting ──CONNACK──► connected ──close──► backoff ──jittered delay──► connecting
 *                (breaker half-open)     (closed)             (open)
 *
 *   a message:   PUBLISH ──► batch ──► outbox commit (fsync) ──► PUBACK, in arrival order
 *                                      └─ outbox full: the commit waits, no PUBACK goes out, and the broker
 *                                         stops sending once its in-flight window is full (backpressure)
 *
 * Why we hold PUBACKs ourselves: mqtt.js answers a QoS 1 PUBLISH with PUBACK as soon as `handleMessage`
 * calls back, and handles the next packet only then (`customHandleAcks` has the same shape, and exists for
 * MQTT 5 only). Calling back after the commit would mean one commit, so one fsync, per message. Instead
 * `handleMessage` calls back at once and the PUBACK it triggers is taken out of the client's send path
 * (`_sendPacket`; agent/package.json pins mqtt.js to one exact version for it: upgrade it only with the MQTT
 * tests) and written after the batch that holds the message is committed. MQTT
 * requires PUBACKs in the order of the PUBLISHes (3.1.1 §4.6, 5.0 §4.6): batches are committed in order and
 * each one's PUBACKs go out in order. A PUBACK held over a lost connection is dropped, never sent on the next
 * connection: the broker redelivers the message (DUP set), and one this process already committed is then
 * acknowledged without a second commit.
 *
 * The broker holds the read position, so there is no checkpoint of positions; the one checkpoint is the list
 * of filters subscribed, so that a filter removed from the config is unsubscribed from the session.
 *
 * QoS 2 is not offered: its second handshake buys nothing when ids are derived, and mqtt.js would answer
 * PUBREC before the commit.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import mqtt, { type IClientOptions, type IConnackPacket, type IPublishPacket, type MqttClient, type Packet } from 'mqtt';
import type { MqttSourceConfig } from '@sluice/shared/agent-config/mqtt';
import { RetryableError, withRetry } from '@sluice/shared/node/retry';
import type { AllowedRoots } from '../../config/allowed-roots.ts';
import type { OutboxMessage, Source, SourceContext, SourceState } from '../source.ts';
import { MqttRecords } from './mqtt-records.ts';
import { parseTopicPattern, type TopicPattern } from './topic-pattern.ts';

export type BreakerState = 'closed' | 'half-open' | 'open';
const BREAKER_GAUGE: Record<BreakerState, number> = { closed: 0, 'half-open': 1, open: 2 };
type Connection = 'connecting' | 'connected' | 'backoff' | 'stopped';
const CONNECTION_BREAKER: Record<Connection, BreakerState> = { connecting: 'half-open', connected: 'closed', backoff: 'open', stopped: 'open' };

export interface MqttSourceOptions {
  /** The config file's folder: relative TLS and password file paths resolve against it. */
  baseDir: string;
  /** `passwordFile` must be inside these (its content is sent to the broker named by the config). */
  allowedRoots?: AllowedRoots;
  /** Called on every connection change, as a breaker state (the runtime's breaker gauge). */
  onConnectionState?: (state: BreakerState, broker: string) => void;
  /** Called when a connection was made again after one was lost (the reconnects counter). */
  onReconnect?: () => void;
}

/** A received message on its way to the outbox; `message` is absent for a redelivery already committed. */
interface Pending {
  message: OutboxMessage | undefined;
  id: string;
  messageId: number | undefined;
  /** The PUBACK the client wanted to send for it, held until the commit. */
  ack: Packet | undefined;
  /** The connection it arrived on: a PUBACK is only ever sent on that one. */
  generation: number;
}

type SendPacket = (packet: Packet, cb?: (error?: Error) => void, ...rest: unknown[]) => void;

const SUBSCRIPTIONS_KEY = 'subscriptions';
/**
 * A connection that ends sooner than this after its CONNACK counts as a flap: the next connect waits with
 * backoff too. Without it, two clients with one client id (each taking the session from the other) or a
 * broker that closes right after accepting would be redialled in a tight loop.
 */
const SHORT_CONNECTION_MS = 5_000;
/** Ids committed by this process, for redeliveries (DUP) after a reconnect: bounded, oldest dropped first. */
const RECENT_IDS = 100_000;
const END_TIMEOUT_MS = 2_000;

export class MqttSource implements Source {
  readonly id: string;
  readonly kind = 'mqtt' as const;
  /** host:port: what record ids, status and metric labels name the broker by (never credentials). */
  readonly broker: string;
  private readonly config: MqttSourceConfig;
  private readonly options: MqttSourceOptions;
  private readonly patterns: TopicPattern[];
  private readonly stopController = new AbortController();
  private ctx: SourceContext | undefined;
  private client: MqttClient | undefined;
  private sendPacket: SendPacket | undefined;
  private records: MqttRecords | undefined;
  private clientId = '';
  private loop: Promise<void> | undefined;
  private state: SourceState['state'] = 'stopped';
  private connection: Connection = 'stopped';
  private generation = 0;
  private batch: Pending[] = [];
  /** Set while `handleMessage` runs: the PUBACK the client sends meanwhile is this message's. */
  private current: Pending | undefined;
  private flushing: Promise<void> | undefined;
  private flushScheduled = false;
  private readonly recent = new Map<string, true>();
  private caughtUp = false;
  private lastError: SourceState['lastError'];
  private subscriptions: Record<string, number> = {};
  private stats = {
    received: 0,
    committed: 0,
    acknowledged: 0,
    parseErrors: 0,
    redeliveries: 0,
    redeliveriesSkipped: 0,
    acksDropped: 0,
    reconnects: 0,
    batches: 0,
    connectedAt: undefined as string | undefined,
    disconnectedAt: undefined as string | undefined,
    sessionPresent: undefined as boolean | undefined,
  };

  constructor(config: MqttSourceConfig, options: MqttSourceOptions) {
    this.id = config.id;
    this.config = config;
    this.options = options;
    const url = new URL(config.url);
    this.broker = `${url.hostname}:${url.port || (url.protocol === 'mqtts:' ? '8883' : '1883')}`;
    this.patterns = config.topics.map(parseTopicPattern);
  }

  async start(ctx: SourceContext): Promise<void> {
    this.ctx = ctx;
    this.clientId = this.config.clientId ?? defaultClientId(ctx.agentId, this.id);
    this.records = new MqttRecords({
      agentId: ctx.agentId,
      sourceId: this.id,
      dataset: this.config.dataset,
      broker: this.broker,
      format: this.config.format,
      patterns: this.patterns,
      topicField: this.config.topicField,
      idField: this.config.idField,
      idProperty: this.config.idProperty,
      maxRecordBytes: this.config.maxRecordBytes,
    });
    // Files are read now, so a missing key or password file fails the start with its name.
    const client = mqtt.connect(this.config.url, this.clientOptions());
    this.client = client;
    client.on('error', (error) => this.fail(error));
    // MQTT 5: the broker says why it ends the connection (0x8E: another client took the session over).
    client.on('disconnect', (packet) => this.fail(new Error(`${this.broker}: broker disconnected (reason ${packet.reasonCode ?? 0}${packet.properties?.reasonString ? `: ${packet.properties.reasonString}` : ''})`)));
    client.handleMessage = (packet, callback) => this.receive(packet, callback);
    const send = (client as unknown as { _sendPacket: SendPacket })._sendPacket.bind(client);
    this.sendPacket = send;
    (client as unknown as { _sendPacket: SendPacket })._sendPacket = (packet, cb, ...rest) => {
      const current = this.current;
      if (packet.cmd === 'puback' && current !== undefined && current.messageId === packet.messageId) {
        current.ack = packet;
        cb?.();
        return;
      }
      send(packet, cb, ...rest);
    };
    this.state = 'starting';
    this.setConnection('connecting');
    this.loop = this.run(AbortSignal.any([ctx.signal, this.stopController.signal]));
    return Promise.resolve();
  }

  async stop(): Promise<void> {
    if (this.stopController.signal.aborted) {
      await this.loop;
      return;
    }
    this.stopController.abort(new Error('source stopped'));
    await this.loop;
    // A commit in progress ends (it rejects once the runtime's signal aborted); nothing is committed after.
    await this.flushing;
    const client = this.client;
    if (client !== undefined) {
      // DISCONNECT keeps the session (and what is queued in it) for sessionExpirySeconds.
      await Promise.race([client.endAsync(false).catch(() => undefined), this.requireCtx().clock.sleep(END_TIMEOUT_MS).catch(() => undefined)]);
      if (!client.disconnected) await client.endAsync(true).catch(() => undefined);
    }
    this.setConnection('stopped');
    this.state = 'stopped';
  }

  status(): SourceState {
    const pending = this.batch.length;
    return {
      state: this.state,
      ...(this.caughtUp ? { caughtUp: true } : {}),
      ...(this.lastError === undefined ? {} : { lastError: this.lastError }),
      details: {
        broker: this.broker,
        clientId: this.clientId,
        protocolVersion: this.config.protocolVersion,
        connection: this.connection,
        breaker: CONNECTION_BREAKER[this.connection],
        breakerState: BREAKER_GAUGE[CONNECTION_BREAKER[this.connection]],
        subscriptions: this.subscriptions,
        awaitingCommit: pending,
        ...this.stats,
      },
    };
  }

  /** Connect, subscribe, wait for the connection to end; again with backoff until stopped. */
  private async run(signal: AbortSignal): Promise<void> {
    const ctx = this.requireCtx();
    const { reconnect } = this.config;
    let first = true;
    let flaps = 0;
    const aborted = new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    while (!signal.aborted) {
      let connack: IConnackPacket;
      try {
        if (flaps > 0) {
          const delay = Math.min(reconnect.maxDelayMs, Math.round(reconnect.minDelayMs * 2 ** (flaps - 1) * (1 + Math.random())));
          await ctx.clock.sleep(delay, { signal });
        }
        connack = await withRetry(() => this.connectOnce(first, signal), {
          retries: Infinity,
          minDelayMs: reconnect.minDelayMs,
          maxDelayMs: reconnect.maxDelayMs,
          signal,
          clock: ctx.clock,
          onRetry: (error, attempt, delayMs) => {
            this.state = 'backoff';
            this.setConnection('backoff');
            ctx.log.debug({ source: this.id, broker: this.broker, attempt, delayMs, reason: error.message }, 'mqtt reconnect');
          },
        });
      } catch {
        break;
      }
      const closed = new Promise<void>((resolve) => this.client!.once('close', () => resolve()));
      if (!first) {
        this.stats.reconnects++;
        this.options.onReconnect?.();
      }
      try {
        await this.subscribe(first, connack.sessionPresent);
        if (first) first = false;
        this.state = 'running';
        this.caughtUp = true;
      } catch (error) {
        if (signal.aborted) break;
        // A subscription cut short by a lost connection is not news: the loss reported its own reason.
        if (this.client!.connected) {
          this.fail(error);
          // Without its subscriptions the session would sit idle: drop the connection and try again.
          this.client!.stream.destroy();
        }
      }
      const connectedAt = ctx.clock.now();
      await Promise.race([closed, aborted]);
      if (signal.aborted) break;
      const lasted = ctx.clock.now() - connectedAt;
      flaps = lasted < SHORT_CONNECTION_MS ? Math.min(flaps + 1, 20) : 0;
      this.fail(new Error(`${this.broker}: connection lost after ${lasted} ms${flaps > 0 ? ' (a broker closing at once: another client with this client id?)' : ''}`));
      this.stats.disconnectedAt = new Date(ctx.clock.now()).toISOString();
      this.state = 'backoff';
      this.setConnection('backoff');
    }
  }

  /** One connection attempt: resolves with the CONNACK, rejects (to be retried) on error, refusal or close. */
  private connectOnce(first: boolean, signal: AbortSignal): Promise<IConnackPacket> {
    const client = this.client!;
    signal.throwIfAborted();
    this.setConnection('connecting');
    return new Promise<IConnackPacket>((resolve, reject) => {
      let failure: Error | undefined;
      const cleanup = (): void => {
        client.off('connect', onConnect);
        client.off('error', onError);
        client.off('close', onClose);
      };
      const onConnect = (connack: IConnackPacket): void => {
        cleanup();
        this.generation++;
        this.stats.connectedAt = new Date(this.requireCtx().clock.now()).toISOString();
        this.stats.sessionPresent = connack.sessionPresent;
        this.setConnection('connected');
        resolve(connack);
      };
      const onError = (error: Error): void => {
        failure = error;
      };
      const onClose = (): void => {
        cleanup();
        reject(new RetryableError(`${this.broker}: ${failure?.message ?? 'connection closed before CONNACK'}`, { cause: failure }));
      };
      client.on('connect', onConnect);
      client.on('error', onError);
      client.on('close', onClose);
      if (first) client.connect();
      else client.reconnect();
    });
  }

  /**
   * Subscribes the configured filters: on a new session always, on a kept one at this run's first
   * connection (the config may have changed since the session was made; MQTT 5 retain handling 1 keeps the
   * broker from sending retained messages again for a subscription the session has). Filters subscribed by
   * an earlier config and no longer configured are unsubscribed.
   */
  private async subscribe(firstOfRun: boolean, sessionPresent: boolean): Promise<void> {
    if (!firstOfRun && sessionPresent) return;
    const ctx = this.requireCtx();
    const client = this.client!;
    const filters = [...new Set(this.patterns.map((p) => p.filter))];
    const earlier = JSON.parse(ctx.checkpoint(SUBSCRIPTIONS_KEY) ?? '[]') as string[];
    const stale = sessionPresent ? earlier.filter((f) => !filters.includes(f)) : [];
    if (stale.length > 0) await client.unsubscribeAsync(stale);
    const qos = this.config.qos;
    const map = Object.fromEntries(filters.map((f) => [f, { qos, ...(this.config.protocolVersion === 5 ? { rh: 1 } : {}) }]));
    const granted = await client.subscribeAsync(map);
    const refused = granted.filter((g) => g.qos > 2);
    this.subscriptions = Object.fromEntries(granted.map((g) => [g.topic, g.qos]));
    if (refused.length > 0) throw new Error(`${this.broker}: subscription refused for ${refused.map((g) => g.topic).join(', ')} (reason ${refused[0]!.qos})`);
    if (JSON.stringify(earlier) !== JSON.stringify(filters)) {
      await ctx.commit([], [{ sourceId: this.id, key: SUBSCRIPTIONS_KEY, value: JSON.stringify(filters) }]);
    }
  }

  /** mqtt.js's per-message hook: the message joins the batch; the PUBACK it answers with is held. */
  private receive(packet: IPublishPacket, callback: (error?: Error) => void): void {
    const ctx = this.ctx;
    if (ctx === undefined || this.stopping(ctx)) {
      // Not committed, so not acknowledged: the broker keeps it for the next run.
      this.current = { message: undefined, id: '', messageId: packet.messageId, ack: undefined, generation: -1 };
      callback();
      this.current = undefined;
      return;
    }
    const pending = this.pendingOf(ctx, packet);
    this.current = pending;
    try {
      callback();
    } finally {
      this.current = undefined;
    }
    if (pending === undefined) return;
    this.batch.push(pending);
    if (this.batch.length >= this.config.batchSize) {
      this.flush();
    } else if (!this.flushScheduled) {
      // Everything parsed from the same socket read joins this batch (the client handles them on next ticks).
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        this.flush();
      });
    }
  }

  private pendingOf(ctx: SourceContext, packet: IPublishPacket): Pending | undefined {
    this.stats.received++;
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    const envelope = this.records!.envelope(
      { topic: packet.topic, payload, userProperties: packet.properties?.userProperties, retain: packet.retain },
      new Date(ctx.clock.now()).toISOString(),
    );
    const base = { id: envelope.id, messageId: packet.messageId, ack: undefined, generation: this.generation };
    if (packet.dup) {
      this.stats.redeliveries++;
      if (this.recent.has(envelope.id)) {
        this.stats.redeliveriesSkipped++;
        return { ...base, message: undefined };
      }
    }
    let message = ctx.toMessage(envelope);
    let parseError = envelope.parseError !== undefined;
    if (message.value.length > this.config.maxRecordBytes) {
      message = ctx.toMessage(this.records!.oversized(envelope, payload, message.value.length));
      parseError = true;
    }
    if (parseError) this.stats.parseErrors++;
    return { ...base, message };
  }

  /** Commits the batch, then sends its PUBACKs; one commit at a time, the next batch right after. */
  private flush(): void {
    if (this.flushing !== undefined || this.batch.length === 0) return;
    const taken = this.batch.splice(0, this.config.batchSize);
    this.flushing = this.commitAndAck(taken).finally(() => {
      this.flushing = undefined;
      if (this.batch.length > 0) this.flush();
    });
  }

  private async commitAndAck(taken: Pending[]): Promise<void> {
    const ctx = this.requireCtx();
    const messages = taken.flatMap((p) => (p.message === undefined ? [] : [p.message]));
    try {
      // An acknowledged message cannot be asked for again, so the commit must survive a power loss too.
      if (messages.length > 0) await ctx.commit(messages, [], { fsync: true });
    } catch (error) {
      if (this.stopping(ctx)) return;
      this.fail(error);
      // Not committed, so never acknowledged: drop the connection and let the broker send them again.
      this.client?.stream.destroy();
      return;
    }
    this.stats.committed += messages.length;
    this.stats.batches++;
    // Only what is committed counts as known: a redelivery of a message whose commit is still pending is
    // committed again (same id), never acknowledged on the strength of a commit that may yet fail.
    for (const p of taken) if (p.message !== undefined) this.remember(p.id);
    const client = this.client;
    for (const p of taken) {
      if (p.ack === undefined) continue;
      if (p.generation === this.generation && client?.connected === true && !this.stopping(ctx)) {
        this.sendPacket!(p.ack);
        this.stats.acknowledged++;
      } else {
        this.stats.acksDropped++;
      }
    }
  }

  private stopping(ctx: SourceContext): boolean {
    return ctx.signal.aborted || this.stopController.signal.aborted;
  }

  private remember(id: string): void {
    this.recent.delete(id);
    this.recent.set(id, true);
    if (this.recent.size > RECENT_IDS) this.recent.delete(this.recent.keys().next().value!);
  }

  private clientOptions(): IClientOptions {
    const c = this.config;
    const password = this.password();
    const tls = c.tls;
    const file = (p: string | undefined): Buffer | undefined => (p === undefined ? undefined : readSourceFile(path.resolve(this.options.baseDir, p), 'tls'));
    return {
      manualConnect: true,
      reconnectPeriod: 0,
      resubscribe: false,
      clientId: this.clientId,
      protocolVersion: c.protocolVersion,
      clean: false,
      keepalive: c.keepaliveSeconds,
      connectTimeout: c.reconnect.connectTimeoutMs,
      ...(c.protocolVersion === 5 ? { properties: { sessionExpiryInterval: c.sessionExpirySeconds, receiveMaximum: c.maxInFlight } } : {}),
      ...(c.username === undefined ? {} : { username: c.username }),
      ...(password === undefined ? {} : { password }),
      ...(tls === undefined
        ? {}
        : {
            ca: file(tls.ca),
            cert: file(tls.cert),
            key: file(tls.key),
            rejectUnauthorized: tls.rejectUnauthorized,
            ...(tls.servername === undefined ? {} : { servername: tls.servername }),
          }),
    };
  }

  private password(): string | undefined {
    const { password, passwordFile } = this.config;
    if (passwordFile === undefined) return password;
    const target = path.resolve(this.options.baseDir, passwordFile);
    if (this.options.allowedRoots !== undefined && !this.options.allowedRoots.contains(target)) {
      throw new Error(`passwordFile ${target} is not inside allowedRoots`);
    }
    return readSourceFile(target, 'passwordFile').toString('utf8').replace(/\r?\n$/, '');
  }

  private setConnection(connection: Connection): void {
    if (this.connection === connection) return;
    const before = CONNECTION_BREAKER[this.connection];
    this.connection = connection;
    const after = CONNECTION_BREAKER[connection];
    if (connection !== 'connecting') this.ctx?.log.info({ source: this.id, broker: this.broker, connection }, 'mqtt connection state changed');
    if (before !== after || connection === 'connecting') this.options.onConnectionState?.(after, this.broker);
  }

  private fail(error: unknown): void {
    this.lastError = { at: new Date().toISOString(), message: error instanceof Error ? error.message : String(error) };
    this.ctx?.reportError(error, { source: this.id, broker: this.broker });
  }

  private requireCtx(): SourceContext {
    if (!this.ctx) throw new Error(`mqtt source ${this.id} used before start()`);
    return this.ctx;
  }
}

/**
 * `sluice-<16 hex>` from the agent and source ids: stable across restarts (it names the session on the
 * broker), different per agent (enrollment gives every clone its own id), and within the 23 characters an
 * MQTT 3.1.1 broker must accept.
 */
export function defaultClientId(agentId: string, sourceId: string): string {
  return `sluice-${createHash('sha256').update(`${agentId}\n${sourceId}`).digest('hex').slice(0, 16)}`;
}

function readSourceFile(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new Error(`${what} ${file}: ${(error as Error).message}`, { cause: error });
  }
}
