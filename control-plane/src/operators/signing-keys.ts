/**
 * The Ed25519 keys that sign access tokens, kept in PostgreSQL so every control-plane process signs and
 * verifies with the same set (the API is stateless). Key lifecycle:
 *
 *   created ──(rotateAfter passes, or rotate())──> retired: signs nothing more, verifies and stays in the
 *                                                  JWKS until tokenTtl after retirement ──> dropped from both
 *
 * The private key at rest is encrypted (AES-256-GCM) under a key derived from SLUICE_JWT_SECRET when that is
 * set; without it, it is stored as PKCS#8 PEM and anyone who can read the state schema can mint tokens.
 */
import { createCipheriv, createDecipheriv, createPrivateKey, createPublicKey, generateKeyPairSync, hkdfSync, randomBytes, type KeyObject } from 'node:crypto';
import type pg from 'pg';
import { calculateJwkThumbprint, exportJWK, type JWK } from 'jose';
import { isDependencyDown } from '@sluice/shared/errors';
import { withTransaction } from '../db/transaction.ts';

export interface SigningKeysOptions {
  /** SLUICE_JWT_SECRET: encrypts private keys at rest when set. */
  secret?: string | undefined;
  /** A key signs for this long, then a new one takes over. */
  rotateAfterMs: number;
  /** Access-token lifetime: how long a retired key must still verify. */
  tokenTtlMs: number;
  /** How often keys created by another process are picked up (default 30 s). */
  reloadMs?: number;
  now?: () => number;
}

interface StoredKey {
  kid: string;
  jwk: JWK;
  publicKey: KeyObject;
  privateText: string;
  createdAt: number;
  retiredAt: number | undefined;
}

interface KeyRow {
  kid: string;
  public_jwk: JWK;
  private_key: string;
  created_at: Date;
  retired_at: Date | null;
}

const ENCRYPTED = 'enc:v1:';
/** An unknown kid triggers a reload at most this often, so forged kids cannot hammer PostgreSQL. */
const MISS_RELOAD_MS = 1_000;

function keyFromSecret(secret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, 'sluice-jwt-signing-keys', 'v1', 32));
}

export class SigningKeys {
  readonly #pool: pg.Pool;
  readonly #secretKey: Buffer | undefined;
  readonly #rotateAfterMs: number;
  readonly #tokenTtlMs: number;
  readonly #reloadMs: number;
  readonly #now: () => number;
  #keys = new Map<string, StoredKey>();
  #loadedAt = -Infinity;
  #missReloadAt = -Infinity;

  constructor(pool: pg.Pool, options: SigningKeysOptions) {
    this.#pool = pool;
    this.#secretKey = options.secret ? keyFromSecret(options.secret) : undefined;
    this.#rotateAfterMs = options.rotateAfterMs;
    this.#tokenTtlMs = options.tokenTtlMs;
    this.#reloadMs = options.reloadMs ?? 30_000;
    this.#now = options.now ?? Date.now;
  }

  /** The key to sign with now: created on first use, rotated when it has signed for rotateAfter. */
  async current(): Promise<{ kid: string; privateKey: KeyObject }> {
    await this.#loadIfStale();
    let key = this.#signing();
    if (!key || this.#now() - key.createdAt >= this.#rotateAfterMs) {
      await this.#replaceSigningKey(key?.kid);
      key = this.#signing();
    }
    if (!key) throw new Error('no JWT signing key after creating one');
    return { kid: key.kid, privateKey: this.#decrypt(key) };
  }

  /** Retires the signing key now and starts a new one (an operator suspecting a leak, or a test). */
  async rotate(): Promise<string> {
    await this.#load();
    await this.#replaceSigningKey(this.#signing()?.kid, true);
    return this.#signing()!.kid;
  }

  /** The public key for `kid` if it may still verify tokens; another process's new key is found by a reload. */
  async publicKey(kid: string): Promise<KeyObject | undefined> {
    await this.#loadIfStale();
    if (!this.#keys.has(kid) && this.#now() - this.#missReloadAt >= MISS_RELOAD_MS) {
      this.#missReloadAt = this.#now();
      await this.#load();
    }
    const key = this.#keys.get(kid);
    return key && this.#verifies(key) ? key.publicKey : undefined;
  }

  /** RFC 7517 key set of every key that may still verify. */
  async jwks(): Promise<{ keys: JWK[] }> {
    await this.#loadIfStale();
    return { keys: [...this.#keys.values()].filter((k) => this.#verifies(k)).map((k) => ({ ...k.jwk, kid: k.kid, alg: 'EdDSA', use: 'sig' })) };
  }

  #verifies(key: StoredKey): boolean {
    return key.retiredAt === undefined || this.#now() < key.retiredAt + this.#tokenTtlMs;
  }

  #signing(): StoredKey | undefined {
    let newest: StoredKey | undefined;
    for (const key of this.#keys.values()) if (key.retiredAt === undefined && (!newest || key.createdAt > newest.createdAt)) newest = key;
    return newest;
  }

  async #loadIfStale(): Promise<void> {
    if (this.#now() - this.#loadedAt < this.#reloadMs) return;
    try {
      await this.#load();
    } catch (error) {
      // PostgreSQL down: the keys in hand still verify (as recently verified API keys still do), and the
      // next request tries again. Only a process that never loaded them has nothing to go on.
      if (this.#keys.size === 0 || !isDependencyDown(error)) throw error;
    }
  }

  async #load(client: pg.Pool | pg.ClientBase = this.#pool): Promise<void> {
    const rows = await client.query<KeyRow>('SELECT kid, public_jwk, private_key, created_at, retired_at FROM jwt_signing_keys');
    const keys = new Map<string, StoredKey>();
    for (const row of rows.rows) {
      keys.set(row.kid, {
        kid: row.kid,
        jwk: row.public_jwk,
        publicKey: createPublicKey({ key: row.public_jwk, format: 'jwk' }),
        privateText: row.private_key,
        createdAt: row.created_at.getTime(),
        retiredAt: row.retired_at?.getTime(),
      });
    }
    this.#keys = keys;
    this.#loadedAt = this.#now();
  }

  /**
   * Under an advisory lock, so two processes finding the key due at once make one new key, not two: the
   * second sees the first's key and keeps it (unless `force`, an explicit rotation).
   */
  async #replaceSigningKey(expectedKid: string | undefined, force = false): Promise<void> {
    await withTransaction(this.#pool, async (client) => {
      await client.query("SELECT pg_advisory_xact_lock(hashtext('sluice.jwt_signing_keys'))");
      await this.#load(client);
      const signing = this.#signing();
      const due = !signing || this.#now() - signing.createdAt >= this.#rotateAfterMs;
      if (signing && signing.kid !== expectedKid && !force) return;
      if (!due && !force) return;
      const { publicKey, privateKey } = generateKeyPairSync('ed25519');
      const jwk = await exportJWK(publicKey);
      const kid = await calculateJwkThumbprint(jwk);
      const now = new Date(this.#now());
      await client.query('UPDATE jwt_signing_keys SET retired_at = $1 WHERE retired_at IS NULL', [now]);
      await client.query('INSERT INTO jwt_signing_keys (kid, public_jwk, private_key, created_at) VALUES ($1, $2, $3, $4)', [
        kid,
        JSON.stringify(jwk),
        this.#encrypt(privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()),
        now,
      ]);
      await this.#load(client);
    });
  }

  #encrypt(pem: string): string {
    if (!this.#secretKey) return pem;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#secretKey, iv);
    const body = Buffer.concat([cipher.update(pem, 'utf8'), cipher.final()]);
    return `${ENCRYPTED}${iv.toString('base64')}:${cipher.getAuthTag().toString('base64')}:${body.toString('base64')}`;
  }

  #decrypt(key: StoredKey): KeyObject {
    if (!key.privateText.startsWith(ENCRYPTED)) return createPrivateKey(key.privateText);
    if (!this.#secretKey) throw new Error(`JWT signing key ${key.kid} is stored encrypted: set SLUICE_JWT_SECRET to the secret it was made with`);
    const [iv, tag, body] = key.privateText.slice(ENCRYPTED.length).split(':');
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#secretKey, Buffer.from(iv ?? '', 'base64'));
      decipher.setAuthTag(Buffer.from(tag ?? '', 'base64'));
      const pem = Buffer.concat([decipher.update(Buffer.from(body ?? '', 'base64')), decipher.final()]).toString('utf8');
      return createPrivateKey(pem);
    } catch (error) {
      throw new Error(`JWT signing key ${key.kid} does not decrypt: SLUICE_JWT_SECRET differs from the secret it was made with`, { cause: error });
    }
  }
}
