#!/usr/bin/env node
// The agent runs with bounded V8 heap sizes: a 16 MB young-generation semi-space and a 128 MB old space. With
// Node's defaults V8 grows the heap with the allocation rate (RSS 244 MB while tailing 5k lines/s, live heap
// under 40 MB). The semi-space is a trade: at 2 MB a backfill spent 40 % of its CPU in the garbage collector
// (each shipped record allocates dozens of short-lived objects in the Kafka client, and the young generation
// filled every few hundred records); 16 MB cuts the agent's CPU per GB by a quarter for ~25 MB more peak RSS
// (tailing 5k lines/s: 181 MB, was 156), 32 MB by a third for ~60 MB more (bench/agent.ts `process`,
// docs/shipping.md). V8 reads these flags only at start-up, so the launcher re-executes itself with them
// (process.execve: same pid, so signals and kill -9 reach the agent itself). Flags given on the command line or
// in NODE_OPTIONS win.
import process from 'node:process';

const HEAP_FLAGS = ['--max-semi-space-size=16', '--max-old-space-size=128'];
const given = `${process.execArgv.join(' ')} ${process.env.NODE_OPTIONS ?? ''}`;
const missing = HEAP_FLAGS.filter((flag) => !given.includes(flag.split('=')[0]));
if (missing.length > 0 && typeof process.execve === 'function') {
  process.execve(process.execPath, [process.execPath, ...missing, ...process.execArgv, ...process.argv.slice(1)], process.env);
}

const { main } = await import('../src/cli.ts');
process.exitCode = await main(process.argv.slice(2));
