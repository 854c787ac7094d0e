/**
 * IoT sensors: devices spread over sites (25 a site), each reporting temperature and humidity on a fixed
 * period (round robin). Each site has its own climate (mean, daily amplitude, time zone); each device its own
 * calibration offset; each reading noise. The daily cycle peaks at 15:00 and bottoms out at 03:00 local time,
 * humidity moving against temperature.
 */
import { normal, pick, uniform } from '../prng.ts';
import { round2, type Scenario, type ScenarioContext } from './scenario.ts';

export const DEVICES_PER_SITE = 25;
const HOUR_MS = 3_600_000;

/** The daily cycle at a local hour: +1 at 15:00, −1 at 03:00. */
export function dailyCycle(localHour: number): number {
  return Math.sin((2 * Math.PI * (localHour - 9)) / 24);
}

export function iotScenario({
  seed,
  entities,
}: ScenarioContext): Scenario & {
  siteOf(device: number): number;
  climate(site: number): { mean: number; amplitude: number; utcOffsetHours: number };
} {
  const sites = Math.max(1, Math.ceil(entities / DEVICES_PER_SITE));
  const climate = (site: number) => ({
    mean: 14 + 8 * uniform(seed, 11, site),
    amplitude: 3 + 3 * uniform(seed, 12, site),
    utcOffsetHours: pick(18, seed, 13, site) - 8,
  });
  const climates = Array.from({ length: sites }, (_, s) => climate(s));
  const offsets = Array.from({ length: entities }, (_, d) => 0.8 * normal(seed, 14, d));
  const siteOf = (device: number): number => device % sites;
  return {
    name: 'iot',
    entityKind: 'device',
    shift: { field: 'temperature', delta: 6 },
    entityId: (d) => `dev-${String(d).padStart(5, '0')}`,
    entityOf: (seq) => seq % entities,
    siteOf,
    climate: (site) => climates[site]!,
    payload(seq, device, timeMs) {
      const site = siteOf(device);
      const c = climates[site]!;
      const localHour = (((timeMs / HOUR_MS + c.utcOffsetHours) % 24) + 24) % 24;
      const cycle = dailyCycle(localHour);
      const temperature = c.mean + offsets[device]! + c.amplitude * cycle + 0.3 * normal(seed, 21, seq);
      const humidity = Math.min(
        100,
        Math.max(
          5,
          50 + 15 * uniform(seed, 15, site) - 2.5 * c.amplitude * cycle + 1.5 * normal(seed, 22, seq),
        ),
      );
      // Batteries drain half a percent a day from a charge of their own and are recharged every 60 days.
      const battery = 100 - 10 * uniform(seed, 16, device) - (0.5 * ((timeMs / HOUR_MS) % (24 * 60))) / 24;
      return {
        device: `dev-${String(device).padStart(5, '0')}`,
        site: `site-${String(site).padStart(3, '0')}`,
        temperature: round2(temperature),
        humidity: round2(humidity),
        battery: round2(battery),
      };
    },
  };
}
