/**
 * Compiled ajv validators, one per (dataset, version): a schema version never changes once published, so
 * compiling it once is enough. Errors come back in words a person can act on: `/temperature: must be number`.
 */
import { Ajv2020, type ErrorObject } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { InputError } from '@sluice/shared/errors';
import { isCommonDateTime } from './date-time-format.ts';

interface StringFormat {
  validate: (value: string) => boolean;
  compare: (a: string, b: string) => number | undefined;
}

// ajv-formats is CommonJS with a default export; under nodenext its type is the module namespace.
const addFormats = addFormatsModule as unknown as ((ajv: Ajv2020) => Ajv2020) & { get: (name: 'date-time') => StringFormat };

const referenceDateTime = addFormats.get('date-time');
/** ajv-formats' date-time, answered by a fast path for the common shapes (see date-time-format.ts). */
const dateTime: StringFormat = {
  validate: (value) => isCommonDateTime(value) || referenceDateTime.validate(value),
  compare: referenceDateTime.compare,
};

export function createAjv(): Ajv2020 {
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  addFormats(ajv);
  ajv.addFormat('date-time', dateTime);
  return ajv;
}

export function describeErrors(errors: readonly ErrorObject[] | null | undefined): string {
  if (!errors || errors.length === 0) return 'invalid';
  return errors
    .map((e) => {
      const where = e.instancePath === '' ? '/' : e.instancePath;
      const extra = e.keyword === 'additionalProperties' ? ` '${String((e.params as { additionalProperty?: string }).additionalProperty)}'` : '';
      return `${where}: ${e.message ?? e.keyword}${extra}`;
    })
    .join('; ');
}

export type PayloadCheck = { valid: true } | { valid: false; reason: string };
export type PayloadValidator = (payload: unknown) => PayloadCheck;

const VALID: PayloadCheck = { valid: true };

export class ValidatorCache {
  readonly #ajv = createAjv();
  readonly #compiled = new Map<string, PayloadValidator>();
  readonly #maxEntries: number;

  constructor(maxEntries = 1000) {
    this.#maxEntries = maxEntries;
  }

  /** Compiles a schema to check it is a usable JSON Schema; throws InputError with ajv's reason if not. */
  static assertValidSchema(schema: unknown): void {
    if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
      throw InputError('a dataset schema must be a JSON Schema object');
    }
    try {
      createAjv().compile(schema);
    } catch (error) {
      throw InputError(`not a valid JSON Schema (draft 2020-12): ${(error as Error).message}`);
    }
  }

  check(dataset: string, version: number, schema: Record<string, unknown>, payload: unknown): PayloadCheck {
    return this.validator(dataset, version, schema)(payload);
  }

  /** The payload check of one schema version, compiled on first use; hold on to it for a batch of records. */
  validator(dataset: string, version: number, schema: Record<string, unknown>): PayloadValidator {
    const key = `${dataset}@${version}`;
    let validate = this.#compiled.get(key);
    if (!validate) {
      // Bounded: a long-lived consumer over many datasets and versions keeps the most recent ones.
      if (this.#compiled.size >= this.#maxEntries) {
        const oldest = this.#compiled.keys().next().value;
        if (oldest !== undefined) this.#compiled.delete(oldest);
      }
      // $id would clash when two versions share one; each compiled copy stands alone.
      const { $id: _id, ...standalone } = schema;
      const compiled = this.#ajv.compile(standalone);
      validate = (payload) => (compiled(payload) ? VALID : { valid: false, reason: describeErrors(compiled.errors) });
      this.#compiled.set(key, validate);
    }
    return validate;
  }
}
