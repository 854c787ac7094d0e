/**
 * The last pipeline that applied cleanly, `<dataDir>/fleet/last-good.json` (0600, atomic): what a restarted
 * agent runs before (or without) reaching its control plane, and what a failed apply returns to.
 */
import path from 'node:path';
import type { PipelineConfig } from '@sluice/shared/agent-config/pipeline';
import { fleetDir } from './identity.ts';
import { readOptionalFile, writePrivateFile } from './private-file.ts';

export interface RevisionRef {
  policy: string;
  number: number;
}

export interface LastGood {
  revision: RevisionRef | null;
  hash: string;
  /** As received: `${env:…}` references are substituted when it is applied, never stored resolved. */
  config: PipelineConfig;
}

export function lastGoodFile(dataDir: string): string {
  return path.join(fleetDir(dataDir), 'last-good.json');
}

/** The last good pipeline, or undefined when there is none (or the file is unreadable: then it is ignored). */
export function readLastGood(dataDir: string): { lastGood: LastGood | undefined; problem?: string } {
  const file = lastGoodFile(dataDir);
  const text = readOptionalFile(file);
  if (text === undefined) return { lastGood: undefined };
  try {
    const parsed = JSON.parse(text) as LastGood;
    if (typeof parsed.hash !== 'string' || !Array.isArray(parsed.config?.sources)) return { lastGood: undefined, problem: `${file}: not a last-good config; ignored` };
    return { lastGood: parsed };
  } catch (error) {
    return { lastGood: undefined, problem: `${file}: ${(error as Error).message}; ignored` };
  }
}

export function writeLastGood(dataDir: string, lastGood: LastGood): void {
  writePrivateFile(lastGoodFile(dataDir), `${JSON.stringify(lastGood)}\n`);
}
