import { type ScryptOptions, scrypt, timingSafeEqual } from "node:crypto";
import { decodeBase64, encodeBase64 } from "@oslojs/encoding";
import bcrypt from "bcryptjs";
import { randomBytes } from "../lib/crypto";

/**
 * Password storage: scrypt from node:crypto (native in workerd under nodejs_compat), as k chained
 * lanes, stored as `$scrypt$ln=14,r=8,p=1,k=5$<salt>$<key>`:
 *
 *   key₁ = scrypt(pw, salt, N=2^ln, r, p)      keyᵢ = scrypt(pw, salt ‖ keyᵢ₋₁, N, r, p)      key = keyₖ
 *
 * Why lanes: workerd runs a native scrypt call on the isolate's only thread, and local D1 answers on
 * that thread too, so one p=3 call (~200 ms) stalled every other request of the isolate for its whole
 * length. Between two lanes the caller's `pause` lets the hash gate serve reads (hash-gate.ts), so a
 * read waits for at most one lane. Five lanes of N=2^14 are OWASP's N=2^14,r=8,p=5 (16 MiB per ROMix),
 * which OWASP lists as equivalent to N=2^15,r=8,p=3 (32 MiB): each lane is a full ROMix, as each of
 * p=5's is, so the work per guess is p=5's and a lane (~30 ms idle) is half of a 32 MiB one. Security
 * is not weaker than p=5: lane i's salt contains lane i-1's output, so the lanes are strictly
 * sequential (p=5's ROMix are independent and may run in parallel on an attacker's hardware), and only
 * keyₖ is stored, so a guess cannot be rejected before all k lanes ran (no early abort). Not PBKDF2
 * (deployed Workers refuse > 100,000 iterations) and not JS/WASM scrypt (slower; WASM compiled at run
 * time is refused; @noble/hashes' scryptAsync yields by Date.now(), which workerd freezes during
 * synchronous work).
 *
 * Earlier formats still verify and are rewritten on the next successful login: a hash without `k` is
 * one scrypt call (k=1, the `$scrypt$ln=15,r=8,p=3$` format), and `$scrypt$ln=15,r=8,p=1,k=3$` is
 * three 32 MiB lanes (the same work as p=3, each lane twice as long as today's).
 */
export const SCRYPT_PARAMS = { ln: 14, r: 8, p: 1, k: 5 } as const;
const KEY_LENGTH = 32;
const SALT_LENGTH = 16;
const MAXMEM = 64 * 1024 * 1024;

// What a stored hash may ask for. workerd refuses N·r·p > 2^20 per call; 128·N·r bytes (the ROMix
// table) above the earlier format's 32 MiB has no place in a 128 MB isolate; total work per guess
// (N·r·p·k) above 2^22 (4x p=3's, 6.4x today's) would hold a sign-in for a second; weaker than N=2^10 is
// not a password hash.
const LIMITS = { minLn: 10, maxLn: 20, maxNr: 2 ** 18, maxNrp: 2 ** 20, maxK: 8, maxWork: 2 ** 22 };

interface Params {
  ln: number;
  r: number;
  p: number;
  /** Chained lanes; 1 = a single scrypt call (the earlier format). */
  k: number;
}

/** Called between two native scrypt calls of one hash: the hash gate lets reads run there. */
export type Pause = () => Promise<void>;

const noPause: Pause = () => Promise.resolve();

function lane(password: string, salt: Uint8Array, params: Params, keyLength: number): Promise<Uint8Array> {
  const options: ScryptOptions = { N: 2 ** params.ln, r: params.r, p: params.p, maxmem: MAXMEM };
  return new Promise((resolve, reject) => {
    scrypt(password, salt, keyLength, options, (err, key) => {
      if (err) reject(err);
      else resolve(new Uint8Array(key));
    });
  });
}

async function derive(
  password: string,
  salt: Uint8Array,
  params: Params,
  keyLength: number,
  pause: Pause,
): Promise<Uint8Array> {
  const normalized = password.normalize("NFC");
  let key = await lane(normalized, salt, params, params.k === 1 ? keyLength : KEY_LENGTH);
  for (let i = 2; i <= params.k; i++) {
    await pause();
    const chained = new Uint8Array(salt.length + key.length);
    chained.set(salt);
    chained.set(key, salt.length);
    key = await lane(normalized, chained, params, i === params.k ? keyLength : KEY_LENGTH);
  }
  return key;
}

function format({ ln, r, p, k }: Params, salt: Uint8Array, key: Uint8Array): string {
  const lanes = k === 1 ? "" : `,k=${k}`;
  return `$scrypt$ln=${ln},r=${r},p=${p}${lanes}$${encodeBase64(salt)}$${encodeBase64(key)}`;
}

export async function hashPassword(password: string, pause: Pause = noPause): Promise<string> {
  const salt = randomBytes(SALT_LENGTH);
  return format(SCRYPT_PARAMS, salt, await derive(password, salt, SCRYPT_PARAMS, KEY_LENGTH, pause));
}

interface Parsed {
  params: Params;
  salt: Uint8Array;
  key: Uint8Array;
}

// Canonical base64 only (decodeBase64 refuses bad padding); k is written only when above 1.
const FORMAT =
  /^\$scrypt\$ln=([1-9]\d?),r=([1-9]\d?),p=([1-9]\d?)(?:,k=([2-9]))?\$([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2})$/;

function parse(stored: string): Parsed | null {
  const m = FORMAT.exec(stored);
  if (!m) return null;
  const params = { ln: Number(m[1]), r: Number(m[2]), p: Number(m[3]), k: m[4] ? Number(m[4]) : 1 };
  const N = 2 ** params.ln;
  if (
    params.ln < LIMITS.minLn ||
    params.ln > LIMITS.maxLn ||
    N * params.r > LIMITS.maxNr ||
    N * params.r * params.p > LIMITS.maxNrp ||
    params.k > LIMITS.maxK ||
    N * params.r * params.p * params.k > LIMITS.maxWork
  ) {
    return null;
  }
  try {
    const salt = decodeBase64(m[5]!);
    const key = decodeBase64(m[6]!);
    if (salt.length < 8 || salt.length > 64 || key.length < 16 || key.length > 64) return null;
    return { params, salt, key };
  } catch {
    return null;
  }
}

/**
 * Rewrite after a login: less memory per call or less total work than today's, or one native call
 * longer than today's lane (the earlier ln=15 formats), which holds the isolate's thread longer.
 */
function outdated({ ln, r, p, k }: Params): boolean {
  const today = SCRYPT_PARAMS;
  const perCall = 2 ** ln * r * p;
  const todayPerCall = 2 ** today.ln * today.r * today.p;
  return ln < today.ln || r < today.r || perCall * k < todayPerCall * today.k || perCall > todayPerCall;
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
  /** `pause` is awaited between the hash's native steps (the gate's chance to serve reads). */
  hash(password: string, pause?: Pause): Promise<string>;
  verify(password: string, stored: string, pause?: Pause): Promise<VerifyResult>;
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

export async function verifyPassword(
  password: string,
  stored: string,
  pause: Pause = noPause,
): Promise<VerifyResult> {
  if (isBcryptHash(stored)) return verifyBcrypt(password, stored);
  const parsed = parse(stored);
  // A malformed row costs the same as a real one and never verifies.
  const target = parsed ?? parse(DUMMY_HASH)!;
  const key = await derive(password, target.salt, target.params, target.key.length, pause);
  const ok = parsed !== null && timingSafeEqual(key, target.key);
  return { ok, needsRehash: ok && outdated(target.params) };
}

/**
 * Verified against when the email is unknown (or the account has no password), so a login costs one
 * hash whether or not the account exists. Its password is random and unknown.
 */
export const DUMMY_HASH =
  "$scrypt$ln=14,r=8,p=1,k=5$dL8ucIfBNOlTtCljz8nVVg==$euw8CWDQN+it+sAL/mN20EHHndBTXs5FvD8OZXG3Cek=";

export const scryptHasher: PasswordHasher = {
  hash: (password, pause) => hashPassword(password, pause),
  verify: (password, stored, pause) => verifyPassword(password, stored, pause),
  dummyHash: DUMMY_HASH,
};
