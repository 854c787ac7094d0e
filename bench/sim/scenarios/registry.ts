/** The scenarios `--scenario` can name, one module each. */
import { iotScenario } from './iot.ts';
import { logsScenario } from './logs.ts';
import type { Scenario, ScenarioContext, ScenarioName } from './scenario.ts';
import { webScenario } from './web.ts';

export const scenarios: Record<ScenarioName, (ctx: ScenarioContext) => Scenario> = {
  iot: iotScenario,
  web: webScenario,
  logs: logsScenario,
};

export const SCENARIO_NAMES = Object.keys(scenarios) as ScenarioName[];

/** Entities a scenario gets when the flags name none. */
export const DEFAULT_ENTITIES: Record<ScenarioName, number> = { iot: 100, web: 1000, logs: 6 };
