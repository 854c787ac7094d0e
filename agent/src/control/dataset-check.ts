/**
 * Whether the datasets the sources name are registered in the control plane (`GET /api/v1/datasets/:name`).
 * A record of an unregistered dataset is shipped and then dead-lettered as "unknown dataset", so an operator
 * should hear of it before the first record, not from the DLQ. Used by `sluice-agent validate` (problems
 * are `path: reason` lines, like config errors) and by the running agent (`DatasetWatch`, in /status).
 *
 * A control plane that cannot be asked (down, refusing the key) is a warning, never an error: the agent
 * ships into Kafka and must run without its control plane.
 */
import type { AgentConfig } from '@sluice/shared/agent-config/index';
import { ResponseError } from '@sluice/shared/api/response-error';
import type { Logger } from '@sluice/shared/node/logger';
import { formatPath } from '../config/load-config.ts';

export interface UnknownDataset {
  /** Where the dataset is named, e.g. `sources[2].dataset`. */
  path: string;
  dataset: string;
  reason: string;
}

export interface DatasetCheck {
  checkedAt: string;
  controlPlane: string;
  unknown: UnknownDataset[];
  /** Why some or all datasets could not be checked. */
  warnings: string[];
}

/** Checks each distinct dataset once; undefined when the config names no control plane API key to ask with. */
export async function checkDatasets(config: AgentConfig, options: { signal?: AbortSignal } = {}): Promise<DatasetCheck | undefined> {
  const cp = config.controlPlane;
  if (cp?.apiKey === undefined) return undefined;
  const timeoutMs = cp.timeoutMs ?? 5000;
  const uses = new Map<string, string[]>();
  config.sources.forEach((source, i) => uses.set(source.dataset, [...(uses.get(source.dataset) ?? []), formatPath(['sources', i, 'dataset'])]));
  const warnings = new Set<string>();
  const unknown: UnknownDataset[] = [];
  await Promise.all(
    [...uses].map(async ([dataset, paths]) => {
      const url = new URL(`api/v1/datasets/${encodeURIComponent(dataset)}`, cp.url.endsWith('/') ? cp.url : `${cp.url}/`);
      let failed: ResponseError;
      try {
        const signal = options.signal ? AbortSignal.any([options.signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs);
        const res = await fetch(url, { headers: { authorization: `Bearer ${cp.apiKey}`, accept: 'application/json' }, signal });
        if (res.ok) {
          await res.body?.cancel();
          return;
        }
        failed = await ResponseError.fromResponse(res);
      } catch (error) {
        warnings.add(`control plane ${cp.url} is unreachable (${errorText(error)}): datasets were not checked`);
        return;
      }
      if (failed.name === 'NotFoundError') {
        for (const path of paths) unknown.push({ path, dataset, reason: `dataset "${dataset}" is not registered in the control plane; its records would all go to the DLQ` });
      } else if (failed.name === 'UnauthorizedError' || failed.name === 'ForbiddenError') {
        warnings.add(`control plane ${cp.url} refused controlPlane.apiKey (HTTP ${failed.status}): datasets were not checked`);
      } else {
        warnings.add(`control plane ${cp.url} answered HTTP ${failed.status} for dataset "${dataset}" (${failed.name}: ${failed.message}): not checked`);
      }
    }),
  );
  unknown.sort((a, b) => a.path.localeCompare(b.path, undefined, { numeric: true }));
  return { checkedAt: new Date().toISOString(), controlPlane: cp.url, unknown, warnings: [...warnings] };
}

function errorText(error: unknown): string {
  const cause = (error as { cause?: { code?: string } }).cause;
  if (error instanceof Error && error.name === 'TimeoutError') return 'timed out';
  return cause?.code ?? (error instanceof Error ? error.message : String(error));
}

/**
 * The running agent's check: at start, after each reload, and every `datasetCheckIntervalMs` (never per
 * record). Logs when the set of unknown datasets or the warnings change, not on every check.
 */
export class DatasetWatch {
  readonly #config: () => AgentConfig;
  readonly #log: Logger;
  readonly #abort = new AbortController();
  #timer: NodeJS.Timeout | undefined;
  #last: DatasetCheck | undefined;
  #running: Promise<void> | undefined;

  constructor(config: () => AgentConfig, log: Logger) {
    this.#config = config;
    this.#log = log;
  }

  /** Starts the periodic check; the first one runs now, in the background. */
  start(): void {
    this.recheck();
  }

  /** Checks again now (e.g. after a reload) and restarts the period. */
  recheck(): void {
    if (this.#abort.signal.aborted) return;
    clearTimeout(this.#timer);
    this.#running = this.#check().finally(() => {
      const cp = this.#config().controlPlane;
      if (cp?.apiKey === undefined || this.#abort.signal.aborted) return;
      this.#timer = setTimeout(() => this.recheck(), cp.datasetCheckIntervalMs ?? 300_000);
      this.#timer.unref();
    });
  }

  /** The latest result, for /status. */
  status(): DatasetCheck | undefined {
    return this.#last;
  }

  /** Why a source's dataset is suspect, for its /status entry. */
  problemOf(sourceIndexPath: string): string | undefined {
    return this.#last?.unknown.find((u) => u.path === sourceIndexPath)?.reason;
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    clearTimeout(this.#timer);
    await this.#running?.catch(() => undefined);
  }

  async #check(): Promise<void> {
    let result: DatasetCheck | undefined;
    try {
      result = await checkDatasets(this.#config(), { signal: this.#abort.signal });
    } catch (error) {
      this.#log.warn({ err: error }, 'dataset check failed');
      return;
    }
    if (this.#abort.signal.aborted) return;
    const before = JSON.stringify([this.#last?.unknown, this.#last?.warnings]);
    this.#last = result;
    if (result === undefined || JSON.stringify([result.unknown, result.warnings]) === before) return;
    if (result.unknown.length > 0) this.#log.warn({ unknown: result.unknown.map((u) => `${u.path}: ${u.dataset}`) }, 'datasets not registered in the control plane: their records will go to the DLQ');
    for (const warning of result.warnings) this.#log.warn(warning);
    if (result.unknown.length === 0 && result.warnings.length === 0) this.#log.info('every dataset is registered in the control plane');
  }
}
