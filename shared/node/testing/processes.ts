/**
 * For tests and benchmarks that run the real service processes (agent, control plane): a free port to give
 * them, a wait for their HTTP surface to answer, and a stop that waits for the exit. Not used by the services.
 */
import type { ChildProcess } from 'node:child_process';
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

/** SIGTERM, then waits for the exit (at once when the process has already exited). */
export async function stopProcess(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}
