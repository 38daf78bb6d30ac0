import { sha256Hex } from "../lib/crypto";

export const RECOVERY_CODE_COUNT = 10;

// No 0/o, 1/i/l: codes get copied by hand from paper. 31 symbols × 12 = 59 bits per code.
const ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz";
const GROUPS = 3;
const GROUP_LENGTH = 4;
const LENGTH = GROUPS * GROUP_LENGTH;
const NORMALISED = new RegExp(`^[${ALPHABET}]{${LENGTH}}$`);

/** Uniform over the alphabet: bytes past the largest multiple of its size are redrawn (no modulo bias). */
function randomSymbols(n: number): string {
  const limit = 256 - (256 % ALPHABET.length);
  let out = "";
  while (out.length < n) {
    for (const byte of crypto.getRandomValues(new Uint8Array(n * 2))) {
      if (byte < limit && out.length < n) out += ALPHABET[byte % ALPHABET.length];
    }
  }
  return out;
}

/** One code, shown as `xxxx-xxxx-xxxx`. */
export function newRecoveryCode(): string {
  const raw = randomSymbols(LENGTH);
  const groups: string[] = [];
  for (let i = 0; i < GROUPS; i++) groups.push(raw.slice(i * GROUP_LENGTH, (i + 1) * GROUP_LENGTH));
  return groups.join("-");
}

export function newRecoveryCodes(): string[] {
  return Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
}

/** Case-insensitive, dashes and spaces ignored; null when it cannot be a recovery code. */
export function normaliseRecoveryCode(input: string): string | null {
  const normalised = input.toLowerCase().replace(/[\s-]+/g, "");
  return NORMALISED.test(normalised) ? normalised : null;
}

/** Stored only as SHA-256 of the normalised code (59 random bits need no salt or slow hash). */
export async function hashRecoveryCode(code: string): Promise<string> {
  const normalised = normaliseRecoveryCode(code);
  if (normalised === null) throw new Error("not a recovery code");
  return sha256Hex(normalised);
}

export function hashRecoveryCodes(codes: string[]): Promise<string[]> {
  return Promise.all(codes.map(hashRecoveryCode));
}
