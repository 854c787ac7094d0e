// `npm run bench:agent`: the agent's figures as JSON, each beside the machine's load (targets in parentheses):
//   process  the real `sluice-agent run` on a generated file → acked in Kafka: MB/s, CPU-s/GB, peak RSS, with
//            rsyslog (imfile → omkafka) and kcat on the same file as same-run baselines (issue 12: ≥ 66 MB/s,
//            ≤ 15 CPU-s/GB, ≤ 150 MB); BENCH_AGENT_LINES (default 2,000,000 lines of 200 bytes) makes it
//            smaller, BENCH_AGENT_TOOLS=sluice-agent,rsyslog,kcat chooses the tools, BENCH_AGENT_CPU_PROF=<dir>
//            writes the agent's V8 CPU profile there, BENCH_AGENT_NODE_FLAGS passes Node flags (heap sizes) to it,
//            BENCH_AGENT_BIN=<other checkout>/agent/bin/sluice-agent.js measures another build (before/after),
//            BENCH_AGENT_SETTINGS='{"kafka":{"compression":"zstd"}}' merges agent settings over the defaults
//   tail     tail → committed outbox MB/s and lines/s, 200-byte lines, in process (≥ 50 MB/s)
//   kafka    outbox → Kafka with acks=all, records/s, in process (≥ 100k/s)
//   latency  end-to-end file append → broker ack latency p50/p99 at a fixed 5k lines/s (p99 ≤ 50 ms)
//   rss      RSS of the real agent process idle and while tailing 5k lines/s (≤ 150 MB)
// Parts: `node bench/agent.ts [process tail kafka latency rss]`. The shipper's batch for the kafka part can be
// varied with BENCH_SHIP_BATCH (records) and BENCH_SHIP_BATCH_BYTES; both default to the agent config's defaults.
import { spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AllowedRoots } from '@sluice/agent/config/allowed-roots';
import { parseConfig } from '@sluice/agent/config/load-config';
import { Outbox, type Synchronous } from '@sluice/agent/outbox/outbox';
import { Agent } from '@sluice/agent/runtime/agent';
import { AgentMetrics } from '@sluice/agent/runtime/metrics';
import { createSourceContext } from '@sluice/agent/runtime/source-context';
import { Shipper } from '@sluice/agent/shipper/shipper';
import { FileSource } from '@sluice/agent/sources/file/file-source';
import { KafkaProducer } from '@sluice/shared/node/kafka';
import { createLogger } from '@sluice/shared/node/logger';
import { loadStackEnv } from '@sluice/shared/node/stack-env';
import { agentConfigSchema } from '@sluice/shared/agent-config/index';
import { fileToKafka, toolsFrom } from './lib/file-to-kafka.ts';
import { machineLoad, processCost, withLoad } from './lib/process-meter.ts';

const log = createLogger('bench', { level: 'warn' });
const brokers = loadStackEnv().kafkaBrokers;
const root = mkdtempSync(path.join(tmpdir(), 'sluice-bench-'));
const LINE_BYTES = 200;
const shipperDefaults = agentConfigSchema.properties.shipper.properties;
let peakRss = 0;
const rssSampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 100);
rssSampler.unref();
const mb = (bytes: number): number => Math.round((bytes / 1024 / 1024) * 10) / 10;

function line(i: number): string {
  const head = `${new Date().toISOString()} INFO req=${i} `;
  return head + 'x'.repeat(LINE_BYTES - head.length - 1) + '\n';
}

async function tailToOutbox(lines: number, synchronous: Synchronous): Promise<Record<string, number>> {
  const dir = mkdtempSync(path.join(root, 'tail-'));
  const logs = path.join(dir, 'logs');
  mkdirSync(logs);
  const file = path.join(logs, 'app.log');
  const block = Array.from({ length: 10_000 }, (_, i) => line(i)).join('');
  writeFileSync(file, '');
  for (let i = 0; i < lines; i += 10_000) appendFileSync(file, block);
  const outbox = new Outbox({ file: path.join(dir, 'outbox.db'), maxBytes: 8 * 2 ** 30, maxRows: 10_000_000, synchronous });
  const abort = new AbortController();
  const metrics = new AgentMetrics({ defaultMetrics: false });
  const source = new FileSource(
    { type: 'file', id: 'bench', dataset: 'bench', include: [path.join(logs, '*.log')], exclude: [], startAt: 'beginning', format: 'text', maxLineBytes: 1 << 20, encoding: 'utf8', fingerprintBytes: 1024, readChunkBytes: 512 * 1024, pollIntervalMs: 50 },
    { baseDir: dir, allowedRoots: new AllowedRoots([logs], dir) },
  );
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  await source.start(createSourceContext({ agentId: 'bench', sourceId: 'bench', outbox, log, signal: abort.signal, metrics, topicPrefix: 'bench.' }));
  while (outbox.stats().rows < lines) {
    await sleep(5);
    if (process.env.BENCH_DEBUG) process.stderr.write(`tail ${outbox.stats().rows}/${lines} ${JSON.stringify(source.status())}\n`);
  }
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  abort.abort();
  await source.stop();
  outbox.close();
  rmSync(dir, { recursive: true, force: true });
  // MB per CPU-second is steadier than MB/s when other processes share the two cores.
  const mbs = (lines * LINE_BYTES) / 1024 / 1024;
  return { lines, seconds: round(seconds), mbPerSecond: round(mbs / seconds), linesPerSecond: Math.round(lines / seconds), cpuSeconds: round(cpuSeconds), mbPerCpuSecond: round(mbs / cpuSeconds) };
}

/** A short unmeasured run first, so both measured runs see the same warmed-up JIT. */
async function tailRuns(): Promise<Record<string, Record<string, number>>> {
  await tailToOutbox(100_000, 'NORMAL');
  return { full: await tailToOutbox(500_000, 'FULL'), normal: await tailToOutbox(500_000, 'NORMAL') };
}

async function outboxToKafka(records: number): Promise<Record<string, number>> {
  const dir = mkdtempSync(path.join(root, 'ship-'));
  const outbox = new Outbox({ file: path.join(dir, 'outbox.db'), maxBytes: 8 * 2 ** 30, maxRows: 10_000_000, synchronous: 'NORMAL' });
  const topic = `bench.ship_${Date.now()}`;
  // One object per dataset, as the sources share it (to-message.ts).
  const shipHeaders = Object.freeze({ dataset: 'ship', 'agent-id': 'bench', 'content-type': 'application/vnd.sluice.envelope+json' });
  for (let i = 0; i < records; i += 5000) {
    outbox.commit(
      Array.from({ length: 5000 }, (_, j) => {
        const id = `bench:src:f:0123456789abcdef0123456789abcdef:${(i + j) * LINE_BYTES}`;
        const value = JSON.stringify({ id, dataset: 'ship', agentId: 'bench', source: { id: 'src', kind: 'file', path: '/var/log/app.log', offset: (i + j) * LINE_BYTES }, eventTime: new Date().toISOString(), ingestTime: new Date().toISOString(), payload: { message: line(i + j).trimEnd() } });
        return { topic, key: id, value: Buffer.from(value), headers: shipHeaders };
      }),
    );
  }
  const bytes = outbox.stats().bytes;
  // Warm up: metadata, producer id, topic creation are not part of the steady state.
  const warm = new KafkaProducer({ brokers, clientId: 'bench-warm' });
  await warm.send([{ topic, key: 'warm', value: Buffer.from('{}'), headers: {} }]);
  await warm.close();
  const shipper = new Shipper({ outbox, createSender: () => new KafkaProducer({ brokers, clientId: 'bench', compression: 'lz4' }), batchSize: Number(process.env.BENCH_SHIP_BATCH ?? shipperDefaults.batchSize.default), lingerMs: 0, maxBatchBytes: Number(process.env.BENCH_SHIP_BATCH_BYTES ?? shipperDefaults.maxBatchBytes.default), log });
  const started = performance.now();
  shipper.start();
  while (outbox.stats().rows > 0) await sleep(5);
  const seconds = (performance.now() - started) / 1000;
  await shipper.stop(0);
  outbox.close();
  rmSync(dir, { recursive: true, force: true });
  return { records, seconds: round(seconds), recordsPerSecond: Math.round(records / seconds), mbPerSecond: round(bytes / 1024 / 1024 / seconds) };
}

async function endToEndLatency(rate: number, seconds: number): Promise<Record<string, number>> {
  const dir = mkdtempSync(path.join(root, 'e2e-'));
  mkdirSync(path.join(dir, 'logs'));
  const file = path.join(dir, 'logs', 'app.log');
  writeFileSync(file, '');
  const config = parseConfig(
    `agentId: bench\ndataDir: ./data\nkafka: { brokers: ${JSON.stringify(brokers)}, topicPrefix: "bench_${Date.now()}." }\nhttp: { listen: "127.0.0.1:0" }\n` +
      `allowedRoots: [./logs]\nsources:\n  - { type: file, id: tail, dataset: e2e, include: ["./logs/*.log"], pollIntervalMs: 1000 }\n`,
    dir,
  );
  const latencies: number[] = [];
  /** The part of each latency spent between handing the batch to the producer and the broker's ack. */
  const kafkaLatencies: number[] = [];
  const agent = new Agent(
    { config, baseDir: dir, file: path.join(dir, 'agent.yaml') },
    {
      log,
      createSender: () => {
        const producer = new KafkaProducer({ brokers, clientId: 'bench-e2e', compression: 'lz4' });
        return {
          send: async (messages) => {
            const sentAt = performance.timeOrigin + performance.now();
            await producer.send(messages);
            const ackedAt = performance.timeOrigin + performance.now();
            for (const m of messages) {
              const match = /"message":"(\d+(?:\.\d+)?) /.exec(m.value.toString());
              if (match) {
                latencies.push(ackedAt - Number(match[1]));
                kafkaLatencies.push(ackedAt - sentAt);
              }
            }
          },
          close: () => producer.close(),
        };
      },
    },
  );
  await agent.start();
  await sleep(1000);
  const idleRss = process.memoryUsage.rss();
  // Stalls of the event loop the agent shares with this writer (sync SQLite, GC) show up in the tail.
  const loopDelay = monitorEventLoopDelay({ resolution: 5 });
  // Warm-up second (topic creation, producer id), then the measured window.
  const tickMs = 10;
  const perTick = Math.round((rate * tickMs) / 1000);
  const total = rate * (seconds + 1);
  let sent = 0;
  let next = performance.now();
  while (sent < total) {
    let chunk = '';
    const stamp = (performance.timeOrigin + performance.now()).toFixed(3);
    for (let i = 0; i < perTick; i++) chunk += `${stamp} ${'y'.repeat(LINE_BYTES - stamp.length - 2)}\n`;
    appendFileSync(file, chunk);
    sent += perTick;
    if (sent === rate) {
      latencies.length = 0;
      kafkaLatencies.length = 0;
      loopDelay.enable();
    }
    next += tickMs;
    await sleep(Math.max(0, next - performance.now()));
  }
  await sleep(1000);
  const loadRss = process.memoryUsage.rss();
  await agent.stop(5000);
  rmSync(dir, { recursive: true, force: true });
  latencies.sort((a, b) => a - b);
  kafkaLatencies.sort((a, b) => a - b);
  const pct = (values: number[], p: number): number => round(values[Math.min(values.length - 1, Math.floor(values.length * p))] ?? NaN);
  return {
    rate,
    seconds,
    samples: latencies.length,
    p50Ms: pct(latencies, 0.5),
    p99Ms: pct(latencies, 0.99),
    maxMs: round(latencies.at(-1) ?? NaN),
    kafkaAckP50Ms: pct(kafkaLatencies, 0.5),
    kafkaAckP99Ms: pct(kafkaLatencies, 0.99),
    eventLoopDelayP99Ms: round(loopDelay.percentile(99) / 1e6),
    eventLoopDelayMaxMs: round(loopDelay.max / 1e6),
    inProcessIdleRssMb: mb(idleRss),
    inProcessLoadRssMb: mb(loadRss),
  };
}

/** RSS of the real agent process (sluice-agent run), idle and while tailing `rate` lines/s. */
async function agentProcessRss(rate: number, seconds: number): Promise<Record<string, number>> {
  const dir = mkdtempSync(path.join(root, 'rss-'));
  mkdirSync(path.join(dir, 'logs'));
  const file = path.join(dir, 'logs', 'app.log');
  writeFileSync(file, '');
  const configFile = path.join(dir, 'agent.yaml');
  writeFileSync(
    configFile,
    `agentId: bench\ndataDir: ./data\nkafka: { brokers: ${JSON.stringify(brokers)}, topicPrefix: "bench_rss_${Date.now()}." }\nhttp: { listen: "127.0.0.1:0" }\n` +
      `allowedRoots: [./logs]\nsources:\n  - { type: file, id: tail, dataset: rss, include: ["./logs/*.log"] }\n`,
  );
  const child = spawn(process.execPath, [path.join(import.meta.dirname, '../agent/bin/sluice-agent.js'), 'run', '--config', configFile], { stdio: 'ignore', env: { ...process.env, SLUICE_LOG_LEVEL: 'warn' } });
  const rssOf = (): number => {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : NaN;
  };
  // The kernel's high-water mark: a peak between two samples counts too.
  const peakOf = (): number => processCost(child.pid!)?.peakRssBytes ?? NaN;
  await sleep(4000);
  const idle = rssOf();
  let peak = peakOf();
  const tickMs = 10;
  const perTick = Math.round((rate * tickMs) / 1000);
  const end = performance.now() + seconds * 1000;
  let ticks = 0;
  while (performance.now() < end) {
    appendFileSync(file, Array.from({ length: perTick }, (_, i) => line(i)).join(''));
    if (++ticks % 20 === 0) peak = Math.max(peak, peakOf());
    await sleep(tickMs);
  }
  await sleep(1000);
  peak = Math.max(peak, peakOf());
  child.kill('SIGTERM');
  await new Promise((resolve) => child.once('exit', resolve));
  rmSync(dir, { recursive: true, force: true });
  return { rate, seconds, idleRssMb: mb(idle), loadPeakRssMb: mb(peak) };
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

// `node bench/agent.ts [process tail kafka latency rss]`: all parts by default.
const parts = new Set(process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['process', 'tail', 'kafka', 'latency', 'rss']);
const wholeProcess = (): Promise<object> =>
  fileToKafka({
    brokers,
    dir: mkdtempSync(path.join(root, 'process-')),
    lines: Number(process.env.BENCH_AGENT_LINES ?? 2_000_000),
    tools: toolsFrom(process.env.BENCH_AGENT_TOOLS),
    cpuProfileDir: process.env.BENCH_AGENT_CPU_PROF,
    nodeFlags: process.env.BENCH_AGENT_NODE_FLAGS?.split(' ').filter((f) => f !== ''),
    agentBin: process.env.BENCH_AGENT_BIN,
    settings: process.env.BENCH_AGENT_SETTINGS === undefined ? undefined : (JSON.parse(process.env.BENCH_AGENT_SETTINGS) as Record<string, unknown>),
  });
const result = {
  machine: { cpus: (await import('node:os')).availableParallelism(), node: process.version, load: machineLoad() },
  ...(parts.has('process') ? { fileToKafka: await wholeProcess() } : {}),
  ...(parts.has('tail') ? { tailToOutbox: await withLoad(tailRuns()) } : {}),
  ...(parts.has('kafka') ? { outboxToKafka: await withLoad(outboxToKafka(300_000)) } : {}),
  ...(parts.has('latency') ? { endToEnd: await withLoad(endToEndLatency(5000, 10)) } : {}),
  ...(parts.has('rss') ? { agentProcess: await withLoad(agentProcessRss(5000, 10)) } : {}),
  benchProcessPeakRssMb: mb(peakRss),
  targets: { processMbPerSecond: 66, processCpuSecondsPerGb: 15, processPeakRssMb: 150, tailMbPerSecond: 50, kafkaRecordsPerSecond: 100_000, p99Ms: 50, rssMb: 150 },
};
rmSync(root, { recursive: true, force: true });
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
process.exit(0);
