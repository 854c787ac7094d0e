/**
 * Whether a file found in the drop folder may be read at all. The folder is inside allowedRoots, but a
 * name in it may lead elsewhere: a symbolic link is judged by its target (it must stay in the folder), and
 * a hard link cannot be told from its other names, so a file with more than one link is refused unless the
 * source allows it (`allowHardLinks`): its other name may be anywhere on the same filesystem. A refusal is a
 * DropFileError: the file goes to failed/ with the reason, and what it points at is left untouched.
 */
import type { Stats } from 'node:fs';
import { lstat, realpath, stat } from 'node:fs/promises';
import { isAbsolute, relative } from 'node:path';
import { DropFileError } from './rows.ts';

export interface AdmissionRules {
  /** Real path of the drop folder. */
  rootReal: string;
  maxFileBytes: number;
  allowHardLinks: boolean;
}

/** The file's stat when it may be read; undefined when it is not a regular file (a folder: ignored). */
export async function admitDroppedFile(full: string, rules: AdmissionRules): Promise<Stats | undefined> {
  const link = await lstat(full);
  if (link.isSymbolicLink()) {
    const target = await realpath(full);
    if (!isBelow(rules.rootReal, target)) throw new DropFileError('symbolic link points outside the drop folder', { target });
  }
  const info = await stat(full);
  if (!info.isFile()) return undefined;
  if (info.nlink > 1 && !rules.allowHardLinks) {
    throw new DropFileError(`file has ${info.nlink} hard links: its other names may be outside the drop folder (set allowHardLinks: true to accept hard-linked files)`, { links: info.nlink });
  }
  if (info.size > rules.maxFileBytes) throw new DropFileError(`file of ${info.size} bytes is over maxFileBytes (${rules.maxFileBytes})`);
  return info;
}

function isBelow(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
}
