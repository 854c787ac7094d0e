/**
 * DDSketch (Masson, Rim, Lee: "DDSketch: A Fast and Fully-Mergeable Quantile Sketch with Relative-Error
 * Guarantees", VLDB 2019) with the logarithmic mapping: a value x > 0 falls in bucket ⌈log_γ x⌉, γ = (1+α)/(1−α),
 * so any quantile it answers is within α (1 %) of a true value of that rank. Buckets are counts, so two
 * sketches merge by adding them, which is what makes per-pane sketches add up to any window exactly as one
 * sketch over all its rows would. The state is plain JSON (it is stored in a pane's jsonb).
 */

export interface SketchState {
  /** Positive values: bucket index → count. */
  p: Record<string, number>;
  /** Negative values, by the bucket of their magnitude. */
  n: Record<string, number>;
  /** Values too close to 0 to index (|x| < MIN_INDEXABLE). */
  z: number;
}

export const RELATIVE_ACCURACY = 0.01;
const GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY);
const LOG_GAMMA = Math.log(GAMMA);
const MIN_INDEXABLE = 1e-9;
/** Per sign: beyond it the lowest buckets collapse into one (accuracy kept for the higher quantiles). */
const MAX_BUCKETS = 2048;

export function emptySketch(): SketchState {
  return { p: {}, n: {}, z: 0 };
}

function bucketOf(magnitude: number): number {
  return Math.ceil(Math.log(magnitude) / LOG_GAMMA);
}

/** The value a bucket stands for: within α of everything in it. */
function valueOf(index: number): number {
  return (2 * GAMMA ** index) / (GAMMA + 1);
}

export function addValue(sketch: SketchState, value: number, count = 1): void {
  if (!Number.isFinite(value)) return;
  const magnitude = Math.abs(value);
  if (magnitude < MIN_INDEXABLE) {
    sketch.z += count;
    return;
  }
  const store = value > 0 ? sketch.p : sketch.n;
  const key = String(bucketOf(magnitude));
  store[key] = (store[key] ?? 0) + count;
}

/** `into` + `from`, in place; returns `into`. */
export function mergeSketch(into: SketchState, from: SketchState): SketchState {
  for (const [k, c] of Object.entries(from.p)) into.p[k] = (into.p[k] ?? 0) + c;
  for (const [k, c] of Object.entries(from.n)) into.n[k] = (into.n[k] ?? 0) + c;
  into.z += from.z;
  collapse(into.p);
  collapse(into.n);
  return into;
}

function collapse(store: Record<string, number>): void {
  const keys = Object.keys(store);
  if (keys.length <= MAX_BUCKETS) return;
  const sorted = keys.map(Number).sort((a, b) => a - b);
  const cut = sorted.length - MAX_BUCKETS;
  const into = String(sorted[cut]!);
  for (const k of sorted.slice(0, cut)) {
    store[into] = (store[into] ?? 0) + store[String(k)]!;
    delete store[String(k)];
  }
}

export function sketchCount(sketch: SketchState): number {
  let n = sketch.z;
  for (const c of Object.values(sketch.p)) n += c;
  for (const c of Object.values(sketch.n)) n += c;
  return n;
}

/** The q-quantile (0 ≤ q ≤ 1) by lower rank ⌊q·(n−1)⌋, or null for an empty sketch. */
export function quantile(sketch: SketchState, q: number): number | null {
  const total = sketchCount(sketch);
  if (total === 0) return null;
  const rank = Math.floor(Math.min(1, Math.max(0, q)) * (total - 1));
  let seen = 0;
  // Most negative first: the largest magnitude bucket of the negative store.
  for (const k of Object.keys(sketch.n).map(Number).sort((a, b) => b - a)) {
    seen += sketch.n[String(k)]!;
    if (seen > rank) return -valueOf(k);
  }
  seen += sketch.z;
  if (seen > rank) return 0;
  for (const k of Object.keys(sketch.p).map(Number).sort((a, b) => a - b)) {
    seen += sketch.p[String(k)]!;
    if (seen > rank) return valueOf(k);
  }
  return null;
}
