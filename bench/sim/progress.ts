/**
 * Progress on the terminal: a bar redrawn in place on a TTY, one JSON line per report otherwise (a CI log,
 * a pipe to jq). Both say how many events went out, the rate achieved over the last interval against the
 * rate the schedule asked for, and whether the sender is falling behind; the first time it falls behind a
 * warning says so once, in words.
 */
import type { Writable } from 'node:stream';

export interface ProgressSnapshot {
  elapsedSeconds: number;
  sent: number;
  accepted: number;
  rejected: number;
  /** Events per second over the last interval, and what the schedule asked for in it. */
  rate: number;
  targetRate: number;
  /** Events the sender is behind the schedule by (tokens spilled so far). */
  behind: number;
  inFlight: number;
  /** 0..1 of the run, by count or by duration. */
  done: number;
  eventTime: string | null;
}

export type ProgressMode = 'bar' | 'json' | 'none';

export interface ProgressReporter {
  report(snapshot: ProgressSnapshot): void;
  /** Said once, the first time the sender is behind. */
  warn(message: string): void;
  /** Leaves the terminal on a fresh line. */
  end(): void;
}

export function progressReporter(
  mode: ProgressMode,
  out: Writable & { isTTY?: boolean; columns?: number },
): ProgressReporter {
  if (mode === 'none')
    return {
      report: () => undefined,
      warn: (m) => void out.write(`${JSON.stringify({ warning: m })}\n`),
      end: () => undefined,
    };
  if (mode === 'json') {
    return {
      report: (s) => void out.write(`${JSON.stringify({ progress: s })}\n`),
      warn: (m) => void out.write(`${JSON.stringify({ warning: m })}\n`),
      end: () => undefined,
    };
  }
  let drawn = false;
  return {
    report(s) {
      out.write(`\r${bar(s, out.columns || 100)}\u001b[K`);
      drawn = true;
    },
    warn(message) {
      out.write(`${drawn ? '\n' : ''}warning: ${message}\n`);
      drawn = false;
    },
    end() {
      if (drawn) out.write('\n');
      drawn = false;
    },
  };
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

/** `[#########.........]  45%  12,345 sent  9,870/s of 10,000/s  behind 0` fitted to the width. */
export function bar(s: ProgressSnapshot, columns: number): string {
  const status = ` ${String(Math.floor(s.done * 100)).padStart(3)}%  ${fmt(s.sent)} sent  ${fmt(s.rate)}/s of ${fmt(s.targetRate)}/s${s.behind >= 1 ? `  behind ${fmt(s.behind)}` : ''}${s.rejected > 0 ? `  rejected ${fmt(s.rejected)}` : ''}`;
  const width = Math.max(10, Math.min(40, columns - status.length - 3));
  const full = Math.round(Math.min(1, Math.max(0, s.done)) * width);
  return `[${'#'.repeat(full)}${'.'.repeat(width - full)}]${status}`;
}
