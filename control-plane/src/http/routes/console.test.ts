import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorHandler, notFoundHandler } from '../error-handler.ts';
import { consoleRoutes } from './console.ts';

let dir: string;
let app: FastifyInstance;
let unbuilt: FastifyInstance;

async function server(root: string): Promise<FastifyInstance> {
  const instance = Fastify();
  instance.setErrorHandler(errorHandler);
  instance.setNotFoundHandler(notFoundHandler);
  await instance.register(consoleRoutes(root));
  return instance;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-console-route-'));
  const build = join(dir, 'build');
  mkdirSync(join(build, 'assets'), { recursive: true });
  writeFileSync(join(build, 'index.html'), '<!doctype html><title>console</title>');
  writeFileSync(join(build, 'assets', 'index-abc123.js'), 'console.log(1)');
  writeFileSync(join(build, 'assets', 'index-abc123.css'), 'body{}');
  writeFileSync(join(build, '.env'), 'SECRET=1');
  writeFileSync(join(dir, 'outside.html'), 'OUTSIDE-CONTENT');
  symlinkSync(join(dir, 'outside.html'), join(build, 'escape.html'));
  app = await server(build);
  unbuilt = await server(join(dir, 'nothing-here'));
});

afterAll(async () => {
  await app?.close();
  await unbuilt?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('GET /console', () => {
  it('serves the index at /console/ (redirecting /console) with the strict CSP and no caching', async () => {
    const redirect = await app.inject('/console');
    expect(redirect.statusCode).toBe(308);
    expect(redirect.headers.location).toBe('/console/');
    const index = await app.inject('/console/');
    expect(index.statusCode).toBe(200);
    expect(index.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(index.headers['cache-control']).toBe('no-cache');
    expect(index.headers['content-security-policy']).toBe(
      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; object-src 'none'",
    );
    expect(index.headers).toMatchObject({ 'x-content-type-options': 'nosniff', 'x-frame-options': 'DENY', 'referrer-policy': 'no-referrer' });
    expect(index.body).toContain('<title>console</title>');
  });

  it('serves hashed assets with their content type, cached for a year', async () => {
    const js = await app.inject('/console/assets/index-abc123.js');
    expect(js.statusCode).toBe(200);
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(js.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect((await app.inject('/console/assets/index-abc123.css')).headers['content-type']).toBe('text/css; charset=utf-8');
  });

  it('never lists a folder, never leaves the build, never serves hidden files', async () => {
    for (const path of ['/console/assets', '/console/assets/', '/console/../outside.html', '/console/%2e%2e/outside.html', '/console/assets%2f..%2f..%2foutside.html', '/console/.env', '/console/escape.html', '/console/a%00.js']) {
      const res = await app.inject(path);
      expect(res.statusCode, path).toBe(404);
      expect(res.json<{ error: { name: string } }>().error.name, path).toBe('NotFoundError');
      expect(res.body, path).not.toMatch(/OUTSIDE-CONTENT|SECRET=1/);
    }
    // Fastify refuses a path that is not valid percent-encoding before any route sees it.
    expect((await app.inject('/console/%zz')).statusCode).toBe(400);
  });

  it('says how to build the console when there is no build', async () => {
    const res = await unbuilt.inject('/console/');
    expect(res.statusCode).toBe(404);
    expect(res.json<{ error: { message: string } }>().error.message).toMatch(/the console is not built .*run `npm run build:console`/);
  });
});
