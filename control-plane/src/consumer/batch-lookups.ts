/**
 * What one batch needs to know about its datasets, looked up once per batch rather than per record: the
 * registry's answer for each (dataset, stamped version), and the compiled payload check of each version found.
 */
import type { DatasetVersion } from '@sluice/shared/dataset';
import type { PayloadValidator, ValidatorCache } from '../datasets/validators.ts';

/** The dataset registry, as the consumer asks it. */
export interface DatasetLookup {
  /** `atLeastVersion`: the version the record was stamped with, so a just-published one is not missed. */
  latest(name: string, atLeastVersion?: number): Promise<DatasetVersion | undefined>;
}

/** `peek`'s answer when the registry has not been asked yet. */
export const NOT_LOOKED_UP = Symbol('not looked up');

export class BatchLookups {
  readonly #registry: DatasetLookup;
  readonly #validators: ValidatorCache;
  readonly #retry: <T>(what: string, operation: () => Promise<T>) => Promise<T>;
  readonly #found = new Map<string, DatasetVersion | undefined>();
  readonly #checks = new Map<DatasetVersion, PayloadValidator>();
  readonly #csvChecks = new Map<DatasetVersion, PayloadValidator>();
  // Records of a batch mostly belong to one dataset: the last answer is checked before the map.
  #lastName: string | undefined;
  #lastStamped = 0;
  #last: DatasetVersion | undefined;

  constructor(registry: DatasetLookup, validators: ValidatorCache, retry: <T>(what: string, operation: () => Promise<T>) => Promise<T>) {
    this.#registry = registry;
    this.#validators = validators;
    this.#retry = retry;
  }

  /** The registry's answer if this batch already asked (undefined = unknown dataset), else NOT_LOOKED_UP. */
  peek(name: string, stamped: number): DatasetVersion | undefined | typeof NOT_LOOKED_UP {
    if (name === this.#lastName && stamped === this.#lastStamped) return this.#last;
    const key = `${name}@${stamped}`;
    if (!this.#found.has(key)) return NOT_LOOKED_UP;
    return this.#remember(name, stamped, this.#found.get(key));
  }

  /** Asks the registry (retrying while it is unreachable); `stamped` is the version the record carries, 0 if none. */
  async lookUp(name: string, stamped: number): Promise<DatasetVersion | undefined> {
    const dataset = await this.#retry('dataset registry', () => this.#registry.latest(name, stamped));
    this.#found.set(`${name}@${stamped}`, dataset);
    return this.#remember(name, stamped, dataset);
  }

  /** `csv`: the payload is a CSV row, whose string fields the check types by the schema (csv-coercion.ts). */
  payloadCheck(dataset: DatasetVersion, csv = false): PayloadValidator {
    const checks = csv ? this.#csvChecks : this.#checks;
    let check = checks.get(dataset);
    if (!check) {
      check = this.#validators.validator(dataset.spec.name, dataset.version, dataset.schema, csv);
      checks.set(dataset, check);
    }
    return check;
  }

  #remember(name: string, stamped: number, dataset: DatasetVersion | undefined): DatasetVersion | undefined {
    this.#lastName = name;
    this.#lastStamped = stamped;
    this.#last = dataset;
    return dataset;
  }
}
