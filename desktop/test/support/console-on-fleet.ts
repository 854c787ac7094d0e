/**
 * The console in a real browser against a whole fleet of real processes (scripts/test/support/fleet-harness.ts:
 * control-plane `serve` + `consume`, fleet-managed agents): the renderer is built fresh into a folder of this
 * test's own and served by the `serve` process at /console (SLUICE_CONSOLE_DIR), so another test building the
 * console at the same time cannot swap the files under it. A user made through the REST API logs in from
 * Debian's Chromium at 1280x800 (console-under-test.ts's openBrowser). Screenshots go to test-artifacts/<name>/ (emptied first); a failing test
 * leaves its page there as FAILED-<step>.png.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { onTestFailed } from 'vitest';
import { FleetHarness, type FleetHarnessOptions } from '../../../scripts/test/support/fleet-harness.ts';
import { artifactsOf, buildConsole, openBrowser, USER } from './console-under-test.ts';

export { USER };

export interface ConsoleOnFleet {
  fleet: FleetHarness;
  page: Page;
  /** The console's address: `${fleet.url}/console/`. */
  consoleUrl: string;
  /** Answers >= 400, page errors and console errors (a CSP violation lands there) seen so far. */
  problems: string[];
  /** A 1280x800 screenshot `<name>.png`, and with `full` the whole page too (`<name>-full.png`). */
  shot(name: string, full?: boolean): Promise<void>;
  /** Keeps the page as it was should the running test fail. */
  keepOnFailure(name: string): void;
  close(): Promise<void>;
}

export async function startConsoleOnFleet(name: string, options: Omit<FleetHarnessOptions, 'name'> & { fleetName: string }): Promise<ConsoleOnFleet> {
  const artifacts = artifactsOf(name);
  rmSync(artifacts, { recursive: true, force: true });
  mkdirSync(artifacts, { recursive: true });
  const build = mkdtempSync(join(tmpdir(), `sluice-${name}-console-`));
  buildConsole(build);
  const { fleetName, ...fleetOptions } = options;
  let fleet: FleetHarness | undefined;
  let opened: Awaited<ReturnType<typeof openBrowser>>;
  try {
    fleet = await FleetHarness.start({ ...fleetOptions, name: fleetName, env: { SLUICE_CONSOLE_DIR: build, ...fleetOptions.env } });
    await fleet.api.expect('POST', '/api/v1/users', USER, [201]);
    opened = await openBrowser();
  } catch (error) {
    await fleet?.close();
    rmSync(build, { recursive: true, force: true });
    throw error;
  }
  const { browser, page, problems } = opened;
  const started = fleet;

  return {
    fleet: started,
    page,
    consoleUrl: `${started.url}/console/`,
    problems,
    shot: async (shotName, full = false) => {
      await page.screenshot({ path: join(artifacts, `${shotName}.png`) });
      if (full) await page.screenshot({ path: join(artifacts, `${shotName}-full.png`), fullPage: true });
    },
    keepOnFailure: (step) => {
      onTestFailed(async () => {
        await page.screenshot({ path: join(artifacts, `FAILED-${step}.png`), fullPage: true }).catch(() => undefined);
      });
    },
    close: async () => {
      await browser.close();
      await started.close();
      rmSync(build, { recursive: true, force: true });
    },
  };
}
