// The first admin's password for `npm run admin -- create-admin` (no imports but node:crypto, so Node runs
// this file by stripping its types). Same scheme and parameters as src/auth/password.ts;
// test/users/admin-create.test.ts checks the app verifies what this produces.
import { randomBytes, scrypt } from "node:crypto";

/** 18 random bytes, base64url: 24 characters, 144 bits. Shown once; the admin changes it after login. */
export function randomPassword(): string {
  return randomBytes(18).toString("base64url");
}

export function hashPasswordForApp(password: string): Promise<string> {
  const salt = randomBytes(16);
  const [ln, r, p] = [15, 8, 3];
  return new Promise((resolve, reject) => {
    scrypt(
      password.normalize("NFC"),
      salt,
      32,
      { N: 2 ** ln, r, p, maxmem: 64 * 1024 * 1024 },
      (err, key) => {
        if (err) reject(err);
        else resolve(`$scrypt$ln=${ln},r=${r},p=${p}$${salt.toString("base64")}$${key.toString("base64")}`);
      },
    );
  });
}
