/**
 * Keeps the file source inside allowedRoots at run time. A symbolic link under a watched folder is judged by
 * its real target: one leading outside the roots is neither descended into (the watcher ignores it) nor
 * opened, and is listed under `refused` in the source's status, with its target. Links whose target is
 * inside the roots work like the file or folder they point to.
 */
import type { Stats } from 'node:fs';
import { realpathSync, statSync } from 'node:fs';
import { realpath } from 'node:fs/promises';
import type { AllowedRoots } from '../../config/allowed-roots.ts';
import type { IncludeMatcher } from './include-matcher.ts';

export interface Refusal {
  path: string;
  target: string;
  reason: string;
  at: string;
}

/** Refusals listed in status at most (each is also counted as a source error and logged once). */
const MAX_REFUSALS = 100;

export class FileConfinement {
  readonly #roots: AllowedRoots;
  readonly #matcher: IncludeMatcher;
  readonly #report: (error: Error, file: string) => void;
  readonly #refused = new Map<string, Refusal>();

  constructor(roots: AllowedRoots, matcher: IncludeMatcher, report: (error: Error, file: string) => void) {
    this.#roots = roots;
    this.#matcher = matcher;
    this.#report = report;
  }

  /** For the watcher's `ignored`: true for a symbolic link whose target is outside the roots. */
  isOutsideLink(file: string, stats: Stats | undefined): boolean {
    if (stats?.isSymbolicLink() !== true) return false;
    let target: string;
    let isDirectory: boolean;
    try {
      target = realpathSync(file);
      isDirectory = statSync(file).isDirectory();
    } catch {
      return false; // dangling: nothing to read; the watcher sees it again if it comes to point somewhere
    }
    if (this.#roots.containsReal(target)) return false;
    // Only what the source could have read is worth reporting: a matching file, or a folder it descends into.
    if (isDirectory ? this.#matcher.deep : this.#matcher.matches(file)) this.#refuse(file, target);
    return true;
  }

  /** The real path of `file` when it is inside the roots; undefined (and refused) otherwise. */
  async realPathInside(file: string): Promise<string | undefined> {
    const target = await realpath(file).catch(() => undefined);
    if (target === undefined) return undefined;
    if (!this.#roots.containsReal(target)) {
      this.#refuse(file, target);
      return undefined;
    }
    this.#refused.delete(file);
    return target;
  }

  details(): { refused?: Refusal[] } {
    return this.#refused.size === 0 ? {} : { refused: [...this.#refused.values()] };
  }

  #refuse(file: string, target: string): void {
    if (this.#refused.has(file)) return;
    const reason = 'resolves outside allowedRoots: not read';
    if (this.#refused.size >= MAX_REFUSALS) this.#refused.delete(this.#refused.keys().next().value!);
    this.#refused.set(file, { path: file, target, reason, at: new Date().toISOString() });
    this.#report(new Error(`${file} ${reason} (it leads to ${target})`), file);
  }
}
