// Hashing itself, and the guarantee that only code (AppOptions) can swap the hasher. Pure functions and
// the worker entry: backend-independent, D1 project only.
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app";
import * as password from "../../src/auth/password";
import { BASE, database, uniqueEmail } from "../helpers";
import { testHasher } from "../support/test-hasher";

async function storedHash(email: string): Promise<string | null> {
  const db = database();
  try {
    return (await db.users.findByEmail(email))?.passwordHash ?? null;
  } finally {
    await db.close();
  }
}

const registration = (email: string): RequestInit => ({
  method: "POST",
  headers: { "Content-Type": "application/json" },
  body: JSON.stringify({ email, password: "a-long-enough-passphrase-1" }),
});

describe("password hashing", () => {
  it("produces self-describing scrypt hashes and verifies in constant time", async () => {
    const hash = await password.hashPassword("correct horse");
    expect(hash).toMatch(/^\$scrypt\$ln=15,r=8,p=3\$[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}$/);
    expect((await password.verifyPassword("correct horse", hash)).ok).toBe(true);
    expect((await password.verifyPassword("correct horsf", hash)).ok).toBe(false);
    expect((await password.verifyPassword("x", "garbage")).ok).toBe(false);
  });

  it("asks for a rehash when stored parameters are weaker", async () => {
    const weak =
      "$scrypt$ln=14,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    expect((await password.verifyPassword("x", weak)).needsRehash).toBe(false); // wrong password: no rehash
    const { scryptSync } = await import("node:crypto");
    const salt = new Uint8Array(16);
    const key = scryptSync("pw-weak", salt, 32, { N: 2 ** 14, r: 8, p: 1 });
    const stored = `$scrypt$ln=14,r=8,p=1$${Buffer.from(salt).toString("base64")}$${Buffer.from(key).toString("base64")}`;
    expect(await password.verifyPassword("pw-weak", stored)).toEqual({ ok: true, needsRehash: true });
  });
});

describe("the password hasher seam", () => {
  it("the deployed worker entry hashes with scrypt", async () => {
    const email = uniqueEmail();
    const res = await exports.default.fetch(new Request(`${BASE}/auth/register`, registration(email)));
    expect(res.status).toBe(202);
    expect(await storedHash(email)).toMatch(/^\$scrypt\$ln=15,r=8,p=3\$/);
  });

  it("no binding or setting selects another hasher: only AppOptions.passwords does", async () => {
    const tryingEnv = { ...env, PASSWORD_HASHER: "test", PASSWORDS: "test", HASHER: "sha256" };
    const email = uniqueEmail();
    const res = await createApp().request(`${BASE}/auth/register`, registration(email), tryingEnv);
    expect(res.status).toBe(202);
    expect(await storedHash(email)).toMatch(/^\$scrypt\$/);

    const viaCode = uniqueEmail();
    await createApp({ passwords: testHasher }).request(`${BASE}/auth/register`, registration(viaCode), env);
    expect(await storedHash(viaCode)).toMatch(/^\$test\$/);
  });

  it("the test hasher salts, rejects wrong passwords and foreign formats, and never asks for a rehash", async () => {
    const a = await testHasher.hash("correct horse");
    const b = await testHasher.hash("correct horse");
    expect(a).not.toBe(b);
    expect(await testHasher.verify("correct horse", a)).toEqual({ ok: true, needsRehash: false });
    expect((await testHasher.verify("correct horsf", a)).ok).toBe(false);
    expect((await testHasher.verify("correct horse", await password.hashPassword("correct horse"))).ok).toBe(
      false,
    );
    expect((await testHasher.verify("", testHasher.dummyHash)).ok).toBe(false);
    expect((await testHasher.verify("x", "garbage")).ok).toBe(false);
  });
});
