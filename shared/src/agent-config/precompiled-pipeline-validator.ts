/**
 * validatePipeline without compiling at run time: for pages under a Content-Security-Policy without
 * 'unsafe-eval' (the console). The compiled code is generated from the same schema and options
 * (shared/node/pipeline-validator-code.ts), and a test keeps it equal to validatePipeline.
 */
import type { ValidateFunction } from 'ajv';
import type { PipelineConfig } from './pipeline.ts';
import compiled from './pipeline-validator.generated.ts';
import { validatePipelineWith, type ExtraChecks, type ValidationResult } from './validate.ts';

export function validatePipelinePrecompiled(value: unknown, extra?: ExtraChecks<PipelineConfig>): ValidationResult<PipelineConfig> {
  return validatePipelineWith(compiled as unknown as ValidateFunction, value, extra);
}
