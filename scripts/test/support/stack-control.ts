import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const STACK_SH = fileURLToPath(new URL('../../stack.sh', import.meta.url));

/** A name no other test run uses, so each test owns its topic / schema / bucket / index. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

const run = promisify(execFile);

/** Runs scripts/stack.sh with the given arguments; resolves with its combined output. */
export async function stack(...args: string[]): Promise<string> {
  const { stdout, stderr } = await run('bash', [STACK_SH, ...args], {
    maxBuffer: 10 * 1024 * 1024,
    timeout: 600_000,
  });
  return stdout + stderr;
}

/** `stack.sh status` output, also when it exits non-zero because a service is unhealthy. */
export async function stackStatus(): Promise<string> {
  try {
    return await stack('status');
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    return stdout + stderr;
  }
}
