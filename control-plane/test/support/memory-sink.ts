import type { DatasetVersion } from '@sluice/shared/dataset';
import { failed, ok, retryable, unclassified, type Outcome } from '@sluice/shared/outcome';
import type { Sink, SinkBatch, SinkWriteResult } from '../../src/sinks/sink.ts';

export type MemorySinkMode =
  | { kind: 'ok' }
  | { kind: 'retryable'; reason?: string }
  | { kind: 'unclassified'; reason?: string }
  | { kind: 'throw'; message?: string }
  | { kind: 'failed'; reason?: string }
  /** Accepts the batch but rejects records whose id is listed. */
  | { kind: 'reject'; ids: string[]; reason?: string };

/** An in-memory sink with a switchable failure mode; stores each record once by id, like the real ones. */
export class MemorySink implements Sink {
  readonly name: string;
  readonly records = new Map<string, SinkBatch['records'][number]>();
  readonly prepared: DatasetVersion[] = [];
  writes = 0;
  /** Times each record id was written (a redelivered record counts twice here, once in `records`). */
  readonly copies = new Map<string, number>();
  closed = false;
  mode: MemorySinkMode = { kind: 'ok' };
  /** Per dataset name, a mode that overrides `mode` (one dataset failing beside healthy ones). */
  readonly modes = new Map<string, MemorySinkMode>();

  constructor(name = 'memory') {
    this.name = name;
  }

  prepare(dataset: DatasetVersion): Promise<Outcome> {
    this.prepared.push(dataset);
    return Promise.resolve(ok);
  }

  write(batch: SinkBatch): Promise<SinkWriteResult> {
    this.writes++;
    const mode = this.modes.get(batch.dataset.spec.name) ?? this.mode;
    switch (mode.kind) {
      case 'retryable':
        return Promise.resolve(retryable(mode.reason ?? 'memory sink down', 1));
      case 'unclassified':
        return Promise.resolve(unclassified(mode.reason ?? 'memory sink says XMinioSomethingNew'));
      case 'throw':
        return Promise.reject(new Error(mode.message ?? 'memory sink exploded'));
      case 'failed':
        return Promise.resolve(failed(mode.reason ?? 'memory sink refuses'));
      case 'reject': {
        const rejected = batch.records.filter((r) => mode.ids.includes(r.envelope.id)).map((r) => ({ id: r.envelope.id, reason: mode.reason ?? 'mapping conflict' }));
        for (const r of batch.records) if (!mode.ids.includes(r.envelope.id)) this.records.set(r.envelope.id, r);
        return Promise.resolve({ ...ok, rejected });
      }
      case 'ok':
        for (const r of batch.records) {
          this.records.set(r.envelope.id, r);
          this.copies.set(r.envelope.id, (this.copies.get(r.envelope.id) ?? 0) + 1);
        }
        return Promise.resolve(ok);
    }
  }

  flush(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}
