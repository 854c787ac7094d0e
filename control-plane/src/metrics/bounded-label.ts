/**
 * A label fed from record content (the envelope's agentId) must not grow series without bound: the first
 * `max` distinct values keep their own series, later ones share OVERFLOW_LABEL, and over-long values are
 * cut. Prometheus holds every series in memory, so a flood of made-up agent ids would otherwise take it down.
 */
export const OVERFLOW_LABEL = '(other)';
export const UNKNOWN_LABEL = '(unknown)';
const MAX_VALUE_LENGTH = 64;

export class BoundedLabel {
  readonly #max: number;
  readonly #seen = new Set<string>();

  constructor(max: number) {
    this.#max = max;
  }

  value(raw: string | undefined): string {
    if (raw === undefined || raw === '') return UNKNOWN_LABEL;
    const value = raw.length > MAX_VALUE_LENGTH ? raw.slice(0, MAX_VALUE_LENGTH) : raw;
    if (this.#seen.has(value)) return value;
    if (this.#seen.size >= this.#max) return OVERFLOW_LABEL;
    this.#seen.add(value);
    return value;
  }
}
