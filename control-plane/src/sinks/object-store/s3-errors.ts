/**
 * What an S3 failure means for a write, in three answers:
 *
 *   permanent (credentials, permissions, a name or request the store calls invalid) ──► failed
 *   known outage (no connection, timeouts, 5xx-style codes, SlowDown)               ──► retryable
 *   anything else (a code nobody listed here)                                        ──► unclassified
 *
 * Unclassified is not "retry forever": an unknown code (MinIO's XMinioInvalidResourceName for a key with
 * `..` segments, say) may never go away, and a write retried forever stalls its dataset for good. The
 * consumer retries it within a bounded budget, then dead-letters the records with this reason.
 */
import { failed, retryable, unclassified, type Outcome } from '@sluice/shared/outcome';
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
  'KeyTooLongError',
  'MetadataTooLarge',
  'MalformedXML',
  'XMinioObjectNameTooLong',
]);
/**
 * S3's `Invalid…` codes (InvalidRequest, InvalidDigest, InvalidPart…) and MinIO's `XMinio…Invalid…` ones
 * (XMinioInvalidResourceName, XMinioInvalidObjectName…) all say the request itself is wrong.
 */
const PERMANENT_PATTERN = /^(Invalid|XMinio\w*Invalid)/;

/** S3 and MinIO codes for a store that is busy, starting, or lost its quorum: it comes back by itself. */
const OUTAGE = new Set([
  'SlowDown',
  'ServiceUnavailable',
  'InternalError',
  'RequestTimeout',
  'RequestTimeTooSkewed',
  'OperationAborted',
  'XMinioServerNotInitialized',
  'XMinioReadQuorum',
  'XMinioWriteQuorum',
  'XMinioStorageFull',
  'XMinioOperationTimedOut',
  'XMinioBackendDown',
  'XMinioStorageDiskNotFound',
]);
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);
// Node and the S3 client report some lost connections with a bare message and no code.
const NETWORK_MESSAGES = /socket hang up|network (socket )?disconnected|timed? ?out|other side closed|connect ECONNREFUSED/i;

export type S3ErrorKind = 'permanent' | 'outage' | 'unclassified';

export function s3ErrorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code !== '') return code;
  const name = (error as { name?: unknown } | null)?.name;
  return typeof name === 'string' && name !== 'Error' && name !== 'S3Error' ? name : undefined;
}

export function classifyS3Error(error: unknown): S3ErrorKind {
  const code = s3ErrorCode(error);
  if (code !== undefined) {
    if (PERMANENT.has(code) || PERMANENT_PATTERN.test(code)) return 'permanent';
    if (OUTAGE.has(code) || NETWORK_CODES.has(code)) return 'outage';
  }
  const message = error instanceof Error ? error.message : String(error);
  if (NETWORK_MESSAGES.test(message)) return 'outage';
  return 'unclassified';
}

export function isPermanentS3Error(error: unknown): boolean {
  return classifyS3Error(error) === 'permanent';
}

export function describeS3Error(error: unknown): string {
  const code = s3ErrorCode(error);
  const message = error instanceof Error ? error.message : String(error);
  return code === undefined || message.includes(code) ? message : `${code}: ${message}`;
}

/** Maps any S3 failure to an outcome (see the diagram at the top). */
export function s3Outcome(error: unknown, doing: string, logger: Logger): Outcome {
  const reason = `object-store: ${doing}: ${describeS3Error(error)}`;
  switch (classifyS3Error(error)) {
    case 'permanent':
      logger.error({ reason }, 'object store refused the request');
      return failed(reason);
    case 'outage':
      return retryable(reason, 1_000);
    case 'unclassified':
      return unclassified(reason);
  }
}
