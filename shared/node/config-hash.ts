import { createHash } from 'node:crypto';
import { canonicalJson } from '@sluice/shared/canonical-json';
import type { PipelineConfig } from '@sluice/shared/agent-config/pipeline';

/**
 * The name of a pipeline: sha256 hex of its canonical JSON. Hash the DEFAULTED pipeline (what
 * validatePipeline returns): the control plane stores and sends that, and the agent hashes exactly what it
 * received, so both sides name one config with one hash whatever the key order or omitted defaults.
 */
export function configHash(pipeline: PipelineConfig): string {
  return createHash('sha256').update(canonicalJson(pipeline)).digest('hex');
}
