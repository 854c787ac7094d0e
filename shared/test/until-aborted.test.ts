import { describe, expect, it } from 'vitest';
import { untilAborted } from '../node/until-aborted.ts';

describe('untilAborted', () => {
  it('settles as the promise does while the signal stays quiet', async () => {
    const controller = new AbortController();
    await expect(untilAborted(Promise.resolve(7), controller.signal)).resolves.toBe(7);
    await expect(untilAborted(Promise.reject(new Error('send failed')), controller.signal)).rejects.toThrow('send failed');
  });

  it('stops waiting for a promise that never settles when the signal aborts, with its reason', async () => {
    const controller = new AbortController();
    const waiting = untilAborted(new Promise<never>(() => undefined), controller.signal);
    controller.abort(new Error('SIGTERM'));
    await expect(waiting).rejects.toThrow('SIGTERM');
    await expect(untilAborted(Promise.resolve(1), controller.signal)).rejects.toThrow('SIGTERM');
  });
});
