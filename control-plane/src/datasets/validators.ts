/**
 * Compiled ajv validators, one per (dataset, version): a schema version never changes once published, so
 * compiling it once is enough. Errors come back in words a person can act on: `/temperature: must be number`.
 * No schema can make validation stall a process: each check is linear in the record (linear-time.ts) and a
 * record's checks are counted against a budget (validation-budget.ts). CSV rows are typed first (csv-coercion.ts).
 */
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { InputError } from '@sluice/shared/errors';
import { csvTyping } from './csv-coercion.ts';
import { isCommonDateTime } from './date-time-format.ts';
import { patternProblems, re2Engine, useLinearKeywords } from './linear-time.ts';
import { DEFAULT_MAX_EVALUATIONS, isOverBudget, startBudget, useBudgetKeyword, withBudget } from './validation-budget.ts';

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

/**
 * `ownProperties`: a payload is JSON, so only its own keys are fields; without it `properties: {constructor}`
 * checks Object.prototype.constructor (a function) and refuses `{}`, and `required: ['toString']` accepts it.
 */
export function createAjv(): Ajv2020 {
  const ajv = new Ajv2020({ allErrors: true, strict: false, ownProperties: true, code: { regExp: re2Engine } });
  addFormats(ajv);
  ajv.addFormat('date-time', dateTime);
  useLinearKeywords(ajv);
  useBudgetKeyword(ajv);
  return ajv;
}

/** With allErrors, one bad array of 100 000 items would otherwise make a reason of megabytes. */
const MAX_REPORTED_ERRORS = 20;

export function describeErrors(errors: readonly ErrorObject[] | null | undefined): string {
  if (!errors || errors.length === 0) return 'invalid';
  const more = errors.length > MAX_REPORTED_ERRORS ? `; and ${errors.length - MAX_REPORTED_ERRORS} more` : '';
  return errors
    .slice(0, MAX_REPORTED_ERRORS)
    .map((e) => {
      const where = e.instancePath === '' ? '/' : e.instancePath;
      const extra = e.keyword === 'additionalProperties' ? ` '${String((e.params as { additionalProperty?: string }).additionalProperty)}'` : '';
      return `${where}: ${e.message ?? e.keyword}${extra}`;
    })
    .join('; ') + more;
}

/** `payload`, when present, is what the sinks get instead of the record's payload (CSV fields typed). */
export type PayloadCheck = { valid: true; payload?: unknown } | { valid: false; reason: string };
export type PayloadValidator = (payload: unknown) => PayloadCheck;

const VALID: PayloadCheck = { valid: true };

export class ValidatorCache {
  readonly #ajv = createAjv();
  readonly #compiled = new Map<string, PayloadValidator>();
  readonly #maxEntries: number;
  readonly #maxEvaluations: number;

  /** `maxEvaluations`: the per-record validation budget, in subschema evaluations (validation-budget.ts). */
  constructor(maxEntries = 1000, maxEvaluations = DEFAULT_MAX_EVALUATIONS) {
    this.#maxEntries = maxEntries;
    this.#maxEvaluations = maxEvaluations;
  }

  /** Compiles a schema to check it is a usable JSON Schema; throws InputError with ajv's reason if not. */
  static assertValidSchema(schema: unknown): void {
    if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
      throw InputError('a dataset schema must be a JSON Schema object');
    }
    // Before compiling: ajv would stop at the first pattern RE2 refuses and not say where it is.
    const patterns = patternProblems(schema);
    if (patterns.length > 0) {
      throw InputError(`schema has patterns that cannot be used: ${patterns.map((p) => `${p.path}: ${p.message}`).join('; ')}`, patterns);
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

  /**
   * The payload check of one schema version, compiled on first use; hold on to it for a batch of records.
   * `csv`: the payload is a CSV row (every field a string), typed by the schema before it is checked.
   */
  validator(dataset: string, version: number, schema: Record<string, unknown>, csv = false): PayloadValidator {
    const key = `${dataset}@${version}${csv ? '/csv' : ''}`;
    let validate = this.#compiled.get(key);
    if (!validate) {
      // Bounded: a long-lived consumer over many datasets and versions keeps the most recent ones.
      if (this.#compiled.size >= this.#maxEntries) {
        const oldest = this.#compiled.keys().next().value;
        if (oldest !== undefined) this.#compiled.delete(oldest);
      }
      validate = this.#compile(schema, csv);
      this.#compiled.set(key, validate);
    }
    return validate;
  }

  #compile(schema: Record<string, unknown>, csv: boolean): PayloadValidator {
    // $id would clash when two versions share one; each compiled copy stands alone.
    const { $id: _id, ...standalone } = schema;
    let compiled: ValidateFunction;
    try {
      compiled = this.#ajv.compile(withBudget(standalone));
    } catch (error) {
      // A version published before today's rules (a pattern RE2 refuses): its records wait in the DLQ for a
      // fixed version rather than run on a backtracking engine or stop the consumer.
      const reason = `schema cannot be compiled: ${(error as Error).message}`;
      return () => ({ valid: false, reason });
    }
    const maxEvaluations = this.#maxEvaluations;
    const overBudget = `validating it needs more than ${maxEvaluations} schema evaluations, the budget of one record (a recursive anyOf/oneOf over deeply nested data?)`;
    const check = (payload: unknown): PayloadCheck => {
      startBudget(maxEvaluations);
      try {
        return compiled(payload) ? VALID : { valid: false, reason: describeErrors(compiled.errors) };
      } catch (error) {
        if (isOverBudget(error)) return { valid: false, reason: overBudget };
        // A value nested deeper than the stack allows: refused like any invalid record, never a crash.
        return { valid: false, reason: `could not be validated: ${(error as Error).message}` };
      }
    };
    if (!csv) return check;
    const typed = csvTyping(standalone);
    return (payload) => {
      const row = typed(payload);
      if (!row.ok) return { valid: false, reason: row.reason };
      const verdict = check(row.payload);
      return verdict.valid ? { valid: true, payload: row.payload } : verdict;
    };
  }
}
