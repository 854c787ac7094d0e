/** NDJSON payloads on stdout (for a pipe, a file, or a look at what a seed makes); waits for a full pipe. */
import type { Writable } from 'node:stream';
import type { SimEvent } from '../event-stream.ts';
import type { SendResult, SimTarget } from './target.ts';

export class StreamTarget implements SimTarget {
  readonly name = 'stdout' as const;
  readonly #out: Writable;

  constructor(out: Writable) {
    this.#out = out;
  }

  async send(events: readonly SimEvent[]): Promise<SendResult> {
    const text = events.map((e) => `${JSON.stringify(e.payload)}\n`).join('');
    if (!this.#out.write(text)) await new Promise<void>((resolve) => this.#out.once('drain', resolve));
    return { accepted: events.length, rejected: 0, reasons: [] };
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
