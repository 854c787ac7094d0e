/**
 * Service logs: services (the busiest first: service i logs in proportion to 1/(i+1)) write request lines
 * with a level, an HTTP status, a route and a latency. Latency is log-normal around a median of each
 * service's own; slow requests are more often warnings and errors.
 */
import { hex, normal, pick, uniform, weighted } from '../prng.ts';
import { type Scenario, type ScenarioContext } from './scenario.ts';

const NAMES = ['api', 'auth', 'billing', 'search', 'checkout', 'inventory', 'notifications', 'gateway'];
const ROUTES = [
  'GET /items',
  'GET /items/:id',
  'POST /orders',
  'GET /orders/:id',
  'POST /login',
  'GET /health',
  'PUT /cart',
  'GET /search',
];
const LEVELS = ['debug', 'info', 'warn', 'error'] as const;

export function logsScenario({ seed, entities }: ScenarioContext): Scenario {
  const name = (i: number): string => NAMES[i] ?? `svc-${String(i).padStart(3, '0')}`;
  const weights = Array.from({ length: entities }, (_, i) => 1 / (i + 1));
  const medians = Array.from({ length: entities }, (_, i) => 15 + 135 * uniform(seed, 61, i));
  return {
    name: 'logs',
    entityKind: 'service',
    shift: { field: 'latency_ms', delta: 250 },
    entityId: name,
    entityOf: (seq) => weighted(weights, seed, 62, seq),
    payload(seq, service) {
      const z = normal(seed, 63, seq);
      const latency = Math.round(medians[service]! * Math.exp(0.6 * z) * 10) / 10;
      // Slow requests (z > 2) fail ten times as often.
      const level = LEVELS[weighted(z > 2 ? [2, 50, 18, 30] : [5, 82, 10, 3], seed, 64, seq)]!;
      const route = ROUTES[pick(ROUTES.length, seed, 65, seq)]!;
      const status =
        level === 'error'
          ? [500, 502, 503][pick(3, seed, 66, seq)]!
          : level === 'warn'
            ? [404, 409, 429][pick(3, seed, 66, seq)]!
            : route.startsWith('POST')
              ? 201
              : 200;
      const message =
        level === 'error'
          ? `${route} failed: upstream ${name(pick(entities, seed, 67, seq))} timed out`
          : `${route} ${status} in ${latency} ms`;
      return {
        service: name(service),
        host: `${name(service)}-${pick(3, seed, 68, seq)}`,
        level,
        message,
        route,
        status,
        latency_ms: latency,
        trace_id: hex(32, seed, 69, seq),
      };
    },
  };
}
