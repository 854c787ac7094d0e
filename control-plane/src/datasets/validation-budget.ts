/**
 * A budget for validating one record, so no schema can make one record hold a process. RE2 and the linear
 * keywords (linear-time.ts) make each check linear in what it reads, but a schema can still ask for an
 * exponential number of checks: `oneOf: [{$ref: '#'}, {$ref: '#'}]` over arrays nested 30 deep evaluates the
 * schema 2^30 times. Every subschema therefore carries a keyword that counts its evaluations, and a record
 * needing more than the budget is refused.
 *
 * Work is counted, not time read from a clock: a record gets the same verdict on every consumer, in the
 * ingest API and on replay, however busy the machine is.
 */
import type { Ajv2020 } from 'ajv/dist/2020.js';

type KeywordDefinition = Parameters<Ajv2020['addKeyword']>[0] & object;
import { forEachSubschema } from './schema-walk.ts';

export const BUDGET_KEYWORD = 'x-sluice-budget';
/**
 * About 0.4 s of the most expensive evaluations (each failing and recording an error) on this project's
 * reference machine; a 1 MiB record under an ordinary schema needs a fraction (about one per value it holds).
 */
export const DEFAULT_MAX_EVALUATIONS = 2_000_000;

class BudgetExceeded extends Error {}

/** Validation is synchronous: one counter serves every validator of the process. */
let remaining = 0;

const countingKeyword: KeywordDefinition = {
  keyword: BUDGET_KEYWORD,
  schemaType: 'boolean',
  errors: false,
  validate: () => {
    if (--remaining < 0) throw new BudgetExceeded('over budget');
    return true;
  },
};

export function useBudgetKeyword(ajv: Ajv2020): void {
  ajv.addKeyword(countingKeyword);
}

/** A copy of the schema with the counting keyword in every subschema. */
export function withBudget(schema: Record<string, unknown>): Record<string, unknown> {
  const copy = structuredClone(schema);
  forEachSubschema(copy, (node) => {
    node[BUDGET_KEYWORD] = true;
  });
  return copy;
}

/** Call before each validation: it may evaluate `maxEvaluations` subschemas. */
export function startBudget(maxEvaluations: number): void {
  remaining = maxEvaluations;
}

export function isOverBudget(error: unknown): boolean {
  return error instanceof BudgetExceeded;
}
