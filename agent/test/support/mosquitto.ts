/**
 * MQTT for the mqtt source's tests: `mosquitto_pub` (Debian mosquitto-clients) as the publisher, a producer
 * nobody here wrote; a private mosquitto (own port, own persistence folder) for a test that restarts the
 * broker without disturbing the stack's, or that wants TLS with client certificates; and removing a test's
 * persistent session from a broker.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import mqtt from 'mqtt';
import { freePort } from '@sluice/shared/node/testing/processes';
import { waitFor } from '@sluice/shared/node/testing/wait-for';
import type { TestCertificates } from '@sluice/shared/node/testing/test-ca';

const MOSQUITTO = process.env.SLUICE_MOSQUITTO_BIN ?? '/usr/sbin/mosquitto';

/** How mosquitto_pub connects: QoS, a user, and for an `mqtts://` broker the CA and a client certificate. */
export interface PublishOptions {
  qos?: 0 | 1;
  username?: string;
  password?: string;
  tls?: { ca: string; cert?: string; key?: string };
}

/** Publishes each line as one message with `mosquitto_pub -l`; resolves once it exited 0 (all acknowledged at QoS 1). */
export async function publishLines(url: string, topic: string, lines: readonly string[], options: PublishOptions = {}): Promise<void> {
  const publisher = startPublisher(url, topic, options);
  for (const line of lines) await publisher.write(line);
  await publisher.end();
}

const PUBLISH_WINDOW = 200;

export interface Publisher {
  write(line: string): Promise<void>;
  /** Closes stdin and waits for mosquitto_pub to exit 0. */
  end(): Promise<void>;
}

/**
 * `mosquitto_pub -l` loses lines it reads faster than it can send them (seen with bursts of tens of
 * thousands), and at the end of its input exits once the last message it sent is acknowledged. So at QoS 1
 * the lines are fed with a window: at most PUBLISH_WINDOW written and not yet acknowledged (counted from its
 * debug output, `-d`), and stdin stays open until every line has its PUBACK.
 */
export function startPublisher(url: string, topic: string, options: PublishOptions = {}): Publisher {
  const { hostname, port } = new URL(url);
  const qos = options.qos ?? 1;
  const args = ['-h', hostname, '-p', port || (url.startsWith('mqtts:') ? '8883' : '1883'), '-t', topic, '-q', String(qos), '-l', '-d'];
  if (options.username !== undefined) args.push('-u', options.username);
  if (options.password !== undefined) args.push('-P', options.password);
  if (options.tls !== undefined) {
    args.push('--cafile', options.tls.ca);
    if (options.tls.cert !== undefined && options.tls.key !== undefined) args.push('--cert', options.tls.cert, '--key', options.tls.key);
  }
  // Line-buffered, so each PUBACK line arrives when it happens (a pipe would get it in 4 KiB blocks).
  const child = spawn('stdbuf', ['-oL', 'mosquitto_pub', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  let written = 0;
  let acked = 0;
  let partial = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout.on('data', (d: Buffer) => {
    const text = partial + d.toString();
    const lines = text.split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) if (l.includes('received PUBACK')) acked++;
  });
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  return {
    async write(line) {
      if (qos === 1 && written - acked >= PUBLISH_WINDOW) {
        await waitFor(() => written - acked < PUBLISH_WINDOW || child.exitCode !== null, { timeoutMs: 60_000, intervalMs: 1, what: `mosquitto_pub to acknowledge (${acked}/${written})`, detail: () => stderr });
      }
      written++;
      if (!child.stdin.write(`${line}\n`)) await once(child.stdin, 'drain');
    },
    async end() {
      if (qos === 1) await waitFor(() => acked >= written || child.exitCode !== null, { timeoutMs: 300_000, intervalMs: 20, what: `PUBACKs for ${written} messages (${acked} so far)` });
      child.stdin.end();
      const [code, signal] = await exited;
      if (code !== 0) throw new Error(`mosquitto_pub exited ${code ?? signal}: ${stderr}`);
    },
  };
}

export interface PrivateBroker {
  url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
}

/**
 * A mosquitto of the test's own in `dir`, persistent like the stack's; `stop` is SIGTERM (it saves its sessions).
 * With `tls` (the server's certificate and its CA) it listens for `mqtts://` only and takes only clients with
 * a certificate from that CA, the certificate's common name as their user name.
 */
export async function startPrivateBroker(dir: string, options: { passwordFile?: string; tls?: Pick<TestCertificates, 'caFile' | 'certFile' | 'keyFile'> } = {}): Promise<PrivateBroker> {
  const port = await freePort();
  mkdirSync(path.join(dir, 'data'), { recursive: true });
  const conf = path.join(dir, 'mosquitto.conf');
  const { tls } = options;
  const lines = [
    `listener ${port} 127.0.0.1`,
    ...(tls === undefined ? [] : [`cafile ${tls.caFile}`, `certfile ${tls.certFile}`, `keyfile ${tls.keyFile}`, 'require_certificate true', 'use_identity_as_username true']),
    options.passwordFile === undefined && tls === undefined ? 'allow_anonymous true' : 'allow_anonymous false',
    ...(options.passwordFile === undefined ? [] : [`password_file ${options.passwordFile}`]),
    'persistence true',
    `persistence_location ${path.join(dir, 'data')}/`,
    'max_queued_messages 1000000',
    'max_inflight_messages 1000',
    ...(process.getuid?.() === 0 ? ['user root'] : []),
    'log_dest stderr',
    'log_type error',
  ];
  writeFileSync(conf, `${lines.join('\n')}\n`);
  let child: ChildProcess | undefined;
  const broker: PrivateBroker = {
    url: `${tls === undefined ? 'mqtt' : 'mqtts'}://127.0.0.1:${port}`,
    async start() {
      child = spawn(MOSQUITTO, ['-c', conf], { stdio: ['ignore', 'ignore', 'inherit'] });
      await waitFor(() => canConnect(port), { timeoutMs: 10_000, what: `mosquitto on ${port}` });
    },
    async stop() {
      const running = child;
      if (running === undefined || running.exitCode !== null || running.signalCode !== null) return;
      const exited = once(running, 'exit');
      running.kill('SIGTERM');
      await exited;
    },
  };
  await broker.start();
  return broker;
}

async function canConnect(port: number): Promise<boolean> {
  const { createConnection } = await import('node:net');
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

/** Ends a test's persistent session on the broker: a clean start with session expiry 0. */
export async function removeSession(url: string, clientId: string, auth: { username?: string; password?: string } = {}): Promise<void> {
  const client = await mqtt.connectAsync(url, { clientId, clean: true, protocolVersion: 5, properties: { sessionExpiryInterval: 0 }, reconnectPeriod: 0, ...auth });
  await client.endAsync();
}
