// Hashes of the earlier one-call format (`$scrypt$ln=15,r=8,p=3$`) keep signing in, and the first
// successful sign-in rewrites them as chained lanes (src/auth/password.ts); over HTTP, both backends.
import { scryptSync } from "node:crypto";
import { describe, expect, it, vi } from "vitest";
import * as password from "../../src/auth/password";
import { database, testClient, uniqueEmail } from "../helpers";

const LEGACY_PASSWORD = "a-legacy-passphrase-42";

function legacyHash(pw: string): string {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const key = scryptSync(pw, salt, 32, { N: 2 ** 15, r: 8, p: 3, maxmem: 64 * 1024 * 1024 });
  return `$scrypt$ln=15,r=8,p=3$${Buffer.from(salt).toString("base64")}$${key.toString("base64")}`;
}

async function userWithHash(hash: string): Promise<{ id: string; email: string }> {
  const db = database();
  try {
    const email = uniqueEmail("rehash");
    const user = await db.users.create({
      id: crypto.randomUUID(),
      email,
      fullName: null,
      passwordHash: hash,
      role: "user",
      isVerified: true,
      now: new Date(),
    });
    if (!user) throw new Error("user not created");
    return { id: user.id, email };
  } finally {
    await db.close();
  }
}

async function storedHash(id: string): Promise<string | null> {
  const db = database();
  try {
    return (await db.users.findById(id))?.passwordHash ?? null;
  } finally {
    await db.close();
  }
}

describe("rehash of one-call scrypt hashes at sign-in", () => {
  it("a p=3 hash signs in and is rewritten as three chained lanes; a wrong password rewrites nothing", async () => {
    const hash = legacyHash(LEGACY_PASSWORD);
    const user = await userWithHash(hash);
    const client = testClient({ passwords: password.scryptHasher });

    const wrong = await client.call("POST", "/auth/login", {
      json: { email: user.email, password: "not-the-one-1" },
    });
    expect(wrong.status).toBe(401);
    expect(await storedHash(user.id)).toBe(hash);

    const res = await client.call("POST", "/auth/login", {
      json: { email: user.email, password: LEGACY_PASSWORD },
    });
    expect(res.status).toBe(200);
    await vi.waitFor(
      async () => expect(await storedHash(user.id)).toMatch(/^\$scrypt\$ln=15,r=8,p=1,k=3\$/),
      {
        timeout: 10_000,
      },
    );
    const rewritten = (await storedHash(user.id))!;
    expect(await password.verifyPassword(LEGACY_PASSWORD, rewritten)).toEqual({
      ok: true,
      needsRehash: false,
    });

    // The new hash signs in, and is not rewritten again.
    const again = await client.call("POST", "/auth/login", {
      json: { email: user.email, password: LEGACY_PASSWORD },
    });
    expect(again.status).toBe(200);
    const me = await client.call("GET", "/auth/me", { token: again.body.access_token });
    expect(me.body).toMatchObject({ email: user.email });
    expect(await storedHash(user.id)).toBe(rewritten);
  }, 30_000);
});
