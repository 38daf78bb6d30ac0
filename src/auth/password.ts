import { scrypt } from "node:crypto";

// Minimal stand-in so the bench can create users before the account work lands; the real module
// (with verification and rehash-on-login) replaces this file on merge. Same parameters and format.
const LOG_N = 15;
const R = 8;
const P = 3;
const KEY_BYTES = 32;
const SALT_BYTES = 16;
// 128 * N * r = 32 MiB of working memory; the default maxmem (32 MiB) would refuse it.
const MAXMEM = 64 * 1024 * 1024;

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64").replace(/=+$/, "");

/** scrypt (N=2^15, r=8, p=3) as `$scrypt$ln=15,r=8,p=3$<salt b64>$<hash b64>`. */
export function hashPassword(password: string): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  return new Promise((resolve, reject) => {
    scrypt(
      password.normalize("NFC"),
      salt,
      KEY_BYTES,
      { N: 2 ** LOG_N, r: R, p: P, maxmem: MAXMEM },
      (err, key) => {
        if (err) reject(err);
        else resolve(`$scrypt$ln=${LOG_N},r=${R},p=${P}$${b64(salt)}$${b64(key)}`);
      },
    );
  });
}
