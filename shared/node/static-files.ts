/**
 * Serving a built web app's files from one folder, for the control plane's /console and the desktop app's
 * own scheme: a request path is confined to the folder (no `..`, no encoded separators, no hidden files,
 * no symlink out), folders are never listed, and each file gets its content type and cache lifetime.
 * Vite names every asset by its content hash, so assets are cached for a year and index.html never is.
 */
import { realpath, stat } from 'node:fs/promises';
import { extname, join, sep } from 'node:path';

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

export const INDEX_FILE = 'index.html';

export type StaticLookup =
  | { kind: 'file'; path: string; size: number; contentType: string; cacheControl: string }
  | { kind: 'refused'; reason: string }
  | { kind: 'missing' };

/**
 * The file `requestPath` (below the app's mount point, '' or '/' for the index) names inside `root`.
 * `refused` means the path itself is not acceptable (answer 400 or 404 without touching the disk).
 */
export async function lookupStaticFile(root: string, requestPath: string): Promise<StaticLookup> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(requestPath);
  } catch {
    return { kind: 'refused', reason: 'the path is not valid percent-encoding' };
  }
  const relative = decoded.replace(/^\/+/, '');
  const segments = relative === '' ? [INDEX_FILE] : relative.split('/');
  for (const segment of segments) {
    if (segment === '' || segment === '.' || segment === '..') return { kind: 'refused', reason: 'the path has an empty, `.` or `..` segment' };
    if (segment.startsWith('.')) return { kind: 'refused', reason: 'hidden files are not served' };
    if (/[\\\0]/.test(segment)) return { kind: 'refused', reason: 'the path has a backslash or NUL' };
  }
  const contentType = CONTENT_TYPES[extname(segments.at(-1) ?? '').toLowerCase()];
  if (contentType === undefined) return { kind: 'missing' };
  let realRoot: string;
  let realFile: string;
  try {
    realRoot = await realpath(root);
    realFile = await realpath(join(realRoot, ...segments));
  } catch {
    return { kind: 'missing' };
  }
  // A symlink inside the build that points out of it is treated as absent.
  if (!realFile.startsWith(realRoot + sep)) return { kind: 'missing' };
  const info = await stat(realFile).catch(() => undefined);
  if (!info?.isFile()) return { kind: 'missing' };
  const immutable = segments[0] === 'assets';
  return { kind: 'file', path: realFile, size: info.size, contentType, cacheControl: immutable ? 'public, max-age=31536000, immutable' : 'no-cache' };
}

/** Whether `root` holds a build at all (its index). */
export async function hasStaticBuild(root: string): Promise<boolean> {
  const info = await stat(join(root, INDEX_FILE)).catch(() => undefined);
  return info?.isFile() === true;
}
