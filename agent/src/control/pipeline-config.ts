/**
 * A fleet-managed agent's effective config: its local YAML (the control channel, Kafka, outbox, HTTP,
 * allowedRoots; never in a policy) plus the pipeline its control plane sent. The pipeline goes through the
 * same steps as a YAML's sources: the shared validator with its defaults, `${env:NAME}` substitution by the
 * loader's code, and the agent's own checks (folders inside allowedRoots after realpath, ...). Nothing a
 * pipeline holds can reach the local settings: only its `sources` are taken.
 */
import type { AgentConfig } from '@sluice/shared/agent-config/index';
import type { PipelineConfig } from '@sluice/shared/agent-config/pipeline';
import { validateAgentConfig, validatePipeline } from '@sluice/shared/agent-config/validate';
import { configHash } from '@sluice/shared/node/config-hash';
import { ConfigError, localProblems, substituteEnv, type ConfigProblem, type LoadedConfig } from '../config/load-config.ts';

export type ComposedConfig = { ok: true; loaded: LoadedConfig; hash: string; pipeline: PipelineConfig } | { ok: false; problems: ConfigProblem[] };

/**
 * The local YAML of a fleet-managed agent: no sources of its own (they come from the control plane) and
 * the agent id of its identity.
 */
export function fleetLocalConfig(loaded: LoadedConfig, agentId: string): LoadedConfig {
  const problems: ConfigProblem[] = [];
  if (loaded.config.sources.length > 0) {
    problems.push({ path: 'sources', reason: 'must be empty: this agent is fleet-managed (fleet/identity.json in its dataDir) and runs the pipeline its control plane assigns' });
  }
  if (loaded.config.agentId !== undefined && loaded.config.agentId !== agentId) {
    problems.push({ path: 'agentId', reason: `is "${loaded.config.agentId}" but this agent is enrolled as "${agentId}"; remove agentId from the YAML` });
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return { ...loaded, config: { ...loaded.config, agentId, sources: [] } };
}

/** The local config with `pipeline` as its sources, validated like a YAML; `hash` names the pipeline as received. */
export function composeConfig(local: LoadedConfig, pipeline: unknown, env: NodeJS.ProcessEnv = process.env): ComposedConfig {
  const checked = validatePipeline(pipeline);
  if (!checked.ok) return { ok: false, problems: checked.problems };
  const hash = configHash(checked.value);
  const problems: ConfigProblem[] = [];
  const sources = substituteEnv(checked.value.sources, ['sources'], env, problems);
  if (problems.length > 0) return { ok: false, problems };
  const combined = validateAgentConfig({ ...local.config, sources }, (config) => localProblems(config, local.baseDir));
  if (!combined.ok) return { ok: false, problems: combined.problems };
  const config: AgentConfig = { ...local.config, sources: combined.value.sources };
  return { ok: true, loaded: { ...local, config }, hash, pipeline: checked.value };
}
