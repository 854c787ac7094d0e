/**
 * When each event of a run is due: event k is due at the run-time offset where the cumulative rate reaches
 * k. The rate is the base rate times a piecewise-constant multiplier (spikes multiply it, a whole-stream
 * silence makes it 0), so both directions are exact:
 *
 *   countBy(ms)  events due by `ms` after the start       (what the token bucket fills with)
 *   dueAt(k)     the run-time offset event k is due at     (its event time: start + dueAt(k) × timeScale)
 *
 *   rate ▲        ┌──┐ spike ×3
 *        │ ───────┘  └──────┐      ┌───────
 *        │                  └──────┘ silence
 *        └──────────────────────────────────▶ run time
 */
import type { ScheduledAnomaly } from './anomalies.ts';

interface Segment {
  fromMs: number;
  /** Events per millisecond in this segment. */
  perMs: number;
  /** Events due before it starts. */
  countBefore: number;
}

export class Timeline {
  readonly #segments: Segment[];

  /**
   * @param ratePerSecond the base rate
   * @param anomalies their windows are in event time; a run-time offset t is event time startMs + t × timeScale
   */
  constructor(
    ratePerSecond: number,
    anomalies: readonly ScheduledAnomaly[],
    startMs: number,
    timeScale: number,
  ) {
    if (!(ratePerSecond > 0)) throw new Error(`rate must be more than 0 (got ${ratePerSecond})`);
    const windows = anomalies
      .filter((a) => a.kind === 'spike' || (a.kind === 'silence' && a.target === null))
      .map((a) => ({
        fromMs: (a.fromMs - startMs) / timeScale,
        toMs: (a.toMs - startMs) / timeScale,
        factor: a.kind === 'spike' ? a.factor! : 0,
      }));
    const cuts = [...new Set([0, ...windows.flatMap((w) => [w.fromMs, w.toMs]).filter((t) => t > 0)])].sort(
      (a, b) => a - b,
    );
    this.#segments = [];
    let countBefore = 0;
    for (let i = 0; i < cuts.length; i++) {
      const fromMs = cuts[i]!;
      const factor = windows
        .filter((w) => w.fromMs <= fromMs && fromMs < w.toMs)
        .reduce((f, w) => f * w.factor, 1);
      const perMs = (ratePerSecond / 1000) * factor;
      this.#segments.push({ fromMs, perMs, countBefore });
      const next = cuts[i + 1];
      if (next !== undefined) countBefore += perMs * (next - fromMs);
    }
  }

  /** Events due by run-time offset `ms` (fractional). */
  countBy(ms: number): number {
    if (ms <= 0) return 0;
    const s = this.#segmentAt(ms);
    return s.countBefore + s.perMs * (ms - s.fromMs);
  }

  /** The run-time offset (ms) at which event `k` (0-based) is due. */
  dueAt(k: number): number {
    const segments = this.#segments;
    // The last segment whose start count is ≤ k and which has a rate (silent segments add no events).
    let lo = 0;
    let hi = segments.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (segments[mid]!.countBefore <= k) lo = mid;
      else hi = mid - 1;
    }
    while (segments[lo]!.perMs === 0 || (lo + 1 < segments.length && segments[lo + 1]!.countBefore <= k))
      lo++;
    const s = segments[lo]!;
    return s.fromMs + (k - s.countBefore) / s.perMs;
  }

  /** The rate (events/s) at run-time offset `ms`. */
  rateAt(ms: number): number {
    return this.#segmentAt(ms).perMs * 1000;
  }

  #segmentAt(ms: number): Segment {
    let found = this.#segments[0]!;
    for (const s of this.#segments) {
      if (s.fromMs <= ms) found = s;
      else break;
    }
    return found;
  }
}
