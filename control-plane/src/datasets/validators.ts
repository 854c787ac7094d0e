/**
 * Compiled ajv validators, one per (dataset, version): a schema version never changes once published, so
 * compiling it once is enough. Errors come back in words a person can act on: `/temperature: must be number`.
 */
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { InputError } from '@sluice/shared/errors';

// ajv-formats is CommonJS with a default export; under nodenext its type is the module namespace.
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

export function createAjv(): Ajv2020 {
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  addFormats(ajv);
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

export class ValidatorCache {
  readonly #ajv = createAjv();
  readonly #compiled = new Map<string, ValidateFunction>();
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
      validate = this.#ajv.compile(standalone);
      this.#compiled.set(key, validate);
    }
    if (validate(payload)) return { valid: true };
    return { valid: false, reason: describeErrors(validate.errors) };
  }
}
