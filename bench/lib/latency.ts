/** Latency figures of the benches: nearest-rank percentiles, and p50/p99 of a call made many times in a row. */

/** The nearest-rank percentile `q` (0..1) of ascending `sorted`; 0 for none. */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** Runs `call` `times` times, one after another, and answers p50 and p99 of its wall time in ms (2 decimals). */
export async function callLatency(times: number, call: () => Promise<unknown>): Promise<{ p50Ms: number; p99Ms: number }> {
  const ms: number[] = [];
  for (let i = 0; i < times; i++) {
    const started = performance.now();
    await call();
    ms.push(performance.now() - started);
  }
  ms.sort((a, b) => a - b);
  const round = (n: number): number => Math.round(n * 100) / 100;
  return { p50Ms: round(percentile(ms, 0.5)), p99Ms: round(percentile(ms, 0.99)) };
}
