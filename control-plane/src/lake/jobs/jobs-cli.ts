/**
 * `sluice-control-plane jobs create|list|watch|cancel`: ingestion jobs through the REST API (docs/lake.md).
 * The API's address is --url or SLUICE_API_URL (default http://127.0.0.1:8080); the key or token is
 * SLUICE_TOKEN (never a flag, so it stays out of shell history and `ps`). `watch` draws a progress bar on a
 * terminal and prints one line per change otherwise; it exits 0 when the job succeeds, 1 when it fails or is
 * cancelled.
 */
import { parseArgs } from 'node:util';

export const JOBS_USAGE = `sluice-control-plane jobs create --dataset NAME --source JSON [--no-start] [--watch]
       sluice-control-plane jobs list [--state S] [--dataset NAME] [--kind K] [--limit N]
       sluice-control-plane jobs watch ID
       sluice-control-plane jobs cancel ID
       (SLUICE_API_URL or --url: the API; SLUICE_TOKEN: an operator key or token)`;

interface Progress {
  batches: { total: number; done: number; failed: number };
  records: number;
  bytes: number;
  recordsPerSecond: number;
  percent: number | null;
  etaSeconds: number | null;
}
interface Job {
  id: string;
  dataset: string;
  kind: string;
  state: string;
  error: string | null;
  progress: Progress;
}

export interface JobsCliIo {
  env: NodeJS.ProcessEnv;
  out: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  /** Time between polls of `watch` (ms). */
  pollMs?: number;
}

const FINAL = new Set(['succeeded', 'failed', 'cancelled']);

/** Runs one `jobs` subcommand; answers the process exit code. */
export async function jobsCommand(argv: string[], io: JobsCliIo): Promise<number> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      dataset: { type: 'string' },
      source: { type: 'string' },
      'no-start': { type: 'boolean' },
      watch: { type: 'boolean' },
      state: { type: 'string' },
      kind: { type: 'string' },
      limit: { type: 'string' },
    },
  });
  const api = apiClient((values.url ?? io.env.SLUICE_API_URL ?? 'http://127.0.0.1:8080').replace(/\/$/, ''), io.env.SLUICE_TOKEN);
  const print = (line: string): void => void io.out.write(`${line}\n`);
  switch (sub) {
    case 'create': {
      if (values.dataset === undefined || values.source === undefined) throw new Error(`jobs create needs --dataset and --source\n${JOBS_USAGE}`);
      let source: unknown;
      try {
        source = JSON.parse(values.source);
      } catch (error) {
        throw new Error(`--source is not JSON: ${(error as Error).message}`, { cause: error });
      }
      const job = await api<Job>('POST', '/api/v1/ingestion/jobs', { dataset: values.dataset, source, start: values['no-start'] !== true });
      print(`${job.id} ${job.state} (${job.kind} → ${job.dataset})`);
      return values.watch === true ? watch(api, job.id, io) : 0;
    }
    case 'list': {
      const query = new URLSearchParams();
      for (const key of ['state', 'dataset', 'kind', 'limit'] as const) if (values[key] !== undefined) query.set(key, values[key]);
      const page = await api<{ items: Job[] }>('GET', `/api/v1/ingestion/jobs${query.size > 0 ? `?${query.toString()}` : ''}`);
      for (const job of page.items) print(`${job.id}  ${job.state.padEnd(9)}  ${job.kind.padEnd(10)}  ${job.dataset}  ${summary(job.progress)}`);
      return 0;
    }
    case 'watch':
      return watch(api, required(positionals[0]), io);
    case 'cancel': {
      const job = await api<Job>('POST', `/api/v1/ingestion/jobs/${encodeURIComponent(required(positionals[0]))}/cancel`);
      print(`${job.id} ${job.state}`);
      return 0;
    }
    default:
      throw new Error(JOBS_USAGE);
  }
}

function required(id: string | undefined): string {
  if (id === undefined) throw new Error(`a job id is needed\n${JOBS_USAGE}`);
  return id;
}

type Api = <T>(method: string, path: string, body?: unknown) => Promise<T>;

function apiClient(base: string, token: string | undefined): Api {
  if (token === undefined || token === '') throw new Error('SLUICE_TOKEN must hold an API key or operator token');
  return async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    if (!res.ok) {
      let message = text;
      try {
        message = (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? text;
      } catch {
        // not the API's error shape: show it as it came
      }
      throw new Error(`${method} ${path}: ${res.status} ${message}`);
    }
    return JSON.parse(text) as T;
  };
}

function summary(p: Progress): string {
  const eta = p.etaSeconds === null ? '' : ` ETA ${Math.ceil(p.etaSeconds)}s`;
  return `${p.batches.done}/${p.batches.total} batches, ${p.records} records, ${Math.round(p.recordsPerSecond)} rec/s${eta}`;
}

/** `[#####-----] 50% 3/6 batches, …` sized to the terminal. */
export function progressBar(p: Progress, columns = 80): string {
  const fraction = p.percent !== null ? p.percent / 100 : p.batches.total > 0 ? p.batches.done / p.batches.total : 0;
  const text = ` ${Math.floor(fraction * 100)}% ${summary(p)}`;
  const width = Math.max(10, Math.min(40, columns - text.length - 3));
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]${text}`;
}

async function watch(api: Api, id: string, io: JobsCliIo): Promise<number> {
  let last = '';
  for (;;) {
    const job = await api<Job>('GET', `/api/v1/ingestion/jobs/${encodeURIComponent(id)}`);
    const line = io.out.isTTY === true ? progressBar(job.progress, io.out.columns) : `${job.state} ${summary(job.progress)}`;
    if (io.out.isTTY === true) io.out.write(`\r${line}\x1b[K`);
    else if (line !== last) io.out.write(`${line}\n`);
    last = line;
    if (FINAL.has(job.state)) {
      if (io.out.isTTY === true) io.out.write('\n');
      io.out.write(`${job.id} ${job.state}${job.error ? `: ${job.error}` : ''}\n`);
      return job.state === 'succeeded' ? 0 : 1;
    }
    await new Promise((resolve) => setTimeout(resolve, io.pollMs ?? 1000));
  }
}
