/**
 * Which sink instance serves which key of a dataset's `sinks` settings. Sinks are registered here by the
 * process that builds them (cli.ts), never chosen by a switch in the pipeline.
 */
import type { DatasetSinks, DatasetSpec } from '@sluice/shared/dataset';
import type { Sink } from '../sinks/sink.ts';

export type SinkKey = keyof DatasetSinks;

export class SinkRegistry {
  readonly #sinks = new Map<SinkKey, Sink>();

  register(key: SinkKey, sink: Sink): this {
    this.#sinks.set(key, sink);
    return this;
  }

  all(): Sink[] {
    return [...this.#sinks.values()];
  }

  /** The dataset's enabled sinks, and the enabled ones this process has no instance for. */
  forDataset(spec: DatasetSpec): { sinks: Sink[]; missing: SinkKey[] } {
    const sinks: Sink[] = [];
    const missing: SinkKey[] = [];
    for (const key of Object.keys(spec.sinks) as SinkKey[]) {
      if (spec.sinks[key]?.enabled !== true) continue;
      const sink = this.#sinks.get(key);
      if (sink) sinks.push(sink);
      else missing.push(key);
    }
    return { sinks, missing };
  }
}
