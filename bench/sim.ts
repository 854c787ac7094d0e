/**
 * How fast sluice-sim can send, printing one JSON object:
 *   - generate: the IoT scenario into a target that takes everything at once (the simulator's own ceiling:
 *     payloads, anomalies, pacing, JSON)
 *   - ingest: into a real `sluice-control-plane serve` process's batch ingest (HTTP, JSON arrays, an operator
 *     key; the control plane validates each record and produces it to Kafka), at rising target rates
 *   - kafka: envelopes straight into Kafka through the project's producer, at rising target rates
 * Each step: the rate asked for, the rate achieved, whether the token bucket found the sender keeping up, and
 * the p50/p99 of one batch's send. Its own state schema, topics and dataset, removed afterwards.
 *   node bench/sim.ts        (npm run bench:sim)
 *   env: BENCH_SIM_SECONDS (5), BENCH_SIM_INGEST_RATES (2000,5000,10000,20000), BENCH_SIM_KAFKA_RATES (10000,50000,100000),
 *        BENCH_SIM_CONCURRENCY (4)
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { deleteTopics, listTopics } from '@sluice/shared/node/kafka';
import { loadStackEnv } from '@sluice/shared/node/stack-env';
import { stopProcess, waitForHttpOk } from '@sluice/shared/node/testing/processes';
import { machineLoad } from './lib/process-meter.ts';
import { startServe } from './lib/serve-process.ts';
import { runSimulation, type SimulationOptions, type SimulationSummary } from './sim/simulator.ts';
import { HttpTarget } from './sim/targets/http-target.ts';
import { KafkaTarget } from './sim/targets/kafka-target.ts';
import type { SendResult, SimTarget } from './sim/targets/target.ts';

const stack = loadStackEnv();
const id = randomBytes(3).toString('hex');
const stateSchema = `bench_sim_${id}`;
const dataSchema = `bench_sim_data_${id}`;
const topicPrefix = `sluicebenchsim${id}.`;
const adminKey = `slk_${randomBytes(24).toString('base64url')}`;
const dataset = `sim_bench_${id}`;
const seconds = Number(process.env.BENCH_SIM_SECONDS ?? 5);
const rates = (name: string, fallback: string): number[] =>
  (process.env[name] ?? fallback).split(',').map(Number);
const concurrency = Number(process.env.BENCH_SIM_CONCURRENCY ?? 4);

const base: SimulationOptions = {
  scenario: 'iot',
  seed: 1,
  entities: 1000,
  ratePerSecond: 1,
  startMs: Date.now(),
  timeScale: 1,
  skewMs: 0,
  lateFraction: 0,
  lateByMs: 0,
  anomalies: [],
  concurrency,
};

/** Takes every batch at once: what is left is the simulator's own cost. */
class NullTarget implements SimTarget {
  readonly name = 'stdout' as const;
  bytes = 0;
  send(events: readonly { payload: unknown }[]): Promise<SendResult> {
    for (const e of events) this.bytes += JSON.stringify(e.payload).length + 1;
    return Promise.resolve({ accepted: events.length, rejected: 0, reasons: [] });
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

function figures(s: SimulationSummary): Record<string, unknown> {
  return {
    targetRate: s.ratePerSecond,
    achievedRate: s.achievedRate,
    keptUp: s.keptUp,
    behindEvents: s.behindEvents,
    sent: s.sent,
    rejected: s.rejected,
    batchSize: s.batchSize,
    seconds: s.elapsedSeconds,
    sendLatency: s.sendLatency,
    error: s.error,
    loadavg: machineLoad(),
  };
}

async function step(rate: number, target: SimTarget, seed: number): Promise<Record<string, unknown>> {
  const summary = await runSimulation(
    { ...base, seed, ratePerSecond: rate, count: Math.round(rate * seconds), startMs: Date.now(), dataset },
    { target },
  );
  const out = figures(summary);
  process.stderr.write(`sim bench: ${target.name} ${JSON.stringify(out)}\n`);
  return out;
}

async function main(): Promise<void> {
  const {
    child: serve,
    baseUrl,
    output,
  } = await startServe({ stack, stateSchema, dataSchema, topicPrefix, adminKey });
  const out: Record<string, unknown> = {
    bench: 'sim',
    startedAt: new Date().toISOString(),
    cpus: os.cpus().length,
    node: process.version,
    seconds,
    concurrency,
    loadBefore: machineLoad(),
  };
  try {
    const nul = new NullTarget();
    const generated = await runSimulation(
      { ...base, ratePerSecond: 10_000_000, count: 500_000, batchSize: 1000 },
      { target: nul },
    );
    out.generate = { ...figures(generated), payloadBytesPerEvent: Math.round(nul.bytes / generated.sent) };

    await waitForHttpOk(`${baseUrl}/healthz`, {
      child: serve,
      output,
      what: 'the control plane',
      authorization: `Bearer ${adminKey}`,
      timeoutMs: 90_000,
      intervalMs: 300,
    });
    const example = JSON.parse(
      readFileSync(path.join(import.meta.dirname, 'sim/examples/iot-readings.dataset.json'), 'utf8'),
    ) as Record<string, unknown>;
    const created = await fetch(`${baseUrl}/api/v1/datasets`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ...example, name: dataset }),
    });
    if (created.status !== 201)
      throw new Error(`dataset: HTTP ${String(created.status)} ${await created.text()}`);

    const ingest = new HttpTarget({
      kind: 'ingest',
      url: baseUrl,
      dataset,
      token: adminKey,
      connections: concurrency,
    });
    try {
      out.ingest = [];
      for (const [i, rate] of rates('BENCH_SIM_INGEST_RATES', '2000,5000,10000,20000').entries())
        (out.ingest as unknown[]).push(await step(rate, ingest, 100 + i));
    } finally {
      await ingest.close();
    }
    out.kafka = [];
    for (const [i, rate] of rates('BENCH_SIM_KAFKA_RATES', '10000,50000,100000').entries()) {
      const kafka = new KafkaTarget({
        brokers: stack.kafkaBrokers,
        dataset,
        topicPrefix,
        agentId: 'sluice-sim',
        sourceId: 'sim-iot',
        runId: `bench-${id}-${String(i)}`,
      });
      try {
        (out.kafka as unknown[]).push(await step(rate, kafka, 200 + i));
      } finally {
        await kafka.close();
      }
    }
    out.loadavg = machineLoad();
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  } finally {
    await stopProcess(serve);
    const cleanup = new pg.Client({ connectionString: stack.pgUrl });
    await cleanup.connect();
    await cleanup.query(
      `DROP SCHEMA IF EXISTS ${stateSchema} CASCADE; DROP SCHEMA IF EXISTS ${dataSchema} CASCADE`,
    );
    await cleanup.end();
    const topics = (await listTopics(stack.kafkaBrokers).catch(() => [])).filter((t) =>
      t.startsWith(topicPrefix),
    );
    if (topics.length > 0) await deleteTopics(stack.kafkaBrokers, topics);
  }
}

await main();
