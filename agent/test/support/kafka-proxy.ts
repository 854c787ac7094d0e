import net, { type AddressInfo, type Socket } from 'node:net';
import { syncBuiltinESMExports } from 'node:module';

/** Kafka's request header starts with int32 size, int16 api key: 0 is Produce. */
const PRODUCE_API_KEY = 0;

/**
 * A TCP proxy in front of the real broker that a test can cut or make lose responses, without touching the
 * shared broker. The broker's metadata advertises its own address, so a proxy given as bootstrap address
 * would be bypassed after the first metadata request; instead `routeThrough` redirects the client's own
 * `net.createConnection` calls for the broker's address to the proxy (the Kafka client imports
 * `createConnection` from `node:net`; `syncBuiltinESMExports` updates that binding).
 */
export class KafkaProxy {
  readonly #target: { host: string; port: number };
  readonly #server = net.createServer((client) => this.#accept(client));
  readonly #pairs = new Set<{ client: Socket; broker: Socket }>();
  readonly #connect = net.createConnection;
  #refusing = false;
  #dropResponses = false;
  /** Produce requests forwarded to the broker so far. */
  produceRequests = 0;
  #onProduce: ((n: number) => void) | undefined;
  #restore: (() => void) | undefined;

  constructor(broker: string) {
    const [host, port] = broker.split(':');
    this.#target = { host: host!, port: Number(port) };
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    return (this.#server.address() as AddressInfo).port;
  }

  /** Until the returned function is called, every connection this process opens to the broker goes through the proxy. */
  routeThrough(): () => void {
    const port = (this.#server.address() as AddressInfo).port;
    const original = this.#connect;
    const target = this.#target;
    const patched = ((...args: unknown[]) => {
      const options = args[0] as net.TcpNetConnectOpts | undefined;
      if (typeof options === 'object' && Number(options.port) === target.port && options.host === target.host) {
        return original({ ...options, host: '127.0.0.1', port });
      }
      return (original as (...a: unknown[]) => Socket)(...args);
    }) as typeof net.createConnection;
    net.createConnection = patched;
    syncBuiltinESMExports();
    this.#restore = () => {
      net.createConnection = original;
      syncBuiltinESMExports();
    };
    return this.#restore;
  }

  /** Calls `hook` with the running count each time a Produce request has been forwarded whole to the broker. */
  onProduce(hook: ((n: number) => void) | undefined): void {
    this.#onProduce = hook;
  }

  /**
   * The broker keeps receiving (and writing) requests, but its answers never reach the client: the state in
   * which a producer cannot know whether a batch was written.
   */
  loseResponses(on: boolean): void {
    this.#dropResponses = on;
  }

  /** Drops every open connection, and refuses new ones until `refuse(false)`. */
  cut(refuseNew = true): void {
    this.#refusing = refuseNew;
    for (const pair of this.#pairs) {
      pair.client.destroy();
      pair.broker.destroy();
    }
    this.#pairs.clear();
  }

  refuse(on: boolean): void {
    this.#refusing = on;
  }

  async close(): Promise<void> {
    this.#restore?.();
    this.cut();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: Socket): void {
    if (this.#refusing) {
      client.destroy();
      return;
    }
    const broker = this.#connect({ host: this.#target.host, port: this.#target.port });
    const pair = { client, broker };
    this.#pairs.add(pair);
    const drop = (): void => {
      this.#pairs.delete(pair);
      client.destroy();
      broker.destroy();
    };
    client.on('error', drop).on('close', drop);
    broker.on('error', drop).on('close', drop);
    let pending: Buffer = Buffer.alloc(0);
    client.on('data', (chunk: Buffer) => {
      broker.write(chunk);
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      // Counts whole requests only, so the hook runs once the broker has the full Produce request.
      while (pending.length >= 6) {
        const size = pending.readInt32BE(0);
        if (pending.length < 4 + size) break;
        const apiKey = pending.readInt16BE(4);
        pending = pending.subarray(4 + size);
        if (apiKey === PRODUCE_API_KEY) {
          this.produceRequests += 1;
          this.#onProduce?.(this.produceRequests);
        }
      }
    });
    broker.on('data', (chunk: Buffer) => {
      if (!this.#dropResponses) client.write(chunk);
    });
  }
}
