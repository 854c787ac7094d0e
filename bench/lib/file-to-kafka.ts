/**
 * The agent as a user runs it, beside its peers (issue 12, target 1): one generated file of ~200-byte lines,
 * read from its start by each tool into its own 3-partition topic (acks=all, idempotence, lz4), timed from
 * process start until the topic's end offsets sum to the line count. CPU seconds and peak RSS come from
 * /proc of the tool's process (process-meter.ts); the machine's load is printed beside each figure.
 *
 *   sluice-agent  `sluice-agent run` with default settings: every line committed to the outbox before it ships
 *   rsyslog       imfile → omkafka (librdkafka), in-memory queue; when rsyslogd and its omkafka module exist
 *   kcat          `kcat -P -l` (librdkafka), reading the file as fast as the producer takes it; when installed
 *
 * MB and GB are decimal (10^6, 10^9 bytes) of the input file.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { deleteTopics, ensureTopics, TopicEndOffsets } from '@sluice/shared/node/kafka';
import { machineLoad, processCost, type ProcessCost } from './process-meter.ts';

export type Tool = 'sluice-agent' | 'rsyslog' | 'kcat';

export interface FileToKafkaOptions {
  brokers: string[];
  /** A scratch folder; the input file and each tool's state go under it. */
  dir: string;
  lines: number;
  tools: readonly Tool[];
  /** Writes a V8 CPU profile of the agent (`--cpu-prof`) into this folder. */
  cpuProfileDir?: string | undefined;
  /** More Node flags for the agent, e.g. heap sizes to compare with the launcher's (bin/sluice-agent.js). */
  nodeFlags?: readonly string[];
  /** Another build of the agent's launcher (to compare a change with what it replaces). */
  agentBin?: string;
  /** Agent settings merged over the defaults per top-level section, e.g. `{ kafka: { compression: 'zstd' } }`. */
  settings?: Record<string, unknown>;
}

export interface ToolRun {
  tool: Tool;
  lines: number;
  megabytes: number;
  seconds: number;
  mbPerSecond: number;
  linesPerSecond: number;
  cpuSeconds: number;
  /** Of cpuSeconds, in the kernel. */
  systemSeconds: number;
  cpuSecondsPerGb: number;
  peakRssMb: number;
  /** 1/5/15-minute load averages when the tool started and when its topic was complete. */
  load: { before: number[]; after: number[] };
}

export type ToolResult = ToolRun | { tool: Tool; skipped: string } | { tool: Tool; failed: string; lines: number; reached: number; seconds: number };

const PARTITIONS = 3;
const POLL_MS = 100;
const AGENT_BIN = path.join(import.meta.dirname, '../../agent/bin/sluice-agent.js');
const WORDS = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet', 'kilo', 'lima', 'mike', 'november', 'oscar', 'papa', 'quebec', 'romeo', 'sierra', 'tango', 'uniform', 'victor', 'whiskey', 'xray', 'yankee', 'zulu', 'cache', 'miss', 'retry', 'timeout'];
const STATUS = [200, 200, 200, 201, 204, 304, 404, 500];

/** A log line of exactly `bytes` bytes (newline included) that varies like a real one, so lz4 and zstd work as usual. */
export function benchLine(i: number, epochMs: number, bytes = 200): string {
  const head = `${new Date(epochMs + i).toISOString()} INFO svc=checkout req=${i} user=u${(i * 7919) % 100_000} path=/api/v1/orders/${(i * 104_729) % 1_000_000} status=${STATUS[i % STATUS.length]} ms=${(i * 31) % 997} msg=`;
  let body = '';
  for (let k = i; head.length + body.length < bytes - 1; k = (Math.imul(k, 1_103_515_245) + 12_345) >>> 0) body += `${WORDS[k % WORDS.length]} `;
  return `${(head + body).slice(0, bytes - 1)}\n`;
}

/** Writes the input file; returns its size in bytes. */
export function writeInput(file: string, lines: number): number {
  const fd = openSync(file, 'w');
  const epochMs = Date.parse('2026-01-01T00:00:00Z');
  let bytes = 0;
  try {
    for (let i = 0; i < lines; ) {
      let block = '';
      for (const end = Math.min(lines, i + 10_000); i < end; i++) block += benchLine(i, epochMs);
      bytes += writeSync(fd, block);
    }
  } finally {
    closeSync(fd);
  }
  return bytes;
}

function installed(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

/** rsyslog's omkafka module is a separate Debian package (rsyslog-kafka). */
function omkafkaInstalled(): boolean {
  const found = spawnSync('sh', ['-c', 'ls /usr/lib/*/rsyslog/omkafka.so /usr/lib/rsyslog/omkafka.so 2>/dev/null'], { encoding: 'utf8' });
  return found.stdout.trim().length > 0;
}

interface Launch {
  child: ChildProcess;
  /** Ends the tool once its topic is complete (an exited tool is left alone). */
  stop(): Promise<void>;
}

function launch(command: string, args: string[], stopSignal: NodeJS.Signals = 'SIGTERM', env: NodeJS.ProcessEnv = process.env): Launch {
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'inherit'], env });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(stopSignal);
      const killed = await Promise.race([exited.then(() => true), sleep(15_000).then(() => false)]);
      if (!killed) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}

function agentLaunch(options: FileToKafkaOptions, file: string, topicPrefix: string): Launch {
  const dir = path.join(options.dir, 'sluice-agent');
  mkdirSync(dir, { recursive: true });
  const config = path.join(dir, 'agent.yaml');
  const settings = {
    agentId: 'bench',
    dataDir: './data',
    kafka: { brokers: options.brokers, topicPrefix },
    http: { listen: '127.0.0.1:0' },
    allowedRoots: [path.dirname(file)],
    sources: [{ type: 'file', id: 'tail', dataset: 'lines', include: [file] }],
  };
  // JSON is YAML: the config file is the settings object, with the caller's overrides merged per section.
  writeFileSync(config, JSON.stringify(mergeSettings(settings, options.settings ?? {}), null, 2));
  const profile = options.cpuProfileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`];
  return launch(process.execPath, [...profile, ...(options.nodeFlags ?? []), options.agentBin ?? AGENT_BIN, 'run', '--config', config], 'SIGTERM', { ...process.env, SLUICE_LOG_LEVEL: 'warn' });
}

function rsyslogLaunch(options: FileToKafkaOptions, file: string, topic: string): Launch {
  const dir = path.join(options.dir, 'rsyslog');
  mkdirSync(dir, { recursive: true });
  const config = path.join(dir, 'rsyslog.conf');
  const brokers = options.brokers.map((b) => JSON.stringify(b)).join(', ');
  writeFileSync(
    config,
    `global(workDirectory="${dir}")\nmodule(load="imfile")\nmodule(load="omkafka")\ntemplate(name="line" type="string" string="%msg%")\n` +
      `ruleset(name="toKafka") {\n  action(type="omkafka" broker=[${brokers}] topic="${topic}" template="line" partitions.auto="on"\n` +
      `         confParam=["compression.codec=lz4", "acks=all", "enable.idempotence=true"])\n}\n` +
      `input(type="imfile" file="${file}" tag="bench" ruleset="toKafka" freshStartTail="off")\n`,
  );
  return launch('rsyslogd', ['-n', '-f', config, '-i', path.join(dir, 'rsyslogd.pid')]);
}

function kcatLaunch(options: FileToKafkaOptions, file: string, topic: string): Launch {
  return launch('kcat', ['-P', '-b', options.brokers.join(','), '-t', topic, '-z', 'lz4', '-X', 'acks=all', '-X', 'enable.idempotence=true', '-l', file]);
}

/** Starts one tool and waits until its topic holds every line (or the timeout: a tool that stalls fails). */
async function measure(tool: Tool, topic: string, start: () => Launch, lines: number, bytes: number, brokers: string[]): Promise<ToolResult> {
  await ensureTopics(brokers, [{ name: topic, partitions: PARTITIONS }]);
  const ends = new TopicEndOffsets(brokers);
  const timeoutMs = Math.max(120_000, lines * 0.2);
  const before = machineLoad();
  const started = performance.now();
  const run = start();
  let cost: ProcessCost = { cpuSeconds: 0, systemSeconds: 0, rssBytes: 0, peakRssBytes: 0 };
  let reached = 0n;
  try {
    while (reached < BigInt(lines)) {
      await sleep(POLL_MS);
      reached = await ends.total(topic, PARTITIONS).catch(() => reached);
      // Read after the offsets: the cost includes all the work that got the topic this far.
      cost = processCost(run.child.pid!) ?? cost;
      if (performance.now() - started > timeoutMs) {
        return { tool, failed: 'timed out', lines, reached: Number(reached), seconds: round((performance.now() - started) / 1000) };
      }
    }
    const seconds = (performance.now() - started) / 1000;
    const megabytes = bytes / 1e6;
    return {
      tool,
      lines,
      megabytes: round(megabytes),
      seconds: round(seconds),
      mbPerSecond: round(megabytes / seconds),
      linesPerSecond: Math.round(lines / seconds),
      cpuSeconds: round(cost.cpuSeconds),
      systemSeconds: round(cost.systemSeconds),
      cpuSecondsPerGb: round(cost.cpuSeconds / (bytes / 1e9)),
      peakRssMb: round(cost.peakRssBytes / 1e6),
      load: { before, after: machineLoad() },
    };
  } finally {
    await run.stop();
    await ends.close();
    await deleteTopics(brokers, [topic]).catch(() => undefined);
  }
}

/** Runs each available tool in turn on the same file. */
export async function fileToKafka(options: FileToKafkaOptions): Promise<{ input: { lines: number; megabytes: number }; runs: ToolResult[]; ratios?: Record<string, number> }> {
  const logs = path.join(options.dir, 'logs');
  mkdirSync(logs, { recursive: true });
  const file = path.join(logs, 'input.log');
  const bytes = writeInput(file, options.lines);
  const stamp = Date.now();
  const runs: ToolResult[] = [];
  // The input is hundreds of MB: it goes whatever happens to the runs.
  try {
    for (const tool of options.tools) {
      // Each tool its own topic; the agent's is its topic prefix + the dataset, `lines`.
      const prefix = `bench_${tool.replace(/-/g, '_')}_${stamp}.`;
      const topic = `${prefix}lines`;
      if (tool === 'sluice-agent') {
        runs.push(await measure(tool, topic, () => agentLaunch(options, file, prefix), options.lines, bytes, options.brokers));
      } else if (tool === 'rsyslog') {
        runs.push(installed('rsyslogd') && omkafkaInstalled() ? await measure(tool, topic, () => rsyslogLaunch(options, file, topic), options.lines, bytes, options.brokers) : { tool, skipped: 'rsyslogd or its omkafka module is not installed (apt-get install rsyslog rsyslog-kafka)' });
      } else {
        runs.push(installed('kcat') ? await measure(tool, topic, () => kcatLaunch(options, file, topic), options.lines, bytes, options.brokers) : { tool, skipped: 'kcat is not installed (apt-get install kcat)' });
      }
    }
  } finally {
    rmSync(file, { force: true });
  }
  return { input: { lines: options.lines, megabytes: round(bytes / 1e6) }, runs, ...ratiosOf(runs) };
}

/** The agent's figures over each baseline's (throughput: > 1 is faster; CPU and RSS: < 1 is leaner). */
function ratiosOf(runs: readonly ToolResult[]): { ratios?: Record<string, number> } {
  const done = new Map(runs.filter((r): r is ToolRun => 'mbPerSecond' in r).map((r) => [r.tool, r]));
  const agent = done.get('sluice-agent');
  if (!agent) return {};
  const ratios: Record<string, number> = {};
  for (const [tool, run] of done) {
    if (tool === 'sluice-agent') continue;
    ratios[`throughputVs_${tool}`] = round(agent.mbPerSecond / run.mbPerSecond);
    ratios[`cpuPerGbVs_${tool}`] = round(agent.cpuSecondsPerGb / run.cpuSecondsPerGb);
    ratios[`peakRssVs_${tool}`] = round(agent.peakRssMb / run.peakRssMb);
  }
  return Object.keys(ratios).length > 0 ? { ratios } : {};
}

export function toolsFrom(list: string | undefined): Tool[] {
  const all: Tool[] = ['sluice-agent', 'rsyslog', 'kcat'];
  if (list === undefined || list.trim() === '') return all;
  const wanted = list.split(',').map((t) => t.trim());
  const unknown = wanted.filter((t) => !all.includes(t as Tool));
  if (unknown.length > 0) throw new Error(`unknown tools ${unknown.join(', ')}; known: ${all.join(', ')}`);
  return wanted as Tool[];
}

function mergeSettings(base: Record<string, unknown>, overrides: Record<string, unknown>): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(overrides)) {
    const current = merged[key];
    const bothObjects = [current, value].every((v) => typeof v === 'object' && v !== null && !Array.isArray(v));
    merged[key] = bothObjects ? { ...(current as object), ...(value as object) } : value;
  }
  return merged;
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
