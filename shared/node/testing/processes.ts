/**
 * For tests and benchmarks that run the real service processes (agent, control plane): a free port to give
 * them, a wait for their HTTP surface to answer, and a stop that waits for the exit. Not used by the services.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** A TCP port free on 127.0.0.1 right now (the OS picks it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export interface WaitForHttpOptions {
  /** The process that should answer: waiting ends with an error as soon as it exits. */
  child: ChildProcess;
  /** What it printed so far, shown (its last 4000 characters) when waiting fails. */
  output: () => string;
  /** Named in the error, e.g. "the agent". */
  what: string;
  authorization?: string;
  timeoutMs: number;
  intervalMs: number;
}

/** Resolves once `url` answers 2xx; throws with the process's last output when it exits or time runs out. */
export async function waitForHttpOk(url: string, options: WaitForHttpOptions): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  const headers = options.authorization === undefined ? {} : { authorization: options.authorization };
  for (;;) {
    const ok = await fetch(url, { headers }).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    if (Date.now() > deadline || options.child.exitCode !== null) throw new Error(`${options.what} did not come up:\n${options.output().slice(-4000)}`);
    await sleep(options.intervalMs);
  }
}

/**
 * The service processes one test file runs: each keeps its last output (the end of stdout and stderr, and a
 * non-zero exit), for the error of a wait that timed out; `stopAll` ends them together.
 */
export class ProcessGroup {
  readonly #children: ChildProcess[] = [];
  readonly #output = new Map<string, string>();
  readonly #keepChars: number;

  constructor(options: { keepChars?: number } = {}) {
    this.#keepChars = options.keepChars ?? 4000;
  }

  /** Starts `command` (Node itself unless told) with `args`, the test's environment plus `env`. */
  start(name: string, args: string[], options: { cwd: string; env?: Record<string, string>; command?: string }): ChildProcess {
    const child = spawn(options.command ?? process.execPath, args, { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (chunk: Buffer): void => void this.#output.set(name, (this.output(name) + chunk.toString()).slice(-this.#keepChars));
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    child.on('exit', (code, signal) => {
      if (code !== 0 && signal === null) this.#output.set(name, `${this.output(name)}\n[exited with code ${code}]`);
    });
    this.#children.push(child);
    return child;
  }

  /** What the process started as `name` printed last. */
  output(name: string): string {
    return this.#output.get(name) ?? '';
  }

  /** Every process's last output (its last `chars` characters), one section each. */
  describe(chars = this.#keepChars): string {
    return [...this.#output].map(([name, text]) => `--- ${name}:\n${text.slice(-chars)}`).join('\n');
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.#children.map(stopProcess));
  }
}

/** SIGTERM, then waits for the exit (at once when the process has already exited). */
export async function stopProcess(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}
