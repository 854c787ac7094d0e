/**
 * Web events with sessions: users (picked at random for each event) browse in sessions of a few to a few
 * dozen events. A session starts with a page view of an entry page from a referrer, goes on with page views
 * and clicks, and its last event says `session_end` with the session's length in events and seconds. Each
 * user keeps a device type and a country.
 */
import { hex, normal, pick, uniform, weighted } from '../prng.ts';
import { type Scenario, type ScenarioContext } from './scenario.ts';

const ENTRY_PAGES = ['/', '/products', '/pricing', '/blog', '/search'];
const ENTRY_WEIGHTS = [40, 25, 10, 15, 10];
const PAGES = [
  '/',
  '/products',
  '/products/item',
  '/cart',
  '/checkout',
  '/search',
  '/account',
  '/blog/post',
  '/pricing',
  '/docs',
];
const REFERRERS = ['direct', 'google', 'newsletter', 'social', 'partner'];
const REFERRER_WEIGHTS = [35, 40, 10, 10, 5];
const ELEMENTS = ['nav', 'add_to_cart', 'buy', 'filter', 'share', 'signup'];
const DEVICE_TYPES = ['mobile', 'desktop', 'tablet'];
const COUNTRIES = ['DE', 'US', 'FR', 'GB', 'IN', 'BR', 'JP', 'NL'];

interface SessionState {
  number: number;
  id: string;
  length: number;
  done: number;
  startedMs: number;
}

export function webScenario({ seed, entities }: ScenarioContext): Scenario {
  const sessions = new Map<number, SessionState>();
  const userId = (u: number): string => `user-${String(u).padStart(6, '0')}`;
  return {
    name: 'web',
    entityKind: 'user',
    shift: { field: 'duration_ms', delta: 30_000 },
    entityId: userId,
    entityOf: (seq) => pick(entities, seed, 41, seq),
    payload(seq, user, timeMs) {
      let s = sessions.get(user);
      if (s === undefined || s.done >= s.length) {
        const number = s === undefined ? 0 : s.number + 1;
        // Session lengths are log-normal: median 5 events, a long tail to 60.
        const length = Math.min(
          60,
          Math.max(1, Math.round(Math.exp(1.6 + 0.8 * normal(seed, 42, user, number)))),
        );
        s = { number, id: `s-${hex(12, seed, 43, user, number)}`, length, done: 0, startedMs: timeMs };
        sessions.set(user, s);
      }
      const first = s.done === 0;
      s.done++;
      const last = s.done === s.length;
      const click = !first && uniform(seed, 44, seq) < 0.4;
      const fields: Record<string, unknown> = {
        user: userId(user),
        session: s.id,
        type: click ? 'click' : 'page_view',
        path: first
          ? ENTRY_PAGES[weighted(ENTRY_WEIGHTS, seed, 45, seq)]!
          : PAGES[pick(PAGES.length, seed, 46, seq)]!,
        device_type: DEVICE_TYPES[weighted([55, 40, 5], seed, 47, user)]!,
        country: COUNTRIES[pick(COUNTRIES.length, seed, 48, user)]!,
        session_event: s.done,
        duration_ms: Math.round(8000 * Math.exp(0.9 * normal(seed, 49, seq))),
      };
      if (first) fields.referrer = REFERRERS[weighted(REFERRER_WEIGHTS, seed, 50, seq)]!;
      if (click) fields.element = ELEMENTS[pick(ELEMENTS.length, seed, 51, seq)]!;
      if (last) {
        fields.session_end = true;
        fields.session_events = s.length;
        fields.session_seconds = Math.round((timeMs - s.startedMs) / 1000);
      }
      return fields;
    },
  };
}
