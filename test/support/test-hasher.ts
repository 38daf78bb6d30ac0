import { timingSafeEqual } from "node:crypto";
import { decodeBase64, encodeBase64 } from "@oslojs/encoding";
import type { PasswordHasher, VerifyResult } from "../../src/auth/password";

/**
 * A cheap stand-in for scrypt, for suites whose subject is not hashing (sessions, 2FA, admin, audit,
 * throttling logic…): salted SHA-256 in its own `$test$` format. It behaves like the real hasher where
 * those suites can observe it (a fresh salt per hash, wrong passwords and foreign formats fail, one
 * verification per login, never a rehash) and costs microseconds instead of ~100 ms of scrypt.
 * It reaches the app only through `createApp({ passwords })`; no configuration can select it.
 */
const FORMAT = /^\$test\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/;

async function digest(password: string, salt: Uint8Array): Promise<Uint8Array> {
  const input = new Uint8Array([...salt, ...new TextEncoder().encode(password.normalize("NFC"))]);
  return new Uint8Array(await crypto.subtle.digest("SHA-256", input));
}

export const testHasher: PasswordHasher = {
  async hash(password: string): Promise<string> {
    const salt = crypto.getRandomValues(new Uint8Array(16));
    return `$test$${encodeBase64(salt)}$${encodeBase64(await digest(password, salt))}`;
  },
  async verify(password: string, stored: string): Promise<VerifyResult> {
    const m = FORMAT.exec(stored);
    if (!m) return { ok: false, needsRehash: false };
    const expected = decodeBase64(m[2]!);
    const actual = await digest(password, decodeBase64(m[1]!));
    return { ok: actual.length === expected.length && timingSafeEqual(actual, expected), needsRehash: false };
  },
  // A random digest: no password verifies against it, like the real DUMMY_HASH.
  dummyHash: `$test$${encodeBase64(crypto.getRandomValues(new Uint8Array(16)))}$${encodeBase64(crypto.getRandomValues(new Uint8Array(32)))}`,
};
