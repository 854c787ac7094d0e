/**
 * S3 failures that a retry cannot fix (credentials, permissions, a request the store calls invalid); every
 * other failure, connection refused and 5xx and SlowDown included, is an outage to wait out.
 */
import { failed, retryable, type Outcome } from '@sluice/shared/outcome';
import type { Logger } from '@sluice/shared/node/logger';

const PERMANENT = new Set([
  'AccessDenied',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'InvalidBucketName',
  'InvalidObjectName',
  'InvalidArgument',
  'EntityTooLarge',
  'InvalidBucketNameError',
  'InvalidObjectNameError',
  'InvalidArgumentError',
  'AccountProblem',
]);

export function s3ErrorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return code;
  const name = (error as { name?: unknown } | null)?.name;
  return typeof name === 'string' && name !== 'Error' ? name : undefined;
}

export function isPermanentS3Error(error: unknown): boolean {
  const code = s3ErrorCode(error);
  return code !== undefined && PERMANENT.has(code);
}

export function describeS3Error(error: unknown): string {
  const code = s3ErrorCode(error);
  const message = error instanceof Error ? error.message : String(error);
  return code === undefined || message.includes(code) ? message : `${code}: ${message}`;
}

/** Maps any S3 failure to an outcome: permanent ones fail, everything else is an outage to retry. */
export function s3Outcome(error: unknown, doing: string, logger: Logger): Outcome {
  const reason = `object-store: ${doing}: ${describeS3Error(error)}`;
  if (isPermanentS3Error(error)) {
    logger.error({ reason }, 'object store refused the request');
    return failed(reason);
  }
  return retryable(reason, 1_000);
}
