import { describe, expect, it } from 'vitest';
import { AGENT_ID_PATTERN } from '@sluice/shared/fleet/checkin';
import { agentIdPrefix } from './enrollment.ts';

describe('agentIdPrefix', () => {
  it('keeps the agent id alphabet and length whatever the name', () => {
    expect(agentIdPrefix('gw-berlin-01')).toBe('gw-berlin-01');
    expect(agentIdPrefix('Gateway Hamburg #1')).toBe('Gateway-Hamburg-1');
    expect(agentIdPrefix('..//weird:name::')).toBe('weird-name');
    expect(agentIdPrefix('∆∆∆')).toBe('agent');
    expect(agentIdPrefix('x'.repeat(300))).toHaveLength(93);
    for (const name of ['a', '-lead', 'Ünïcödé host', 'x'.repeat(300), '___']) {
      expect(`${agentIdPrefix(name)}-abc123`).toMatch(new RegExp(AGENT_ID_PATTERN));
    }
  });
});
