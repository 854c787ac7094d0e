/**
 * The control planes the user connected to, most recent first, so the connect screen offers them again.
 * Only origins are kept (no paths, no credentials); the list is also what api:request may reach.
 */
import { controlPlaneOrigin } from '../common/ipc.ts';
import { readJsonFile, writeJsonFile } from './json-file.ts';

export const MAX_REMEMBERED_SERVERS = 10;

export class ServerList {
  readonly #file: string;
  #origins: string[];

  constructor(file: string) {
    this.#file = file;
    const stored = (readJsonFile(file) as { servers?: unknown } | undefined)?.servers;
    this.#origins = Array.isArray(stored) ? stored.flatMap((s) => (valid(s) ? [s] : [])).slice(0, MAX_REMEMBERED_SERVERS) : [];
  }

  list(): string[] {
    return [...this.#origins];
  }

  has(origin: string): boolean {
    return this.#origins.includes(origin);
  }

  remember(url: string): string[] {
    const origin = controlPlaneOrigin(url);
    this.#origins = [origin, ...this.#origins.filter((o) => o !== origin)].slice(0, MAX_REMEMBERED_SERVERS);
    writeJsonFile(this.#file, { servers: this.#origins });
    return this.list();
  }

  forget(url: string): string[] {
    const origin = controlPlaneOrigin(url);
    this.#origins = this.#origins.filter((o) => o !== origin);
    writeJsonFile(this.#file, { servers: this.#origins });
    return this.list();
  }
}

function valid(value: unknown): value is string {
  try {
    return controlPlaneOrigin(value) === value;
  } catch {
    return false;
  }
}
