import { createHash } from 'node:crypto';

/** A short stable hash of what identifies something (a source object's store, bucket, key, version; a topic and partition). */
export function fingerprint(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 32);
}
