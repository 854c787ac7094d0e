/**
 * What a running process (the agent, rsyslog, kcat, a control-plane process) has cost so far, read from /proc:
 * CPU seconds of all its threads (utime + stime of the thread group), its resident memory now (VmRSS) and its
 * peak (VmHWM, the kernel's own high-water mark, so no peak falls between two samples). Linux only, as are
 * the benchmarks that use it.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';

export interface ProcessCost {
  cpuSeconds: number;
  /** Of cpuSeconds, the kernel's share (syscalls: file reads, SQLite writes, sockets). */
  systemSeconds: number;
  rssBytes: number;
  peakRssBytes: number;
}

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  return ticksPerSecond;
}

/** The cost of process `pid` now, or undefined once it has exited. */
export function processCost(pid: number): ProcessCost | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command (which may hold spaces, inside parentheses): state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const user = Number(fields[11]);
    const system = Number(fields[12]);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kB = (field: string): number => {
      const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status);
      return match ? Number(match[1]) * 1024 : NaN;
    };
    return { cpuSeconds: (user + system) / clockTicks(), systemSeconds: system / clockTicks(), rssBytes: kB('VmRSS'), peakRssBytes: kB('VmHWM') };
  } catch {
    return undefined;
  }
}

/** The 1, 5 and 15 minute load averages, to print beside a figure measured on a shared machine. */
export function machineLoad(): number[] {
  return os.loadavg().map((n) => Math.round(n * 100) / 100);
}

/** A part's figures with the machine's load when they were taken (two cores shared with the broker and more). */
export async function withLoad<T extends object>(part: Promise<T>): Promise<T & { load: { before: number[]; after: number[] } }> {
  const before = machineLoad();
  const figures = await part;
  return { ...figures, load: { before, after: machineLoad() } };
}
