import { describe, expect, it } from 'vitest';
import { InputError, NotFoundError, isSluiceError } from '../src/errors.ts';

describe('named errors', () => {
  it('carry their name and render one body shape', () => {
    const err = InputError('bad config', [{ path: 'sources[0].path', reason: 'must be inside an allowed folder' }]);
    expect(err.name).toBe('InputError');
    expect(err.toBody()).toEqual({
      error: { name: 'InputError', message: 'bad config', details: [{ path: 'sources[0].path', reason: 'must be inside an allowed folder' }] },
    });
    expect(NotFoundError('no such dataset').toBody()).toEqual({ error: { name: 'NotFoundError', message: 'no such dataset' } });
  });

  it('are recognised by name', () => {
    expect(isSluiceError(InputError('x'), 'InputError')).toBe(true);
    expect(isSluiceError(InputError('x'), 'NotFoundError')).toBe(false);
    expect(isSluiceError(new Error('x'))).toBe(false);
  });
});
