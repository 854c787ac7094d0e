/**
 * `folder`: every file under a folder the control plane's workers can read, confined to the configured
 * roots (SLUICE_JOB_FOLDER_ROOTS): the path is resolved (symlinks included) and must stay inside a root,
 * at planning and again when each file is read, so a symlink swapped in later cannot lead out. Record ids
 * from the file's resolved path plus the byte offset of each line, so a file that grew since an earlier
 * job re-publishes only ids the stores already have, plus the new lines.
 */
import { open, readdir, realpath, stat } from 'node:fs/promises';
import { constants } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { InputError } from '@sluice/shared/errors';
import { folderSourceSchema, type FolderSource } from '@sluice/shared/api/jobs';
import { fileRecords, groupBySize, maybeGunzip } from '../file-records.ts';
import { fingerprint } from '@sluice/shared/node/fingerprint';
import type { JobKind } from '../registry.ts';

interface FolderFile {
  path: string;
  size: number;
  mtime: string;
}

export interface FolderBatchInput {
  files: FolderFile[];
}

function inside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !rel.startsWith(sep));
}

/** The resolved path, if it lies under one of `roots`; else a permanent refusal. */
export async function confined(roots: readonly string[], path: string): Promise<string> {
  if (roots.length === 0) throw InputError('folder jobs are disabled: set SLUICE_JOB_FOLDER_ROOTS to the folders they may read');
  let resolved: string;
  try {
    resolved = await realpath(path);
  } catch (error) {
    throw InputError(`${path} cannot be read: ${(error as Error).message}`);
  }
  const realRoots = await Promise.all(roots.map((r) => realpath(r).catch(() => r)));
  if (!realRoots.some((root) => inside(root, resolved))) throw InputError(`${path} is outside the folders jobs may read (SLUICE_JOB_FOLDER_ROOTS)`);
  return resolved;
}

async function walk(dir: string, suffix: string | undefined, out: FolderFile[], roots: readonly string[], signal: AbortSignal): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true });
  for (const entry of entries) {
    signal.throwIfAborted();
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      await walk(path, suffix, out, roots, signal);
    } else if (entry.isFile() || entry.isSymbolicLink()) {
      if (suffix !== undefined && !entry.name.endsWith(suffix)) continue;
      // A symlink counts when it points at a file inside the roots.
      const resolved = await confined(roots, path).catch(() => undefined);
      if (resolved === undefined) continue;
      const info = await stat(resolved);
      if (!info.isFile()) continue;
      out.push({ path: resolved, size: info.size, mtime: info.mtime.toISOString() });
    }
  }
}

export const folderKind: JobKind<FolderSource, FolderBatchInput> = {
  kind: 'folder',
  specSchema: folderSourceSchema,
  async validate(spec, ctx) {
    const resolved = await confined(ctx.config.jobs.folderRoots, spec.path);
    if (!(await stat(resolved)).isDirectory()) throw InputError(`${spec.path} is not a folder`);
  },
  async plan(job, ctx) {
    const roots = ctx.config.jobs.folderRoots;
    const root = await confined(roots, job.spec.path);
    const files: FolderFile[] = [];
    await walk(root, job.spec.suffix, files, roots, ctx.signal);
    files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    return groupBySize(files, ctx.config.jobs.batchBytes, ctx.config.jobs.batchFiles).map((group) => ({
      key: `file:${group[0]!.path}`,
      input: { files: group },
      bytes: group.reduce((n, f) => n + f.size, 0),
    }));
  },
  async run(batch, ctx) {
    let records = 0;
    let bytes = 0;
    const errors: Array<{ position: string; reason: string }> = [];
    for (const file of batch.input.files) {
      ctx.signal.throwIfAborted();
      // Again at reading time, and opened without following a final symlink.
      const resolved = await confined(ctx.config.jobs.folderRoots, file.path);
      if (resolved !== file.path) throw InputError(`${file.path} now resolves to ${resolved}; plan the job again`);
      const handle = await open(resolved, constants.O_RDONLY | constants.O_NOFOLLOW);
      let raw: Buffer;
      try {
        raw = await handle.readFile();
      } finally {
        await handle.close();
      }
      let content: Buffer;
      try {
        content = maybeGunzip(file.path, raw);
      } catch (error) {
        errors.push({ position: file.path, reason: `not gzip: ${(error as Error).message}` });
        continue;
      }
      const found = fileRecords(content, {
        sourceId: 'lake-folder',
        fingerprint: fingerprint('folder', resolved),
        format: batch.spec.format ?? 'auto',
        eventTime: file.mtime,
        position: { file: resolved },
      });
      for (const r of found) if (r.parseError) errors.push({ position: `${resolved} ${String(r.position.line ?? r.position.index)}`, reason: r.parseError.reason });
      await ctx.publish(found);
      records += found.length;
      bytes += raw.length;
      ctx.progress({ records: found.length, bytes: raw.length });
    }
    return { records, bytes, errors };
  },
};
