/**
 * Which file is this? The file source's identity table (README.md beside this file, "Identity").
 *
 * A file's identity (`uid`, the fingerprint part of its record ids) is decided once, when its content is
 * first seen, and then follows that content whatever its name or inode:
 *
 *   known location, same head ──▶ the same file: resume at its offset
 *   head matches a known identity's fingerprint (first fingerprintBytes) ──▶ a copy or a move: continue
 *       that identity (same uid, same offset, so a line read from both carries one record id)
 *   otherwise ──▶ a new identity (a location that held other content gets the next generation)
 *
 * A location whose content was replaced (truncated, or rewritten while the agent was down) retires its old
 * identity instead of forgetting it: a retired identity is kept (bounded, persisted) until a copy claims
 * it, so copytruncate is recognised in whatever order, and across whatever restarts, the agent sees the
 * copy and the truncated original.
 *
 * Records are stored under the file's `dev:ino` (a position belongs to one file: a live copy and its
 * original share an identity but each has its own position) and retired ones under `retired:<uid>`.
 */
import { createHash } from 'node:crypto';
import type { Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import type { Checkpoint } from '../source.ts';

/** What a checkpoint stores per file (JSON). */
export interface FileCheckpoint {
  /** Stable id of this file's content generation: the fingerprint part of every record id. */
  uid: string;
  dev: number;
  ino: number;
  gen: number;
  /** sha256 of the first `headLen` bytes (headLen grows to fingerprintBytes as the file grows). */
  headLen: number;
  headHash: string;
  offset: number;
  skipping: boolean;
  path: string;
  /**
   * A copy whose content was already read up to `offset` but which is shorter than that: still being
   * copied (or a snapshot of an older state). Being shorter than the offset is then not a truncation.
   */
  catchUp?: boolean;
}

interface RetiredIdentity extends FileCheckpoint {
  retiredAt: string;
}

const RETIRED = 'retired:';
/** Retired identities kept per source: enough for every file of a rotation scheme to be copied once. */
const MAX_RETIRED = 64;

export const locationOf = (st: { dev: number; ino: number }): string => `${st.dev}:${st.ino}`;

export class FileIdentities {
  readonly #sourceId: string;
  readonly #fingerprintBytes: number;
  readonly #byLocation = new Map<string, FileCheckpoint>();
  /** By uid, oldest first (Map insertion order), so the bound drops the oldest. */
  readonly #retired = new Map<string, RetiredIdentity>();

  constructor(sourceId: string, fingerprintBytes: number, saved: ReadonlyMap<string, string>) {
    this.#sourceId = sourceId;
    this.#fingerprintBytes = fingerprintBytes;
    const retired: RetiredIdentity[] = [];
    for (const [key, value] of saved) {
      if (key.startsWith(RETIRED)) retired.push(JSON.parse(value) as RetiredIdentity);
      else this.#byLocation.set(key, JSON.parse(value) as FileCheckpoint);
    }
    for (const r of retired.sort((a, b) => a.retiredAt.localeCompare(b.retiredAt))) this.#retired.set(r.uid, r);
  }

  /** No position and no identity stored at all: the source's very first start. */
  get empty(): boolean {
    return this.#byLocation.size === 0 && this.#retired.size === 0;
  }

  hasPosition(location: string): boolean {
    return this.#byLocation.has(location);
  }

  /**
   * The identity of the file open as `fh` (stat `st`, found at `file`), and the checkpoints that record
   * the decision; commit them before reading, so a crash right after cannot decide differently.
   * `startOffset` places a brand-new identity (startAt: end); a known one keeps its own offset.
   */
  async identify(fh: FileHandle, st: Stats, file: string, startOffset: () => Promise<number>): Promise<{ cp: FileCheckpoint; checkpoints: Checkpoint[] }> {
    const location = locationOf(st);
    const saved = this.#byLocation.get(location);
    if (saved && (await headHash(fh, saved.headLen)) === saved.headHash) {
      const cp = { ...saved, path: file };
      this.#byLocation.set(location, cp);
      return { cp, checkpoints: [] };
    }
    const checkpoints: Checkpoint[] = [];
    // The location holds other content now (truncated or rewritten while the agent was down, or a reused
    // inode): its old identity may still turn up as a copy.
    if (saved) checkpoints.push(...this.retire(saved));
    const n = this.#fingerprintBytes;
    let cp: FileCheckpoint | undefined;
    if (st.size >= n) {
      const fp = await headHash(fh, n);
      const known = this.#findByFingerprint(fp, location);
      if (known) {
        // A copy (copytruncate), a move across devices, or the same file after its device number changed.
        const catchUp = st.size < known.offset;
        cp = { uid: known.uid, dev: st.dev, ino: st.ino, gen: known.gen, headLen: n, headHash: fp, offset: known.offset, skipping: known.skipping, path: file, ...(catchUp ? { catchUp } : {}) };
        if (this.#retired.delete(known.uid)) checkpoints.push({ sourceId: this.#sourceId, key: RETIRED + known.uid, value: null });
      }
    }
    if (!cp) {
      const gen = saved ? saved.gen + 1 : 0;
      const headLen = Math.min(n, st.size);
      const hash = await headHash(fh, headLen);
      cp = { uid: fileUid(st.dev, st.ino, gen, hash), dev: st.dev, ino: st.ino, gen, headLen, headHash: hash, offset: await startOffset(), skipping: false, path: file };
    }
    this.#byLocation.set(location, cp);
    checkpoints.push(this.record(cp));
    return { cp, checkpoints };
  }

  /**
   * `cp`'s location got new content (truncated while tailed): keeps its identity as retired, at `cp`'s
   * committed offset, for a copy to claim. Returns the checkpoints to commit with the new generation.
   */
  retire(cp: FileCheckpoint): Checkpoint[] {
    const retired: RetiredIdentity = { ...cp, retiredAt: new Date().toISOString() };
    delete retired.catchUp;
    this.#retired.delete(cp.uid);
    this.#retired.set(cp.uid, retired);
    const checkpoints: Checkpoint[] = [{ sourceId: this.#sourceId, key: RETIRED + cp.uid, value: JSON.stringify(retired) }];
    for (const uid of [...this.#retired.keys()].slice(0, Math.max(0, this.#retired.size - MAX_RETIRED))) {
      this.#retired.delete(uid);
      checkpoints.push({ sourceId: this.#sourceId, key: RETIRED + uid, value: null });
    }
    return checkpoints;
  }

  /** Starts a new generation at `cp`'s location (its content was replaced), mutating `cp` in place. */
  async nextGeneration(cp: FileCheckpoint, fh: FileHandle, size: number): Promise<void> {
    cp.gen += 1;
    cp.headLen = Math.min(this.#fingerprintBytes, size);
    cp.headHash = await headHash(fh, cp.headLen);
    cp.uid = fileUid(cp.dev, cp.ino, cp.gen, cp.headHash);
    cp.offset = 0;
    cp.skipping = false;
    delete cp.catchUp;
  }

  record(cp: FileCheckpoint): Checkpoint {
    return { sourceId: this.#sourceId, key: locationOf(cp), value: JSON.stringify(cp) };
  }

  /** Forgets the positions of locations not in `keep` (files gone since the last run); retired ones stay. */
  prune(keep: ReadonlySet<string>): Checkpoint[] {
    const gone = [...this.#byLocation.keys()].filter((k) => !keep.has(k));
    for (const k of gone) this.#byLocation.delete(k);
    return gone.map((key) => ({ sourceId: this.#sourceId, key, value: null }));
  }

  /** A deleted file: its position is of no further use. */
  forget(location: string): Checkpoint {
    this.#byLocation.delete(location);
    return { sourceId: this.#sourceId, key: location, value: null };
  }

  #findByFingerprint(fp: string, except: string): FileCheckpoint | undefined {
    const n = this.#fingerprintBytes;
    for (const [location, c] of this.#byLocation) if (location !== except && c.headLen === n && c.headHash === fp) return c;
    const retired = [...this.#retired.values()].reverse(); // most recently retired first
    return retired.find((c) => c.headLen === n && c.headHash === fp);
  }
}

export async function headHash(fh: FileHandle, length: number): Promise<string> {
  const buffer = Buffer.alloc(length);
  let read = 0;
  while (read < length) {
    const { bytesRead } = await fh.read(buffer, read, length - read, read);
    if (bytesRead === 0) break;
    read += bytesRead;
  }
  return createHash('sha256').update(buffer.subarray(0, read)).digest('hex');
}

/** Derived from where the content first lived and its first bytes: the same file always yields the same ids. */
function fileUid(dev: number, ino: number, gen: number, head: string): string {
  return createHash('sha256').update(`${dev}:${ino}:${gen}:${head}`).digest('hex').slice(0, 32);
}
