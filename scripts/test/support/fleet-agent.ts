/**
 * One real, fleet-managed agent process for the end-to-end tests: its own folder and data dir, a local YAML
 * with no sources (the pipeline comes from the control plane), `sluice-agent enroll`, then `run`; it can be
 * stopped (SIGTERM drains), killed (-9) and started again on the same identity.
 */
import { execFile, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort, stopProcess, type ProcessGroup } from '@sluice/shared/node/testing/processes';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface AgentIdentityFile {
  agentId: string;
  url: string;
  credential: string;
  instance: { counter: number; nonce: string };
}

export interface LastGoodFile {
  revision: unknown;
  hash: string;
  config: { sources: unknown[] };
}

export interface FleetAgentOptions {
  root: string;
  name: string;
  kafkaBrokers: string[];
  topicPrefix: string;
  /** Folders the pushed pipeline may read (the agent's local allowedRoots). */
  allowedRoots: string[];
  checkinWaitSeconds: number;
  applyTimeoutSeconds: number;
  processes: ProcessGroup;
  env?: Record<string, string>;
}

export class FleetAgent {
  readonly name: string;
  readonly dir: string;
  readonly dataDir: string;
  readonly configFile: string;
  readonly #options: FleetAgentOptions;
  #child: ChildProcess | undefined;
  #port = 0;

  constructor(options: FleetAgentOptions) {
    this.#options = options;
    this.name = options.name;
    this.dir = join(options.root, 'agents', options.name);
    this.dataDir = join(this.dir, 'data');
    this.configFile = join(this.dir, 'agent.yaml');
    mkdirSync(this.dir, { recursive: true });
  }

  /** Writes the local YAML (control channel only) and trades `token` for this agent's identity. */
  async enroll(url: string, token: string): Promise<string> {
    this.#port = await freePort();
    const o = this.#options;
    writeFileSync(
      this.configFile,
      [
        `dataDir: ${JSON.stringify(this.dataDir)}`,
        'kafka:',
        `  brokers: ${JSON.stringify(o.kafkaBrokers)}`,
        `  topicPrefix: ${JSON.stringify(o.topicPrefix)}`,
        'shipper:',
        '  lingerMs: 20',
        'http:',
        `  listen: 127.0.0.1:${this.#port}`,
        `allowedRoots: ${JSON.stringify(o.allowedRoots)}`,
        'controlPlane:',
        `  url: ${JSON.stringify(url)}`,
        `  checkinWaitSeconds: ${o.checkinWaitSeconds}`,
        `  applyTimeoutSeconds: ${o.applyTimeoutSeconds}`,
        '',
      ].join('\n'),
    );
    const bin = join(ROOT, 'agent/bin/sluice-agent.js');
    try {
      await run(process.execPath, [bin, 'enroll', '--config', this.configFile, '--url', url, '--token', token, '--name', this.name], {
        env: { ...process.env, SLUICE_LOG_LEVEL: 'warn', ...o.env },
        timeout: 30_000,
      });
    } catch (error) {
      const failed = error as Error & { stdout?: string; stderr?: string };
      throw new Error(`sluice-agent enroll ${this.name} failed: ${failed.message}\n${failed.stdout ?? ''}${failed.stderr ?? ''}`, { cause: error });
    }
    return this.identity().agentId;
  }

  get agentId(): string {
    return this.identity().agentId;
  }

  identity(): AgentIdentityFile {
    return JSON.parse(readFileSync(join(this.dataDir, 'fleet', 'identity.json'), 'utf8')) as AgentIdentityFile;
  }

  lastGood(): LastGoodFile | undefined {
    try {
      return JSON.parse(readFileSync(join(this.dataDir, 'fleet', 'last-good.json'), 'utf8')) as LastGoodFile;
    } catch {
      return undefined;
    }
  }

  /** `sluice-agent run`; resolves once its own HTTP surface answers. */
  async start(): Promise<void> {
    if (this.running) throw new Error(`agent ${this.name} is already running`);
    const child = this.#options.processes.start(`agent ${this.name}`, ['agent/bin/sluice-agent.js', 'run', '--config', this.configFile], {
      cwd: ROOT,
      env: { SLUICE_LOG_LEVEL: process.env.SLUICE_E2E_LOG_LEVEL ?? 'warn', ...this.#options.env },
    });
    this.#child = child;
    const deadline = Date.now() + 60_000;
    for (;;) {
      const ok = await fetch(`http://127.0.0.1:${this.#port}/healthz`, { signal: AbortSignal.timeout(2000) }).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) return;
      if (child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`agent ${this.name} did not come up:\n${this.#options.processes.output(`agent ${this.name}`).slice(-3000)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** SIGTERM: the agent drains its outbox and exits. */
  async stop(): Promise<void> {
    await stopProcess(this.#child);
  }

  async kill9(): Promise<void> {
    await kill9(this.#child);
  }

  /** What the agent itself says (`/status`): its sources, outbox and shipper. */
  async status(): Promise<Record<string, unknown> | undefined> {
    try {
      const res = await fetch(`http://127.0.0.1:${this.#port}/status`, { signal: AbortSignal.timeout(2000) });
      return res.ok ? ((await res.json()) as Record<string, unknown>) : undefined;
    } catch {
      return undefined;
    }
  }
}

/** SIGKILL, then waits for the exit (at once when the process has already exited). */
export async function kill9(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}
