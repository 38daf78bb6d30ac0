// The first admin's password for `npm run admin -- create-admin` (no imports but node:crypto, so Node runs
// this file by stripping its types). Same scheme and parameters as src/auth/password.ts;
// test/users/admin-create.test.ts checks the app verifies what this produces.
import { randomBytes, scrypt } from "node:crypto";

/** 18 random bytes, base64url: 24 characters, 144 bits. Shown once; the admin changes it after login. */
export function randomPassword(): string {
  return randomBytes(18).toString("base64url");
}

function scryptLane(password: string, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, 32, { N: 2 ** 14, r: 8, p: 1, maxmem: 64 * 1024 * 1024 }, (err, key) => {
      if (err) reject(err);
      else resolve(key);
    });
  });
}

/** Five chained lanes: lane i is salted with salt ‖ key of lane i-1 (src/auth/password.ts). */
export async function hashPasswordForApp(password: string): Promise<string> {
  const salt = randomBytes(16);
  const normalized = password.normalize("NFC");
  let key = await scryptLane(normalized, salt);
  for (let i = 2; i <= 5; i++) key = await scryptLane(normalized, Buffer.concat([salt, key]));
  return `$scrypt$ln=14,r=8,p=1,k=5$${salt.toString("base64")}$${key.toString("base64")}`;
}
