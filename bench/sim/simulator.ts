/**
 * One simulator run: cut the event stream into batches, pace them with the schedule's token bucket, keep up
 * to `concurrency` batches in flight to the target, report progress, and answer a summary that includes the
 * anomaly schedule it injected (what a detection test compares with what was detected).
 *
 *   EventStream ──batch (≤ batchSize, ≤ 250 ms of schedule)──▶ TokenBucket.take ──wait──▶ target.send (≤ concurrency)
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { Clock } from '@sluice/shared/clock';
import { percentile } from '../lib/latency.ts';
import { describeAnomaly, schedule, type AnomalySpec } from './anomalies.ts';
import { EventStream, type SimEvent } from './event-stream.ts';
import type { ProgressReporter } from './progress.ts';
import { scenarios } from './scenarios/registry.ts';
import type { ScenarioName } from './scenarios/scenario.ts';
import type { SimTarget, TargetName } from './targets/target.ts';
import { TokenBucket } from './token-bucket.ts';

export interface SimulationOptions {
  scenario: ScenarioName;
  seed: number;
  entities: number;
  ratePerSecond: number;
  count?: number;
  durationMs?: number;
  /** Event time of the start; the run id (and so every record id) derives from it and the seed. */
  startMs: number;
  timeScale: number;
  skewMs: number;
  lateFraction: number;
  lateByMs: number;
  anomalies: readonly AnomalySpec[];
  /** Events per request (default: 50 ms of the rate, 1–1000). */
  batchSize?: number;
  /** Requests in flight (default 4). */
  concurrency?: number;
  progressIntervalMs?: number;
  /** Dataset name, for the summary. */
  dataset?: string;
}

export interface SimulationDeps {
  target: SimTarget;
  clock?: Clock;
  progress?: ProgressReporter;
  signal?: AbortSignal;
}

export interface SimulationSummary {
  sim: 'sluice-sim';
  scenario: ScenarioName;
  target: TargetName;
  dataset: string | null;
  seed: number;
  runId: string;
  start: string;
  timeScale: number;
  entities: number;
  entityKind: string;
  ratePerSecond: number;
  count: number | null;
  durationSeconds: number | null;
  batchSize: number;
  concurrency: number;
  sent: number;
  accepted: number;
  rejected: number;
  rejectReasons: string[];
  /** Events a silence held back, and events sent with a late event time. */
  suppressed: number;
  late: number;
  batches: number;
  elapsedSeconds: number;
  /** Events/s achieved, and what the schedule asked for (events over the schedule's length). */
  achievedRate: number;
  targetRate: number;
  keptUp: boolean;
  /** Events the sender fell behind the schedule by, at worst over the run. */
  behindEvents: number;
  eventTime: { first: string | null; last: string | null };
  sendLatency: { p50Ms: number; p99Ms: number };
  anomalies: Array<Record<string, unknown>>;
  interrupted: boolean;
  error: string | null;
}

/** The run's id: the same options make the same id, and so the same record ids at every target. */
export function runIdOf(o: Pick<SimulationOptions, 'scenario' | 'seed' | 'startMs'>): string {
  return `${o.scenario}-${o.seed}-${Math.floor(o.startMs / 1000)}`;
}

export function defaultBatchSize(ratePerSecond: number): number {
  return Math.max(1, Math.min(1000, Math.ceil(ratePerSecond / 20)));
}

const MAX_BATCH_SPAN_MS = 250;

/** Wall time whose waits keep the process alive (systemClock's do not: the run *is* the waiting). */
const runClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, options) =>
    delay(ms, undefined, options?.signal ? { signal: options.signal as AbortSignal } : undefined),
};
const round = (n: number, d = 1): number => Math.round(n * 10 ** d) / 10 ** d;

export async function runSimulation(o: SimulationOptions, deps: SimulationDeps): Promise<SimulationSummary> {
  const clock = deps.clock ?? runClock;
  const scenario = scenarios[o.scenario]({ seed: o.seed, entities: o.entities });
  const anomalies = schedule(o.anomalies, o.startMs, scenario.shift);
  const stream = new EventStream({ ...o, scenario, anomalies });
  const batchSize = o.batchSize ?? defaultBatchSize(o.ratePerSecond);
  const concurrency = o.concurrency ?? 4;
  const bucket = new TokenBucket(stream.timeline, Math.max(batchSize * concurrency, o.ratePerSecond));
  const runId = runIdOf(o);
  const intervalMs = o.progressIntervalMs ?? 1000;
  const target = deps.target;

  const t0 = clock.now();
  const inFlight = new Set<Promise<void>>();
  const latencies: number[] = [];
  const reasons: string[] = [];
  let accepted = 0;
  let rejected = 0;
  let dispatched = 0;
  let batches = 0;
  let first: SimEvent | undefined;
  let last: SimEvent | undefined;
  let failure: Error | undefined;
  let warned = false;
  let lastReport = { at: 0, acked: 0, due: 0 };
  let lastAckAt = t0;

  const report = (force = false): void => {
    const at = clock.now() - t0;
    if (!force && at - lastReport.at < intervalMs) return;
    const acked = accepted + rejected;
    const due = stream.timeline.countBy(at);
    const seconds = Math.max(0.001, (at - lastReport.at) / 1000);
    const behind = bucket.spilled;
    if (behind >= 1 && !warned) {
      warned = true;
      deps.progress?.warn(
        `cannot keep up with the target rate: ${Math.round((due - lastReport.due) / seconds)}/s asked, ${Math.round((acked - lastReport.acked) / seconds)}/s sent over the last ${round(seconds)} s; ` +
          `more --concurrency, a bigger --batch, or a second simulator process would help`,
      );
    }
    const done = o.count !== undefined ? stream.counts.emitted / o.count : at / (o.durationMs ?? 1);
    deps.progress?.report({
      elapsedSeconds: round(at / 1000),
      sent: acked,
      accepted,
      rejected,
      rate: Math.round((acked - lastReport.acked) / seconds),
      targetRate: Math.round((due - lastReport.due) / seconds),
      behind: Math.round(behind),
      inFlight: inFlight.size,
      done: Math.min(1, done),
      eventTime: last ? new Date(last.eventTimeMs).toISOString() : null,
    });
    lastReport = { at, acked, due };
  };

  const send = async (batch: SimEvent[]): Promise<void> => {
    const started = performance.now();
    try {
      const result = await target.send(batch, `${runId}-${batch[0]!.seq}`);
      latencies.push(performance.now() - started);
      accepted += result.accepted;
      rejected += result.rejected;
      for (const r of result.reasons) if (reasons.length < 5) reasons.push(r);
      lastAckAt = clock.now();
    } catch (error) {
      failure ??= error instanceof Error ? error : new Error(String(error));
    }
  };

  let reserved = 0;
  try {
    while (failure === undefined && deps.signal?.aborted !== true) {
      const batch: SimEvent[] = [];
      for (let e = stream.peek(); e !== undefined && batch.length < batchSize; e = stream.peek()) {
        if (batch.length > 0 && e.dueMs - batch[0]!.dueMs > MAX_BATCH_SPAN_MS) break;
        batch.push(stream.next()!);
      }
      if (batch.length === 0) break;
      first ??= batch[0];
      last = batch.at(-1);
      const sequences = last!.seq + 1 - reserved;
      reserved = last!.seq + 1;
      const waitMs = bucket.take(sequences, clock.now() - t0);
      if (waitMs > 0) await clock.sleep(waitMs, deps.signal ? { signal: deps.signal } : undefined);
      while (inFlight.size >= concurrency) await Promise.race(inFlight);
      const sending: Promise<void> = send(batch).finally(() => inFlight.delete(sending));
      inFlight.add(sending);
      dispatched += batch.length;
      batches++;
      report();
    }
  } catch (error) {
    // An abort while waiting for the next batch's tokens: stop, and say what was sent.
    if (deps.signal?.aborted !== true) throw error;
  }
  await Promise.all(inFlight);
  report(true);
  deps.progress?.end();

  const elapsedSeconds = Math.max(0.001, (lastAckAt - t0) / 1000);
  const counts = stream.counts;
  const scheduleSeconds =
    o.durationMs !== undefined && o.count === undefined
      ? o.durationMs / 1000
      : last
        ? last.dueMs / 1000 + 1 / o.ratePerSecond
        : 0;
  const targetRate = scheduleSeconds > 0 ? dispatched / scheduleSeconds : 0;
  const achievedRate = dispatched / elapsedSeconds;
  latencies.sort((a, b) => a - b);
  return {
    sim: 'sluice-sim',
    scenario: o.scenario,
    target: target.name,
    dataset: o.dataset ?? null,
    seed: o.seed,
    runId,
    start: new Date(o.startMs).toISOString(),
    timeScale: o.timeScale,
    entities: o.entities,
    entityKind: scenario.entityKind,
    ratePerSecond: o.ratePerSecond,
    count: o.count ?? null,
    durationSeconds: o.durationMs === undefined ? null : o.durationMs / 1000,
    batchSize,
    concurrency,
    sent: accepted + rejected,
    accepted,
    rejected,
    rejectReasons: reasons,
    suppressed: counts.suppressed,
    late: counts.late,
    batches,
    elapsedSeconds: round(elapsedSeconds, 3),
    achievedRate: Math.round(achievedRate),
    targetRate: Math.round(targetRate),
    keptUp: achievedRate >= 0.95 * targetRate,
    behindEvents: Math.round(bucket.spilled),
    eventTime: {
      first: first ? new Date(first.eventTimeMs).toISOString() : null,
      last: last ? new Date(last.eventTimeMs).toISOString() : null,
    },
    sendLatency: {
      p50Ms: round(percentile(latencies, 0.5), 2),
      p99Ms: round(percentile(latencies, 0.99), 2),
    },
    anomalies: anomalies.map((a, i) => describeAnomaly(a, stream.affected[i]!)),
    interrupted: deps.signal?.aborted === true,
    error: failure ? failure.message : null,
  };
}
