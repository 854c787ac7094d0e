#!/usr/bin/env node
// `consume` runs with bounded V8 heap sizes (docs/consumer.md, "Memory"): an 8 MB young-generation semi-space
// (Node's default on this kind of machine is 64 MB, so the young generation alone took 128 MB of RSS; 8 instead of
// 16 took 15 MB off the peak at the same rate) and an old space of SLUICE_CONSUMER_HEAP_MB (default 160; the
// consumer's live heap through a backlog stays near 100 MB with the default batch settings). With Node's defaults V8 grows the heap with the allocation rate, not the live set.
// glibc's malloc keeps one arena per thread that allocates (the libuv pool gzips object-store segments):
// MALLOC_ARENA_MAX=2 unless set. V8 and glibc read these only at start-up, so the launcher re-executes itself
// with them (process.execve: same pid, so signals reach the consumer itself). Flags given on the command line or
// in NODE_OPTIONS, and an MALLOC_ARENA_MAX already set, win. Other commands run with Node's defaults.
import process from 'node:process';

if (process.argv[2] === 'consume' && typeof process.execve === 'function') {
  const heapMb = Number(process.env.SLUICE_CONSUMER_HEAP_MB ?? 160);
  if (!Number.isInteger(heapMb) || heapMb < 0) {
    process.stderr.write(`sluice-control-plane: SLUICE_CONSUMER_HEAP_MB must be a whole number of MB (0: Node's default), not ${process.env.SLUICE_CONSUMER_HEAP_MB}\n`);
    process.exit(1);
  }
  const flags = ['--max-semi-space-size=8', ...(heapMb > 0 ? [`--max-old-space-size=${heapMb}`] : [])];
  const given = `${process.execArgv.join(' ')} ${process.env.NODE_OPTIONS ?? ''}`;
  const missing = flags.filter((flag) => !given.includes(flag.split('=')[0]));
  if (missing.length > 0 || process.env.MALLOC_ARENA_MAX === undefined) {
    const env = { ...process.env, MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? '2' };
    process.execve(process.execPath, [process.execPath, ...missing, ...process.execArgv, ...process.argv.slice(1)], env);
  }
}

const { main } = await import('../src/cli.ts');
main().catch((error) => {
  process.stderr.write(`sluice-control-plane: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
