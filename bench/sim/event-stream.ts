/**
 * The events of a run, in sequence order: event `seq` is due at timeline.dueAt(seq) after the start, comes
 * from scenario.entityOf(seq), and says scenario.payload(…) with the anomalies of its moment applied. The
 * stream is a pure function of its options: same options (seed, start, rate, …) → same events.
 *
 * Event time = start + due × timeScale (a time scale of 60 plays an hour of event time in a minute), then
 * moved by the entity's clock skew (fixed per entity, within ±skew) and, for a `lateFraction` of the events,
 * back by up to `lateBy`: those arrive behind the stream, as from a gateway that buffered them.
 */
import type { ScheduledAnomaly } from './anomalies.ts';
import { uniform } from './prng.ts';
import type { Scenario } from './scenarios/scenario.ts';
import { Timeline } from './timeline.ts';

export interface StreamOptions {
  scenario: Scenario;
  seed: number;
  entities: number;
  ratePerSecond: number;
  /** Event time of the run's start (ms since the epoch). */
  startMs: number;
  timeScale: number;
  skewMs: number;
  lateFraction: number;
  lateByMs: number;
  anomalies: readonly ScheduledAnomaly[];
  /** Stop after this many events sent... */
  count?: number;
  /** ...or once events fall due this long (run time, ms) after the start. */
  durationMs?: number;
}

export interface SimEvent {
  seq: number;
  entity: string;
  /** Run-time offset (ms) at which it is due. */
  dueMs: number;
  /** The event time it carries in `ts` (ms since the epoch). */
  eventTimeMs: number;
  late: boolean;
  payload: Record<string, unknown>;
}

export class EventStream {
  readonly timeline: Timeline;
  readonly #o: StreamOptions;
  readonly #skews: number[];
  /** Per anomaly: events it touched (spike: sent in it; silence: held back; shift: shifted). */
  readonly affected: number[];
  #seq = 0;
  #emitted = 0;
  #suppressed = 0;
  #late = 0;
  #peeked: SimEvent | undefined;
  #done = false;

  constructor(options: StreamOptions) {
    if (!Number.isInteger(options.entities) || options.entities < 1)
      throw new Error(`the number of ${options.scenario.entityKind}s must be a whole number ≥ 1`);
    if (!(options.timeScale > 0)) throw new Error('time scale must be more than 0');
    if (options.lateFraction < 0 || options.lateFraction > 1)
      throw new Error('late fraction must be between 0 and 1');
    if (options.count === undefined && options.durationMs === undefined)
      throw new Error('give a count or a duration');
    for (const a of options.anomalies) {
      if (a.target !== null && !this.#knows(options, a.target)) {
        throw new Error(
          `anomaly ${a.kind} targets "${a.target}", which is not one of the ${options.entities} ${options.scenario.entityKind}s (${options.scenario.entityId(0)} … ${options.scenario.entityId(options.entities - 1)})`,
        );
      }
    }
    this.#o = options;
    this.timeline = new Timeline(
      options.ratePerSecond,
      options.anomalies,
      options.startMs,
      options.timeScale,
    );
    this.#skews = Array.from({ length: options.entities }, (_, e) =>
      options.skewMs === 0 ? 0 : Math.round((2 * uniform(options.seed, 1, e) - 1) * options.skewMs),
    );
    // A whole-stream silence takes no sequences: what it held back is what the base rate would have sent.
    this.affected = options.anomalies.map((a) => {
      if (a.kind !== 'silence' || a.target !== null) return 0;
      const runMs = (ms: number): number =>
        Math.min(Math.max(0, (ms - options.startMs) / options.timeScale), options.durationMs ?? Infinity);
      return Math.round((options.ratePerSecond * (runMs(a.toMs) - runMs(a.fromMs))) / 1000);
    });
  }

  /** Sequences used so far, events sent and held back by a silence, and events made late. */
  get counts(): { sequences: number; emitted: number; suppressed: number; late: number } {
    return { sequences: this.#seq, emitted: this.#emitted, suppressed: this.#suppressed, late: this.#late };
  }

  peek(): SimEvent | undefined {
    this.#peeked ??= this.#make();
    return this.#peeked;
  }

  next(): SimEvent | undefined {
    const event = this.peek();
    this.#peeked = undefined;
    return event;
  }

  #make(): SimEvent | undefined {
    const o = this.#o;
    const anomalies = o.anomalies;
    while (!this.#done) {
      if (o.count !== undefined && this.#emitted >= o.count) break;
      const seq = this.#seq;
      const dueMs = this.timeline.dueAt(seq);
      if (o.durationMs !== undefined && dueMs >= o.durationMs) break;
      this.#seq++;
      const timeMs = o.startMs + dueMs * o.timeScale;
      const index = o.scenario.entityOf(seq);
      const entity = o.scenario.entityId(index);
      const active = (a: ScheduledAnomaly): boolean =>
        a.fromMs <= timeMs && timeMs < a.toMs && (a.target === null || a.target === entity);
      const silenced = anomalies.findIndex((a) => a.kind === 'silence' && active(a));
      if (silenced >= 0) {
        this.affected[silenced]!++;
        this.#suppressed++;
        continue;
      }
      const fields = o.scenario.payload(seq, index, timeMs);
      anomalies.forEach((a, i) => {
        if (!active(a)) return;
        if (a.kind === 'shift') {
          const value = fields[a.field!];
          if (typeof value !== 'number') return;
          fields[a.field!] = Math.round((value + a.delta!) * 100) / 100;
        }
        this.affected[i]!++;
      });
      const late = o.lateFraction > 0 && uniform(o.seed, 2, seq) < o.lateFraction;
      const lateMs = late ? Math.round(o.lateByMs * uniform(o.seed, 3, seq)) : 0;
      if (late) this.#late++;
      const eventTimeMs = Math.floor(timeMs) + this.#skews[index]! - lateMs;
      this.#emitted++;
      return {
        seq,
        entity,
        dueMs,
        eventTimeMs,
        late,
        payload: { ts: new Date(eventTimeMs).toISOString(), ...fields, seq },
      };
    }
    this.#done = true;
    return undefined;
  }

  #knows(options: StreamOptions, target: string): boolean {
    for (let i = 0; i < options.entities; i++) if (options.scenario.entityId(i) === target) return true;
    return false;
  }
}
