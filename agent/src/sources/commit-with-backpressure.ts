import { OutboxFullError } from '../outbox/outbox.ts';
import type { Checkpoint, OutboxMessage, SourceContext } from './source.ts';

export function isOutboxFull(error: unknown): error is OutboxFullError {
  return error instanceof OutboxFullError;
}

/**
 * Commits, waiting for outbox capacity as long as it is full (backpressure: the source pauses, nothing is
 * dropped). Rejects when the source's signal aborts.
 */
export async function commitWithBackpressure(
  ctx: SourceContext,
  messages: readonly OutboxMessage[],
  checkpoints: readonly Checkpoint[],
): Promise<void> {
  for (;;) {
    ctx.signal.throwIfAborted();
    try {
      ctx.commit(messages, checkpoints);
      return;
    } catch (error) {
      if (!isOutboxFull(error)) throw error;
    }
    await ctx.capacity();
  }
}
