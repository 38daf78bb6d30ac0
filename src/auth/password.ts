import { type ScryptOptions, scrypt, timingSafeEqual } from "node:crypto";
import { decodeBase64, encodeBase64 } from "@oslojs/encoding";
import bcrypt from "bcryptjs";
import { randomBytes } from "../lib/crypto";

/**
 * scrypt from node:crypto (native in workerd under nodejs_compat). N=2^15, r=8, p=3 is OWASP's
 * equivalent of its scrypt recommendation that fits a Worker: 128·N·r = 32 MiB per hash, under the
 * 128 MB isolate. workerd caps N·r·p at 2^20 and defaults maxmem to 32 MiB, so maxmem is explicit.
 * Not PBKDF2 (deployed Workers refuse > 100,000 iterations) and not JS/WASM scrypt (slower; WASM
 * compiled at run time is refused).
 */
export const SCRYPT_PARAMS = { ln: 15, r: 8, p: 3 } as const;
const KEY_LENGTH = 32;
const SALT_LENGTH = 16;
const MAXMEM = 64 * 1024 * 1024;

interface Params {
  ln: number;
  r: number;
  p: number;
}

function derive(password: string, salt: Uint8Array, params: Params, keyLength: number): Promise<Uint8Array> {
  const options: ScryptOptions = { N: 2 ** params.ln, r: params.r, p: params.p, maxmem: MAXMEM };
  return new Promise((resolve, reject) => {
    scrypt(password.normalize("NFC"), salt, keyLength, options, (err, key) => {
      if (err) reject(err);
      else resolve(new Uint8Array(key));
    });
  });
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_LENGTH);
  const key = await derive(password, salt, SCRYPT_PARAMS, KEY_LENGTH);
  const { ln, r, p } = SCRYPT_PARAMS;
  return `$scrypt$ln=${ln},r=${r},p=${p}$${encodeBase64(salt)}$${encodeBase64(key)}`;
}

interface Parsed {
  params: Params;
  salt: Uint8Array;
  key: Uint8Array;
}

const FORMAT = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/;

function parse(stored: string): Parsed | null {
  const m = FORMAT.exec(stored);
  if (!m) return null;
  const params = { ln: Number(m[1]), r: Number(m[2]), p: Number(m[3]) };
  // Refuse parameters workerd would reject (N·r·p ≤ 2^20) or that are absurdly weak.
  if (
    params.ln < 10 ||
    params.ln > 20 ||
    params.r < 1 ||
    params.p < 1 ||
    2 ** params.ln * params.r * params.p > 2 ** 20
  ) {
    return null;
  }
  try {
    return { params, salt: decodeBase64(m[4]!), key: decodeBase64(m[5]!) };
  } catch {
    return null;
  }
}

export interface VerifyResult {
  ok: boolean;
  /** The stored hash uses weaker parameters than today's: rehash after a successful login. */
  needsRehash: boolean;
}

/**
 * How services hash and verify passwords. Production always uses `scryptHasher`; the seam exists so
 * that test suites whose subject is not hashing can pass a cheap hasher through `AppOptions` (code
 * only: nothing in configuration or the environment can select another hasher).
 */
export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(password: string, stored: string): Promise<VerifyResult>;
  /** Verified against when there is no stored hash, so every login costs one verification. */
  readonly dummyHash: string;
}

/**
 * Hashes imported from the FastAPI service (passlib bcrypt). `$2a$`/`$2b$`/`$2y$` differ only in how
 * old implementations handled edge cases; bcryptjs verifies all three. Cost 4..14: higher would hold a
 * Worker's CPU for seconds (pure JS), so such a row is treated as malformed, never verified.
 */
const BCRYPT_FORMAT = /^\$2[aby]\$(0[4-9]|1[0-4])\$[./A-Za-z0-9]{53}$/;

export function isBcryptHash(stored: string): boolean {
  return BCRYPT_FORMAT.test(stored);
}

/**
 * A bcrypt hash at the old service's cost (12) of a random, unknown password: verified during the
 * cut-over by every login that does not verify a bcrypt hash itself (see `verifyLegacyAware`).
 */
export const DUMMY_BCRYPT_HASH = "$2b$12$difrN.gNopbc7vJewDBbbOC9U4HlR2HgQCcCHRi0dS7KiQYXuGCua";

async function verifyBcrypt(password: string, stored: string): Promise<VerifyResult> {
  // bcrypt only reads the first 72 bytes; passlib did the same, so old passwords verify unchanged.
  const ok = await bcrypt.compare(password, stored);
  // Any bcrypt hash is replaced by scrypt on the first successful login.
  return { ok, needsRehash: ok };
}

export async function verifyPassword(password: string, stored: string): Promise<VerifyResult> {
  if (isBcryptHash(stored)) return verifyBcrypt(password, stored);
  const parsed = parse(stored) ?? parse(DUMMY_HASH)!;
  const key = await derive(password, parsed.salt, parsed.params, parsed.key.length);
  const ok = parse(stored) !== null && timingSafeEqual(key, parsed.key);
  const { ln, r, p } = parsed.params;
  return {
    ok,
    needsRehash: ok && (ln < SCRYPT_PARAMS.ln || r < SCRYPT_PARAMS.r || p < SCRYPT_PARAMS.p),
  };
}

/**
 * Verified against when the email is unknown (or the account has no password), so a login costs one
 * hash whether or not the account exists. Its password is random and unknown.
 */
export const DUMMY_HASH =
  "$scrypt$ln=15,r=8,p=3$Cg7Ym5Gq8jI0sRP+3uXq9w==$0Ll8rK7bO0wYx7hJ1bq7d0Z2QzVx4pN8s1tYx5e2c3Q=";

export const scryptHasher: PasswordHasher = {
  hash: (password) => hashPassword(password),
  verify: (password, stored) => verifyPassword(password, stored),
  dummyHash: DUMMY_HASH,
};
