import { stat } from 'node:fs/promises';
import type { Clock } from '@sluice/shared/clock';

/** How often a file that is still changing is looked at again (at most; less when stableMs is shorter). */
const RECHECK_MS = 250;

/**
 * Resolves true once the file has kept its size and mtime for `stableMs` (at once for 0: a file renamed in
 * is complete), false when it vanished meanwhile. Rejects when `signal` aborts; the file stays where it is.
 */
export async function awaitComplete(full: string, stableMs: number, clock: Clock, signal: AbortSignal): Promise<boolean> {
  let last = await signature(full);
  let since = clock.now();
  while (last !== undefined && clock.now() - since < stableMs) {
    await clock.sleep(Math.min(RECHECK_MS, stableMs), { signal });
    const now = await signature(full);
    if (now !== last) {
      last = now;
      since = clock.now();
    }
  }
  return last !== undefined;
}

async function signature(full: string): Promise<string | undefined> {
  try {
    const s = await stat(full);
    return `${s.size}:${s.mtimeMs}`;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
