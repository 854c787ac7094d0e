/**
 * Passwords: argon2id from node:crypto (Node 24, no native dependency), stored as a PHC string so the
 * parameters travel with each hash and can be raised later without invalidating stored ones.
 *
 * Parameters: OWASP's first argon2id recommendation (19 MiB, 2 passes, 1 lane), which costs ~30 ms here:
 * slow enough to make offline guessing expensive, cheap enough that login stays responsive.
 */
import { argon2, randomBytes, timingSafeEqual } from 'node:crypto';
import { InputError } from '@sluice/shared/errors';

export const MIN_PASSWORD_LENGTH = 12;
const MAX_PASSWORD_LENGTH = 1024;

export interface Argon2Params {
  /** KiB */
  memory: number;
  passes: number;
  parallelism: number;
}

export const OWASP_ARGON2ID: Argon2Params = { memory: 19_456, passes: 2, parallelism: 1 };
const SALT_BYTES = 16;
const TAG_BYTES = 32;
const PHC = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

/** Throws InputError with the reason when `password` does not meet the policy. */
export function checkPasswordPolicy(password: string): void {
  if ([...password].length < MIN_PASSWORD_LENGTH) throw InputError(`/password: must be at least ${MIN_PASSWORD_LENGTH} characters`);
  if (password.length > MAX_PASSWORD_LENGTH) throw InputError(`/password: must be at most ${MAX_PASSWORD_LENGTH} characters`);
}

function derive(password: string, salt: Buffer, params: Argon2Params): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    argon2(
      'argon2id',
      { message: Buffer.from(password, 'utf8'), nonce: salt, memory: params.memory, passes: params.passes, parallelism: params.parallelism, tagLength: TAG_BYTES },
      (error, derived) => (error ? reject(error) : resolve(derived)),
    );
  });
}

const b64 = (bytes: Buffer): string => bytes.toString('base64').replace(/=+$/, '');

export async function hashPassword(password: string, params: Argon2Params = OWASP_ARGON2ID): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const tag = await derive(password, salt, params);
  return `$argon2id$v=19$m=${params.memory},t=${params.passes},p=${params.parallelism}$${b64(salt)}$${b64(tag)}`;
}

/** Constant-time comparison of the derived tag; a malformed stored hash verifies nothing. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const match = PHC.exec(stored);
  if (!match) return false;
  const params = { memory: Number(match[1]), passes: Number(match[2]), parallelism: Number(match[3]) };
  const expected = Buffer.from(match[5]!, 'base64');
  const tag = await derive(password, Buffer.from(match[4]!, 'base64'), params);
  return tag.length === expected.length && timingSafeEqual(tag, expected);
}

/**
 * A hash of a password nobody knows: an unknown username is checked against it, so a login for a user that
 * does not exist takes as long as one for a user that does.
 */
let decoy: Promise<string> | undefined;
export function decoyHash(): Promise<string> {
  decoy ??= hashPassword(randomBytes(32).toString('base64'));
  return decoy;
}
