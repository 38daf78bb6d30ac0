// Hashes of the earlier one-call format (`$scrypt$ln=15,r=8,p=3$`) keep signing in, and the first
// successful sign-in rewrites them as chained lanes (src/auth/password.ts); over HTTP, both backends.
import { scryptSync } from "node:crypto";
import { describe, expect, it, vi } from "vitest";
import * as password from "../../src/auth/password";
import { storedPasswordHash, testClient, userWithPasswordHash } from "../helpers";

const LEGACY_PASSWORD = "a-legacy-passphrase-42";

function legacyHash(pw: string): string {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const key = scryptSync(pw, salt, 32, { N: 2 ** 15, r: 8, p: 3, maxmem: 64 * 1024 * 1024 });
  return `$scrypt$ln=15,r=8,p=3$${Buffer.from(salt).toString("base64")}$${key.toString("base64")}`;
}

describe("rehash of one-call scrypt hashes at sign-in", () => {
  it("a p=3 hash signs in and is rewritten as three chained lanes; a wrong password rewrites nothing", async () => {
    const hash = legacyHash(LEGACY_PASSWORD);
    const user = await userWithPasswordHash(hash, "rehash");
    const client = testClient({ passwords: password.scryptHasher });

    const wrong = await client.call("POST", "/auth/login", {
      json: { email: user.email, password: "not-the-one-1" },
    });
    expect(wrong.status).toBe(401);
    expect(await storedPasswordHash(user.id)).toBe(hash);

    const res = await client.call("POST", "/auth/login", {
      json: { email: user.email, password: LEGACY_PASSWORD },
    });
    expect(res.status).toBe(200);
    await vi.waitFor(
      async () => expect(await storedPasswordHash(user.id)).toMatch(/^\$scrypt\$ln=15,r=8,p=1,k=3\$/),
      {
        timeout: 10_000,
      },
    );
    const rewritten = (await storedPasswordHash(user.id))!;
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
    expect(await storedPasswordHash(user.id)).toBe(rewritten);
  }, 30_000);
});
