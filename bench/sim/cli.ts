/**
 * `sluice-sim`: realistic traffic for a dataset, at a rate, with anomalies on a schedule (docs/simulator.md).
 * Progress goes to stderr (a bar on a TTY, JSON lines otherwise); the summary is one JSON object on stdout
 * (on stderr with `--target stdout`, whose stdout carries the events).
 */
import { readFileSync } from 'node:fs';
import process from 'node:process';
import type { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { readStackEnvFile } from '@sluice/shared/node/stack-env';
import { parseAnomalyFlag, parseDuration, readAnomalyFile, type AnomalySpec } from './anomalies.ts';
import { seedOf } from './prng.ts';
import { progressReporter, type ProgressMode } from './progress.ts';
import { DEFAULT_ENTITIES, SCENARIO_NAMES } from './scenarios/registry.ts';
import type { ScenarioName } from './scenarios/scenario.ts';
import { runIdOf, runSimulation, type SimulationOptions } from './simulator.ts';
import { HttpTarget } from './targets/http-target.ts';
import { KafkaTarget } from './targets/kafka-target.ts';
import { StreamTarget } from './targets/stdout-target.ts';
import type { SimTarget, TargetName } from './targets/target.ts';

const TARGETS: readonly TargetName[] = ['stdout', 'agent', 'ingest', 'kafka'];

export const USAGE = `sluice-sim: send simulated traffic to Sluice

  sluice-sim --scenario iot|web|logs --target ingest|agent|kafka|stdout [--dataset NAME] [options]

what
  --scenario iot|web|logs     IoT sensors, web events with sessions, service logs (default iot)
  --devices N | --users N | --services N
                              how many entities send (defaults: 100 devices, 1000 users, 6 services)
  --seed S                    same seed and start → same events and record ids (default 1)
  --start ISO                 event time of the first event (default: now, to the second)
  --time-scale X              event-time seconds per second of run (default 1; 1440 plays a day in a minute)
  --skew DURATION             each entity's clock is off by up to ± this (default 0)
  --late-fraction F           this share of events arrives late... (default 0)
  --late-by DURATION          ...by up to this much (default 2m)
  --anomaly kind@at+duration[:key=value,…]   repeatable; kinds:
                              spike@5m+1m:factor=4               the whole stream's rate × factor
                              silence@10m+5m:target=dev-00003    one entity (or, without target, all) sends nothing
                              shift@15m+10m:delta=6[,field=temperature][,target=…]   a field + delta
  --anomalies FILE            the same as JSON or YAML: {"anomalies": [{"kind": "spike", "at": "5m", "duration": "1m"}]}

how much, how fast
  --rate N                    events per second (default 100)
  --duration DURATION | --count N   run time (e.g. 10m) or number of events (default --count 1000)
  --batch N                   events per request (default: 50 ms of the rate, at most 1000)
  --concurrency N             requests in flight (default 4)

where
  --target ingest             POST /api/v1/ingest/DATASET of the control plane (--url, default
                              $SLUICE_CONTROL_PLANE_URL or http://127.0.0.1:8080; --key or --key-file, an operator key)
  --target agent              an agent's http-push source, POST /v1/ingest/DATASET (--url, default
                              http://$SLUICE_AGENT_HTTP; --token or --token-file, the source's push token)
  --target kafka              Sluice envelopes straight to <topic prefix>DATASET (--brokers, default
                              $SLUICE_KAFKA_BROKERS; --topic-prefix, default sluice.; --agent-id, default sluice-sim)
  --target stdout             NDJSON payloads on stdout (the default)

output
  --progress auto|bar|json|none   on stderr (auto: a bar on a terminal, JSON lines otherwise)
  --help
`;

interface Parsed {
  options: SimulationOptions;
  target: TargetName;
  flags: Record<string, string | boolean | string[] | undefined>;
}

export function parseCli(argv: readonly string[], now = Date.now()): Parsed {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      scenario: { type: 'string', default: 'iot' },
      target: { type: 'string', default: 'stdout' },
      dataset: { type: 'string' },
      devices: { type: 'string' },
      users: { type: 'string' },
      services: { type: 'string' },
      seed: { type: 'string', default: '1' },
      start: { type: 'string' },
      'time-scale': { type: 'string', default: '1' },
      skew: { type: 'string', default: '0' },
      'late-fraction': { type: 'string', default: '0' },
      'late-by': { type: 'string', default: '2m' },
      anomaly: { type: 'string', multiple: true },
      anomalies: { type: 'string' },
      rate: { type: 'string', default: '100' },
      duration: { type: 'string' },
      count: { type: 'string' },
      batch: { type: 'string' },
      concurrency: { type: 'string', default: '4' },
      url: { type: 'string' },
      key: { type: 'string' },
      'key-file': { type: 'string' },
      token: { type: 'string' },
      'token-file': { type: 'string' },
      brokers: { type: 'string' },
      'topic-prefix': { type: 'string', default: 'sluice.' },
      'agent-id': { type: 'string', default: 'sluice-sim' },
      progress: { type: 'string', default: 'auto' },
      help: { type: 'boolean', default: false },
    },
  });
  const scenario = values.scenario as ScenarioName;
  if (!SCENARIO_NAMES.includes(scenario))
    throw new Error(`--scenario must be one of ${SCENARIO_NAMES.join(', ')}`);
  const target = values.target as TargetName;
  if (!TARGETS.includes(target)) throw new Error(`--target must be one of ${TARGETS.join(', ')}`);
  if (target !== 'stdout' && values.dataset === undefined)
    throw new Error(`--target ${target} needs --dataset`);
  const given = (['devices', 'users', 'services'] as const).filter((k) => values[k] !== undefined);
  if (given.length > 1) throw new Error(`give one of --devices, --users, --services`);
  const entities =
    given.length === 1 ? positiveInt(values[given[0]!]!, `--${given[0]}`) : DEFAULT_ENTITIES[scenario];
  if (values.duration !== undefined && values.count !== undefined)
    throw new Error('give --duration or --count, not both');
  let startMs = Math.floor(now / 1000) * 1000;
  if (values.start !== undefined) {
    startMs = Date.parse(values.start);
    if (Number.isNaN(startMs))
      throw new Error(`--start: "${values.start}" is not a date-time (e.g. 2026-12-01T00:00:00Z)`);
  }
  const anomalies: AnomalySpec[] = [
    ...(values.anomalies === undefined ? [] : readAnomalyFile(values.anomalies)),
    ...(values.anomaly ?? []).map(parseAnomalyFlag),
  ];
  const options: SimulationOptions = {
    scenario,
    seed: seedOf(values.seed),
    entities,
    ratePerSecond: positiveNumber(values.rate, '--rate'),
    ...(values.duration !== undefined
      ? { durationMs: parseDuration(values.duration, '--duration') }
      : { count: positiveInt(values.count ?? '1000', '--count') }),
    startMs,
    timeScale: positiveNumber(values['time-scale'], '--time-scale'),
    skewMs: parseDuration(values.skew, '--skew'),
    lateFraction: fraction(values['late-fraction'], '--late-fraction'),
    lateByMs: parseDuration(values['late-by'], '--late-by'),
    anomalies,
    ...(values.batch === undefined ? {} : { batchSize: positiveInt(values.batch, '--batch') }),
    concurrency: positiveInt(values.concurrency, '--concurrency'),
    ...(values.dataset === undefined ? {} : { dataset: values.dataset }),
  };
  if (options.durationMs !== undefined && options.durationMs <= 0)
    throw new Error('--duration must be more than 0');
  return { options, target, flags: values };
}

function positiveNumber(text: string, what: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n <= 0)
    throw new Error(`${what}: "${text}" must be a number more than 0`);
  return n;
}

function positiveInt(text: string, what: string): number {
  const n = positiveNumber(text, what);
  if (!Number.isInteger(n)) throw new Error(`${what}: "${text}" must be a whole number`);
  return n;
}

function fraction(text: string, what: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1)
    throw new Error(`${what}: "${text}" must be between 0 and 1`);
  return n;
}

function secret(flags: Parsed['flags'], name: string, env: string | undefined, what: string): string {
  const inline = flags[name];
  const file = flags[`${name}-file`];
  if (typeof inline === 'string' && inline !== '') return inline;
  if (typeof file === 'string') return readFileSync(file, 'utf8').trim();
  if (env !== undefined && env !== '') return env;
  throw new Error(`${what}: give --${name} or --${name}-file`);
}

/** The target the flags describe; the environment (then scripts/stack.env) supplies the local stack's addresses. */
export function makeTarget(parsed: Parsed, env: NodeJS.ProcessEnv, stdout: Writable): SimTarget {
  const { flags, options } = parsed;
  const stack = {
    ...readStackEnvFile(),
    ...Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== '')),
  } as Record<string, string | undefined>;
  const dataset = options.dataset!;
  const connections = options.concurrency ?? 4;
  switch (parsed.target) {
    case 'stdout':
      return new StreamTarget(stdout);
    case 'ingest':
      return new HttpTarget({
        kind: 'ingest',
        url: (flags.url as string | undefined) ?? stack.SLUICE_CONTROL_PLANE_URL ?? 'http://127.0.0.1:8080',
        dataset,
        token: secret(flags, 'key', env.SLUICE_API_KEY, '--target ingest needs an operator API key'),
        connections,
      });
    case 'agent':
      return new HttpTarget({
        kind: 'agent',
        url: (flags.url as string | undefined) ?? `http://${stack.SLUICE_AGENT_HTTP ?? '127.0.0.1:8686'}`,
        dataset,
        token: secret(
          flags,
          'token',
          env.SLUICE_PUSH_TOKEN,
          "--target agent needs the http-push source's token",
        ),
        connections,
      });
    case 'kafka': {
      const brokers = (
        (flags.brokers as string | undefined) ??
        stack.SLUICE_KAFKA_BROKERS ??
        '127.0.0.1:9092'
      )
        .split(',')
        .map((b) => b.trim())
        .filter((b) => b !== '');
      return new KafkaTarget({
        brokers,
        dataset,
        topicPrefix: flags['topic-prefix'] as string,
        agentId: flags['agent-id'] as string,
        sourceId: `sim-${options.scenario}`,
        runId: runIdOf(options),
      });
    }
  }
}

export async function main(argv: readonly string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  let parsed: Parsed;
  let target: SimTarget;
  try {
    parsed = parseCli(argv);
    target = makeTarget(parsed, process.env, process.stdout);
  } catch (error) {
    process.stderr.write(
      `sluice-sim: ${error instanceof Error ? error.message : String(error)}\n(see sluice-sim --help)\n`,
    );
    return 2;
  }
  const requested = parsed.flags.progress as string;
  if (!['auto', 'bar', 'json', 'none'].includes(requested)) {
    process.stderr.write('sluice-sim: --progress must be auto, bar, json or none\n');
    return 2;
  }
  const mode: ProgressMode =
    requested === 'auto' ? (process.stderr.isTTY ? 'bar' : 'json') : (requested as ProgressMode);
  const abort = new AbortController();
  const stop = (): void => abort.abort(new Error('interrupted'));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    const summary = await runSimulation(parsed.options, {
      target,
      progress: progressReporter(mode, process.stderr),
      signal: abort.signal,
    });
    (parsed.target === 'stdout' ? process.stderr : process.stdout).write(
      `${JSON.stringify(summary, null, 2)}\n`,
    );
    return summary.error === null ? 0 : 1;
  } catch (error) {
    process.stderr.write(`sluice-sim: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await target.close();
  }
}
