/**
 * Every kind of lake job the worker and the API know (registry.ts has the interface). A feature adds its
 * kind here: one import and one entry.
 */
import { compactionKind } from '../compaction/compaction-kind.ts';
import { folderKind } from './folder/folder-kind.ts';
import { kafkaKind } from './kafka/kafka-kind.ts';
import type { JobKind } from './registry.ts';
import { JobKindRegistry } from './registry.ts';
import { restKind } from './rest/rest-kind.ts';
import { s3Kind } from './s3/s3-kind.ts';
import { urlsKind } from './urls/urls-kind.ts';

export function builtInJobKinds(): JobKind[] {
  return [s3Kind, folderKind, urlsKind, restKind, kafkaKind, compactionKind];
}

export function jobKindRegistry(): JobKindRegistry {
  return new JobKindRegistry(builtInJobKinds());
}
