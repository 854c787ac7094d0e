/**
 * The console once in a real window, as a person sees it: Chromium with a window (`--app=…/console/`, no
 * browser chrome) on a virtual X display (Xvfb, 1280x800), logged in, the fleet shown; the whole screen is
 * captured with xwd (the X server's own dump) into test-artifacts/console-window/window-fleet.png. The
 * headless tests (console.e2e.test.ts) cover the behaviour; this one shows the window renders outside
 * headless mode too.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readXwd, writePng } from './support/xwd-png.ts';
import { artifactsOf, CHROMIUM, CHROMIUM_ARGS, startConsole, USER, type ConsoleUnderTest } from './support/console-under-test.ts';

const ARTIFACTS = artifactsOf('console-window');

let cut: ConsoleUnderTest;
let xvfb: ChildProcess | undefined;
let display: string;
let context: BrowserContext | undefined;
const profile = mkdtempSync(join(tmpdir(), 'sluice-console-window-'));

/** Starts Xvfb on a free display (it writes the number it took to fd 3). */
async function startXvfb(): Promise<string> {
  const child = spawn('Xvfb', ['-displayfd', '3', '-screen', '0', '1280x800x24', '-nolisten', 'tcp'], { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
  xvfb = child;
  const fd3 = child.stdio[3] as NodeJS.ReadableStream;
  return new Promise((resolve, reject) => {
    let text = '';
    fd3.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes('\n')) resolve(`:${text.trim()}`);
    });
    child.once('exit', (code) => reject(new Error(`Xvfb exited with ${String(code)} before it took a display`)));
  });
}

beforeAll(async () => {
  cut = await startConsole(ARTIFACTS);
  display = await startXvfb();
});

afterAll(async () => {
  await context?.close();
  xvfb?.kill('SIGTERM');
  await cut?.close();
  rmSync(profile, { recursive: true, force: true });
});

describe('the console in a real window', () => {
  it('renders the fleet in an app window on an X display', async () => {
    // A person's first start, minus the password manager's offer to save the login (it would cover the page).
    mkdirSync(join(profile, 'Default'), { recursive: true });
    writeFileSync(join(profile, 'Default', 'Preferences'), JSON.stringify({ credentials_enable_service: false, profile: { password_manager_enabled: false } }));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: false,
      viewport: null,
      // --test-type: no infobar about --no-sandbox (needed as root here) over the page.
      args: [...CHROMIUM_ARGS, '--test-type', `--app=${cut.baseUrl}/console/`, '--window-position=0,0', '--window-size=1280,800'],
      env: { ...process.env, DISPLAY: display },
    });
    const page = context.pages()[0] ?? (await context.waitForEvent('page'));
    await page.getByLabel('Username').fill(USER.username);
    await page.getByLabel('Password').fill(USER.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.locator(`tr[data-agent="${cut.agentId}"]`).waitFor({ timeout: 15_000 });
    // The screen as X has it (window and all), not Chromium's own rendering of the page.
    const screen = readXwd(execFileSync('xwd', ['-root', '-silent', '-display', display], { maxBuffer: 64 * 1024 * 1024 }));
    writeFileSync(join(ARTIFACTS, 'window-fleet.png'), writePng(screen));
    expect([screen.width, screen.height]).toEqual([1280, 800]);
    // Not a blank screen: the console's dark header band is near the top of the window.
    const dark = (y: number) => [...screen.rgb.subarray((y * 1280 + 10) * 3, (y * 1280 + 10) * 3 + 3)].every((c) => c < 80);
    expect(Array.from({ length: 120 }, (_, y) => y).some(dark)).toBe(true);
  });
});
