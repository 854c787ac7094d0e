/**
 * Refresh tokens, one per control plane, encrypted with the OS keychain through safeStorage and kept in a
 * 0600 file. Without a real keychain (safeStorage unavailable, or Linux's `basic_text` fallback, which only
 * obfuscates) nothing is written: the user logs in at every start instead of leaving a usable token on
 * disk. The access token is never stored: it lives in the page's memory for its ten minutes.
 */
import { controlPlaneOrigin } from '../common/ipc.ts';
import { readJsonFile, writeJsonFile } from './json-file.ts';
import type { SafeStorageLike } from './platform.ts';

interface TokenFile {
  version: 1;
  /** origin -> base64 of safeStorage's ciphertext */
  tokens: Record<string, string>;
}

export class TokenStore {
  readonly #file: string;
  readonly #safe: SafeStorageLike;

  constructor(file: string, safe: SafeStorageLike) {
    this.#file = file;
    this.#safe = safe;
  }

  /** Whether tokens can be kept across restarts on this machine. */
  persistent(): boolean {
    return this.#safe.isEncryptionAvailable() && this.#safe.backend?.() !== 'basic_text';
  }

  load(url: string): string | null {
    if (!this.persistent()) return null;
    const encrypted = this.#read().tokens[controlPlaneOrigin(url)];
    if (encrypted === undefined) return null;
    try {
      return this.#safe.decryptString(Buffer.from(encrypted, 'base64'));
    } catch {
      // Encrypted under another OS user or keychain: useless here; the user logs in again.
      this.clear(url);
      return null;
    }
  }

  /** Keeps the newest refresh token of `url`; does nothing without a keychain (see above). */
  save(url: string, refreshToken: string): void {
    if (!this.persistent()) return;
    const file = this.#read();
    file.tokens[controlPlaneOrigin(url)] = this.#safe.encryptString(refreshToken).toString('base64');
    writeJsonFile(this.#file, file);
  }

  clear(url: string): void {
    const file = this.#read();
    const origin = controlPlaneOrigin(url);
    if (!(origin in file.tokens)) return;
    delete file.tokens[origin];
    writeJsonFile(this.#file, file);
  }

  #read(): TokenFile {
    const stored = readJsonFile(this.#file) as Partial<TokenFile> | undefined;
    const tokens: Record<string, string> = {};
    if (stored?.version === 1 && typeof stored.tokens === 'object' && stored.tokens !== null) {
      for (const [origin, value] of Object.entries(stored.tokens)) if (typeof value === 'string') tokens[origin] = value;
    }
    return { version: 1, tokens };
  }
}
