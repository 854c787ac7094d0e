import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_CSP, appFile } from './app-files.ts';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-app-files-'));
  mkdirSync(join(dir, 'renderer', 'assets'), { recursive: true });
  writeFileSync(join(dir, 'renderer', 'index.html'), '<!doctype html>');
  writeFileSync(join(dir, 'renderer', 'assets', 'index-1.js'), '');
  writeFileSync(join(dir, 'secret.txt'), 'no');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the app's own scheme", () => {
  it('serves the renderer with a CSP that allows no network connection at all', async () => {
    const index = await appFile(join(dir, 'renderer'), '/index.html');
    expect(index).toMatchObject({ status: 200, headers: { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': APP_CSP } });
    expect(APP_CSP).toContain("connect-src 'none'");
    expect(APP_CSP).toContain("script-src 'self'");
    expect(APP_CSP).not.toContain('unsafe');
    expect((await appFile(join(dir, 'renderer'), '/assets/index-1.js')).headers['cache-control']).toBe('public, max-age=31536000, immutable');
  });

  it('answers 404 outside the renderer folder and for folders', async () => {
    for (const path of ['/../secret.txt', '/%2e%2e/secret.txt', '/assets', '/assets/']) {
      const answer = await appFile(join(dir, 'renderer'), path);
      expect(answer.status, path).toBe(404);
      expect(answer.path, path).toBeUndefined();
    }
  });
});
