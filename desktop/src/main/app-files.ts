/** The app's own scheme: the built renderer's files, confined to their folder, each with the console's CSP. */
import { CONSOLE_SECURITY_HEADERS, consoleContentSecurityPolicy } from '@sluice/shared/api/console';
import { lookupStaticFile } from '@sluice/shared/node/static-files';
import type { AppFileAnswer } from './platform.ts';

/** The page may connect nowhere: main makes its API calls (common/ipc.ts, api:request). */
export const APP_CSP = consoleContentSecurityPolicy("'none'");

export async function appFile(rendererDir: string, pathname: string): Promise<AppFileAnswer> {
  const security = { 'content-security-policy': APP_CSP, ...CONSOLE_SECURITY_HEADERS };
  const found = await lookupStaticFile(rendererDir, pathname);
  if (found.kind !== 'file') return { status: 404, headers: { ...security, 'content-type': 'text/plain; charset=utf-8' }, text: 'not found' };
  return { status: 200, headers: { ...security, 'content-type': found.contentType, 'cache-control': found.cacheControl }, path: found.path };
}
