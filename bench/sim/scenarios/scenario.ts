/**
 * A scenario makes the payloads of one kind of traffic. Entities are what sends it (devices, users,
 * services); the event stream decides which entity sends event `seq` and when, the scenario what it says.
 * Payloads are decided by (seed, seq, entity, time) alone, except where a scenario keeps per-entity state
 * that only moves forward with the sequence (a web user's session), which the stream always walks from 0.
 */
export type ScenarioName = 'iot' | 'web' | 'logs';

export interface ScenarioContext {
  seed: number;
  entities: number;
}

export interface Scenario {
  readonly name: ScenarioName;
  /** What one entity is ("device"), for the summary and the --devices/--users/--services flags. */
  readonly entityKind: 'device' | 'user' | 'service';
  /** The numeric field a shift changes when it names none, and by how much. */
  readonly shift: { readonly field: string; readonly delta: number };
  entityId(index: number): string;
  /** Which entity sends event `seq`. */
  entityOf(seq: number): number;
  /** Event `seq`'s fields (the stream adds `ts` and `seq`); `timeMs` is its true time, before clock skew. */
  payload(seq: number, entity: number, timeMs: number): Record<string, unknown>;
}

export const round2 = (n: number): number => Math.round(n * 100) / 100;
