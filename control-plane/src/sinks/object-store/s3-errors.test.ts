import { describe, expect, it } from 'vitest';
import { createLogger } from '@sluice/shared/node/logger';
import { classifyS3Error, s3Outcome } from './s3-errors.ts';

const coded = (code: string, message = 'x') => Object.assign(new Error(message), { code });
const logger = createLogger('test', { level: 'silent' });

describe('S3 error classification', () => {
  it('calls MinIO and S3 "invalid" codes permanent: the request itself is wrong', () => {
    for (const code of ['XMinioInvalidResourceName', 'XMinioInvalidObjectName', 'InvalidObjectName', 'InvalidRequest', 'AccessDenied', 'KeyTooLongError']) {
      expect([code, classifyS3Error(coded(code))]).toEqual([code, 'permanent']);
    }
  });

  it('calls unreachable, busy or starting stores an outage', () => {
    for (const error of [coded('ECONNREFUSED'), coded('SlowDown'), coded('XMinioServerNotInitialized'), coded('InternalError'), new Error('socket hang up')]) {
      expect(classifyS3Error(error)).toBe('outage');
    }
  });

  it('leaves a code nobody listed unclassified, not retryable forever', () => {
    expect(classifyS3Error(coded('XMinioSomethingNew'))).toBe('unclassified');
    expect(classifyS3Error(coded('NoSuchBucket'))).toBe('unclassified');
    expect(classifyS3Error(new TypeError('cannot read properties of undefined'))).toBe('unclassified');
  });

  it('maps each class to its outcome, with the code in the reason', () => {
    expect(s3Outcome(coded('XMinioInvalidResourceName', 'Resource name contains bad components'), 'writing', logger)).toEqual({
      kind: 'failed',
      reason: 'object-store: writing: XMinioInvalidResourceName: Resource name contains bad components',
    });
    expect(s3Outcome(coded('SlowDown'), 'writing', logger).kind).toBe('retryable');
    expect(s3Outcome(coded('XMinioSomethingNew', 'huh'), 'writing', logger)).toEqual({ kind: 'unclassified', reason: 'object-store: writing: XMinioSomethingNew: huh' });
  });
});
